/* Stats family: the gradient monitor's one-pass statistics of an activation array
 * (act_stats) and the update/weight norms of the parameter arena (segment_delta_sumsq).
 * One body (stats_impl.h) generated for float and double. */
#include <float.h>
#include <math.h>

#include "gc_clones.h"
#include "gc_parallel.h"

#include "gradcore/stats.h"

/* The partial results of one piece of an act_stats pass (a thread's rows or columns). */
typedef struct {
    double s, ss, mn, mx;
    int64_t nsat;
} gc_stats_acc;

#define T float
#define SFX f32
#include "stats_impl.h"
#undef T
#undef SFX

#define T double
#define SFX f64
#include "stats_impl.h"
#undef T
#undef SFX
