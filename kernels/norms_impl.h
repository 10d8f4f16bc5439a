/* Body of the norms family, included by norms.c once per element type.
 * Expects the type macros of gc_template.h (FT, SFX). */

/* Count non-finite elements of x[0:n]; only called for a segment whose sum is not finite,
 * so the common path is a single pass. */
static int64_t GC_NAME(count_nonfinite)(const FT *x, int64_t n) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) c += !isfinite(x[i]);
    return c;
}

/* Sum of squares in double (float32 gradients of 1e7 elements lose ~3 digits in a float sum)
 * of x[lo:hi). */
GC_CLONES static double GC_NAME(sumsq_range)(const FT *x, int64_t lo, int64_t hi) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; ++i) s += (double)x[i] * (double)x[i];
    return s;
}

/* One contiguous chunk [c0, c1) of the flat buffer: the segments strictly inside it get their
 * sums written directly; the first and last segments it touches (which may continue in the
 * neighbouring chunks) return their partial sums in *pf / *pl, with their indices. */
static void GC_NAME(sumsq_chunk)(const FT *x, const int64_t *offsets, int64_t nseg, int64_t c0,
                                 int64_t c1, double *sumsq, int64_t *sf, double *pf,
                                 int64_t *sl, double *pl) {
    const int64_t s0 = gc_segment_of(offsets, nseg, c0);
    const int64_t s1 = gc_segment_of(offsets, nseg, c1 - 1);
    *sf = s0;
    *sl = s1;
    *pf = *pl = 0.0;
    for (int64_t s = s0; s <= s1; ++s) {
        const int64_t a = offsets[s] > c0 ? offsets[s] : c0;
        const int64_t b = offsets[s + 1] < c1 ? offsets[s + 1] : c1;
        const double v = a < b ? GC_NAME(sumsq_range)(x, a, b) : 0.0;
        if (s == s0) *pf = v;
        else if (s == s1) *pl = v;
        else sumsq[s] = v;
    }
}

#ifndef GC_NORMS_MAX_CHUNKS
#define GC_NORMS_MAX_CHUNKS 256
#endif

int GC_NAME(gc_norms_segment_sumsq)(const FT *x, const int64_t *offsets, int64_t nseg,
                                    double *sumsq, int64_t *nonfinite) {
    if (gc_check_offsets(offsets, nseg) != GC_OK) return GC_EBADSIZE;
    const int64_t P = nseg > 0 ? offsets[nseg] : 0;
    for (int64_t s = 0; s < nseg; ++s) sumsq[s] = 0.0;
    if (P > 0) {
        /* The buffer is cut into equal chunks (not per segment): one fork/join for all the
         * segments, and small segments are spread over the threads too (one parallel region
         * per segment had left 20 segments of 5e4 elements all on one thread). Partial sums of
         * a segment that crosses chunks are added in chunk order (deterministic for a given
         * thread count, as any parallel reduction). */
        int64_t nch = 1;
        if (P >= GC_PARALLEL_MIN && !gc_par_nested()) nch = gc_max_threads();
        if (nch > GC_NORMS_MAX_CHUNKS) nch = GC_NORMS_MAX_CHUNKS;
        int64_t sf[GC_NORMS_MAX_CHUNKS], sl[GC_NORMS_MAX_CHUNKS];
        double pf[GC_NORMS_MAX_CHUNKS], pl[GC_NORMS_MAX_CHUNKS];
        if (nch > 1) {
            const int team = gc_par_team(nch, gc_par_big(P, GC_PARALLEL_MIN));
            gc_par_clock clk;
            gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
            {
#pragma omp for schedule(static) nowait
            for (int64_t k = 0; k < nch; ++k) {
                int64_t c0, c1;
                gc_par_chunk16(k, nch, P, &c0, &c1);
                if (c0 < c1) {
                    GC_NAME(sumsq_chunk)(x, offsets, nseg, c0, c1, sumsq, &sf[k], &pf[k], &sl[k],
                                         &pl[k]);
                } else {
                    sf[k] = sl[k] = -1;
                }
            }
            GC_PAR_OWN_DONE(&clk);
            }
            gc_par_finish(&clk);
        } else {
            GC_NAME(sumsq_chunk)(x, offsets, nseg, 0, P, sumsq, &sf[0], &pf[0], &sl[0], &pl[0]);
        }
        for (int64_t k = 0; k < nch; ++k) {
            if (sf[k] < 0) continue;
            sumsq[sf[k]] += pf[k];
            if (sl[k] != sf[k]) sumsq[sl[k]] += pl[k];
        }
    }
    /* inf*inf = inf and NaN propagates, so a finite sum proves a finite segment. A finite
     * segment can still overflow double only beyond ~1e154 per element: then we count. */
    for (int64_t s = 0; s < nseg; ++s)
        nonfinite[s] = isfinite(sumsq[s])
                           ? 0
                           : GC_NAME(count_nonfinite)(x + offsets[s], offsets[s + 1] - offsets[s]);
    return GC_OK;
}

int GC_NAME(gc_norms_segment_absmax)(const FT *x, const int64_t *offsets, int64_t nseg,
                                     double *absmax, int64_t *nonfinite) {
    if (gc_check_offsets(offsets, nseg) != GC_OK) return GC_EBADSIZE;
    for (int64_t s = 0; s < nseg; ++s) {
        const FT *seg = x + offsets[s];
        const int64_t n = offsets[s + 1] - offsets[s];
        double m = 0.0;
        int64_t bad = 0, nan = 0;
        for (int64_t i = 0; i < n; ++i) {
            const double a = fabs((double)seg[i]);
            bad += !isfinite(a);
            nan += isnan(a);
            m = a > m ? a : m;
        }
        absmax[s] = nan ? (double)NAN : m; /* like torch: NaN anywhere makes the inf-norm NaN */
        nonfinite[s] = bad;
    }
    return GC_OK;
}

GC_CLONES static void GC_NAME(scale_range)(FT *x, int64_t lo, int64_t hi, FT alpha) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) x[i] *= alpha;
}

void GC_NAME(gc_norms_scale)(FT *x, int64_t n, FT alpha) {
    GC_PARALLEL_RANGES(n, GC_PARALLEL_MIN, lo, hi, GC_NAME(scale_range)(x, lo, hi, alpha));
}

/* clamp to [-clip, clip]; written with comparisons that leave NaN as NaN. */
void GC_NAME(gc_norms_clip_value)(FT *x, int64_t n, FT clip) {
    const FT lo = -clip;
    for (int64_t i = 0; i < n; ++i) {
        const FT v = x[i];
        x[i] = v > clip ? clip : (v < lo ? lo : v);
    }
}
