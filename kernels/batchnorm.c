/* BatchNorm family (features of [N,C]): train/eval forward, backward.
 * One body (batchnorm_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gradcore/batchnorm.h"
#include "gc_parallel.h"

#define FT float
#define SFX f32
#include "batchnorm_impl.h"
#undef FT
#undef SFX

#define FT double
#define SFX f64
#include "batchnorm_impl.h"
#undef FT
#undef SFX
