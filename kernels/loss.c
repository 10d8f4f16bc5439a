/* Loss family: softmax cross-entropy (integer labels), MSE, BCE with logits; loss and
 * gradient in one pass, all math in double. One body (loss_impl.h) for float and double. */
#include <math.h>

#include "gradcore/loss.h"
#include "gc_parallel.h"

#define GC_TEMPLATE "loss_impl.h"
#include "gc_template.h"
