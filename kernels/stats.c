/* Stats family: the gradient monitor's one-pass statistics of an activation array
 * (act_stats) and the update/weight norms of the parameter arena (segment_delta_sumsq).
 * One body (stats_impl.h) generated for float and double. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gc_clones.h"
#include "gc_parallel.h"
#include "gc_segments.h"

#include "gradcore/stats.h"

/* The partial results of one piece of an act_stats pass (a thread's rows or columns). */
typedef struct {
    double s, ss, mn, mx;
    int64_t nsat;
} gc_stats_acc;

/* ---- the saturation test of float32 data in float lanes ---------------------------------
 * The contract evaluates it in double: (double)y * (1.0 - (double)y) < thr (sat 1),
 * 1.0 - (double)y * (double)y < thr (sat 2). As a function of the float32 y (in the order of
 * the float line, NaN aside) that double expression is non-decreasing below the apex (y = 0.5,
 * resp. 0) and non-increasing above it: the rounding of each operation is monotone, 1 - y is
 * exact for 2^-30 <= y <= 1 and for y < 0 or y > 1 the product is negative (its rounding never
 * crosses 0); y * y is exact. So the non-saturated floats are one interval [lo, hi] around the
 * apex (or none), found once per call by walking from the analytic roots to the float where
 * the double test flips, and a float32 element is saturated iff y < lo || y > hi in float
 * compares (false for NaN, as the double test). tests/c/stats_sat_exhaustive.c checks the
 * equivalence for all 2^32 float32 bit patterns at several thresholds. */

/* float32 <-> a uint32 key in the order of the float line (-0 and +0 adjacent) */
static uint32_t gc_stats_key(float y) {
    uint32_t u;
    memcpy(&u, &y, sizeof u);
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}
static float gc_stats_unkey(uint32_t k) {
    const uint32_t u = (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
    float y;
    memcpy(&y, &u, sizeof y);
    return y;
}
/* the contract's test, in double (-ffp-contract=off: no fma) */
static int gc_stats_sat_double(int sat, double thr, float y) {
    const double v = (double)y;
    return sat == 1 ? v * (1.0 - v) < thr : 1.0 - v * v < thr;
}
/* The boundary key of the non-saturated interval on one side of the apex key `ka` (not
 * saturated): from the guess, the last non-saturated key going away from the apex. */
static uint32_t gc_stats_edge(int sat, double thr, double guess, uint32_t ka, int up) {
    const uint32_t kend = gc_stats_key(up ? (float)INFINITY : -(float)INFINITY);
    uint32_t k = gc_stats_key((float)guess); /* guess is finite, not NaN */
    if (up ? k < ka : k > ka) k = ka;
    if (!gc_stats_sat_double(sat, thr, gc_stats_unkey(k))) {
        while (k != kend) { /* outwards while not saturated */
            const uint32_t k2 = up ? k + 1 : k - 1;
            if (gc_stats_sat_double(sat, thr, gc_stats_unkey(k2))) break;
            k = k2;
        }
    } else {
        while (gc_stats_sat_double(sat, thr, gc_stats_unkey(k))) k = up ? k - 1 : k + 1;
    } /* inwards while saturated: stops at ka at the latest */
    return k;
}
/* sat 1 or 2, thr >= 0 (not NaN): y is saturated iff y < *lo || y > *hi */
static void gc_stats_sat_bounds(int sat, double thr, float *lo, float *hi) {
    const float apex = sat == 1 ? 0.5f : 0.0f;
    if (gc_stats_sat_double(sat, thr, apex)) { /* thr above the maximum: every non-NaN y */
        *lo = (float)INFINITY;
        *hi = -(float)INFINITY;
        return;
    }
    double glo, ghi;
    if (sat == 1) {
        const double d = 1.0 - 4.0 * thr, r = d > 0.0 ? 0.5 * (1.0 - sqrt(d)) : 0.5;
        glo = r;
        ghi = 1.0 - r;
    } else {
        const double r = thr < 1.0 ? sqrt(1.0 - thr) : 0.0;
        glo = -r;
        ghi = r;
    }
    const uint32_t ka = gc_stats_key(apex);
    *lo = gc_stats_unkey(gc_stats_edge(sat, thr, glo, ka, 0));
    *hi = gc_stats_unkey(gc_stats_edge(sat, thr, ghi, ka, 1));
}

#define GC_TEMPLATE "stats_impl.h"
#include "gc_template.h"
