/* Norms family: per-segment sum of squares / abs-max with non-finite counts, scale, clip.
 * One body (norms_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gc_parallel.h"
#include "gc_segments.h"

#include "gradcore/norms.h"

#define T float
#define SFX f32
#include "norms_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "norms_impl.h"
#undef T
#undef SFX
