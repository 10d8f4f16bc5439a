/* Private helpers of the kernels that walk a flat buffer cut into segments (norms, stats):
 * offsets has nseg + 1 entries, segment s is [offsets[s], offsets[s + 1]). Type-independent,
 * so defined once (they were copied per family and per element type). */
#ifndef GRADCORE_SEGMENTS_H
#define GRADCORE_SEGMENTS_H

#include "gradcore/common.h"

/* Check offsets once so no kernel can read out of bounds. */
static inline int gc_check_offsets(const int64_t *offsets, int64_t nseg) {
    if (nseg < 0 || offsets[0] != 0) return GC_EBADSIZE;
    for (int64_t s = 0; s < nseg; ++s)
        if (offsets[s + 1] < offsets[s]) return GC_EBADSIZE;
    return GC_OK;
}

/* The segment s with offsets[s] <= pos < offsets[s + 1] (pos < offsets[nseg]): the last one
 * whose start is <= pos, so never an empty segment. */
static inline int64_t gc_segment_of(const int64_t *offsets, int64_t nseg, int64_t pos) {
    int64_t lo = 0, hi = nseg - 1;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo + 1) / 2;
        if (offsets[mid] <= pos) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

#endif
