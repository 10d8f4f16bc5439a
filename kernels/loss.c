/* Loss family: softmax cross-entropy (integer labels), MSE, BCE with logits; loss and
 * gradient in one pass, all math in double. One body (loss_impl.h) for float and double. */
#include <math.h>

#include "gradcore/loss.h"
#include "gc_parallel.h"

#define T float
#define SFX f32
#include "loss_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "loss_impl.h"
#undef T
#undef SFX
