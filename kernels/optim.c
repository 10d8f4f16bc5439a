/* Optimizer family: SGD, RMSprop, AdaGrad, Adam/AdamW (amsgrad), each one fused pass over
 * flat buffers. One body (optim_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gc_parallel.h"
#include "gradcore/optim.h"

#define GC_TEMPLATE "optim_impl.h"
#include "gc_template.h"
