/* Norms family: per-segment sum of squares / abs-max with non-finite counts, scale, clip.
 * One body (norms_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gc_parallel.h"
#include "gc_segments.h"

#include "gradcore/norms.h"

#define GC_TEMPLATE "norms_impl.h"
#include "gc_template.h"
