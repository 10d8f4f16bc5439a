/* LayerNorm family (last axis of [N,C]): forward, backward.
 * One body (layernorm_impl.h) generated for float and double. */
#include <math.h>

#include "gc_clones.h"
#include "gradcore/layernorm.h"
#include "gc_parallel.h"

#define GC_TEMPLATE "layernorm_impl.h"
#include "gc_template.h"
