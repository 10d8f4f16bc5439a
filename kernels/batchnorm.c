/* BatchNorm family (features of [N,C]): train/eval forward, backward.
 * One body (batchnorm_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gradcore/batchnorm.h"
#include "gc_parallel.h"

#define GC_TEMPLATE "batchnorm_impl.h"
#include "gc_template.h"
