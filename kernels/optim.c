/* Optimizer family: SGD, RMSprop, AdaGrad, Adam/AdamW (amsgrad), each one fused pass over
 * flat buffers. One body (optim_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gc_parallel.h"
#include "gradcore/optim.h"

#define T float
#define SFX f32
#define GC_SQRT sqrtf
#define GC_FABS fabsf
#include "optim_impl.h"
#undef T
#undef SFX
#undef GC_SQRT
#undef GC_FABS

#define T double
#define SFX f64
#define GC_SQRT sqrt
#define GC_FABS fabs
#include "optim_impl.h"
#undef T
#undef SFX
#undef GC_SQRT
#undef GC_FABS
