/* LayerNorm family (last axis of [N,C]): forward, backward.
 * One body (layernorm_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gradcore/layernorm.h"
#include "gc_parallel.h"

#define FT float
#define SFX f32
#include "layernorm_impl.h"
#undef FT
#undef SFX

#define FT double
#define SFX f64
#include "layernorm_impl.h"
#undef FT
#undef SFX
