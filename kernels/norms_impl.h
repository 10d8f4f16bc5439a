/* Body of the norms family, included by norms.c once per element type.
 * Expects: T (element type), SFX (name suffix token: f32 / f64). */

#define GC_CAT_(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define GC_NAME(base) GC_CAT(base, SFX)

/* Check offsets once so no kernel below can read out of bounds. */
static int GC_NAME(check_offsets)(const int64_t *offsets, int64_t nseg) {
    if (nseg < 0 || offsets[0] != 0) return GC_EBADSIZE;
    for (int64_t s = 0; s < nseg; ++s)
        if (offsets[s + 1] < offsets[s]) return GC_EBADSIZE;
    return GC_OK;
}

/* Count non-finite elements of x[0:n]; only called for a segment whose sum is not finite,
 * so the common path is a single pass. */
static int64_t GC_NAME(count_nonfinite)(const T *x, int64_t n) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) c += !isfinite(x[i]);
    return c;
}

/* Sum of squares in double: float32 gradients of 1e7 elements lose ~3 digits in a float sum. */
static double GC_NAME(sumsq_range)(const T *x, int64_t n) {
    double s = 0.0;
    if (n >= GC_PARALLEL_MIN) {
#pragma omp parallel for simd reduction(+ : s) schedule(static)
        for (int64_t i = 0; i < n; ++i) s += (double)x[i] * (double)x[i];
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; ++i) s += (double)x[i] * (double)x[i];
    }
    return s;
}

int GC_NAME(gc_norms_segment_sumsq)(const T *x, const int64_t *offsets, int64_t nseg,
                                    double *sumsq, int64_t *nonfinite) {
    if (GC_NAME(check_offsets)(offsets, nseg) != GC_OK) return GC_EBADSIZE;
    for (int64_t s = 0; s < nseg; ++s) {
        const T *seg = x + offsets[s];
        const int64_t n = offsets[s + 1] - offsets[s];
        const double v = GC_NAME(sumsq_range)(seg, n);
        sumsq[s] = v;
        /* inf*inf = inf and NaN propagates, so a finite sum proves a finite segment. A finite
         * segment can still overflow double only beyond ~1e154 per element: then we count. */
        nonfinite[s] = isfinite(v) ? 0 : GC_NAME(count_nonfinite)(seg, n);
    }
    return GC_OK;
}

int GC_NAME(gc_norms_segment_absmax)(const T *x, const int64_t *offsets, int64_t nseg,
                                     double *absmax, int64_t *nonfinite) {
    if (GC_NAME(check_offsets)(offsets, nseg) != GC_OK) return GC_EBADSIZE;
    for (int64_t s = 0; s < nseg; ++s) {
        const T *seg = x + offsets[s];
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

void GC_NAME(gc_norms_scale)(T *x, int64_t n, T alpha) {
    if (n >= GC_PARALLEL_MIN) {
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; ++i) x[i] *= alpha;
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) x[i] *= alpha;
    }
}

/* clamp to [-clip, clip]; written with comparisons that leave NaN as NaN. */
void GC_NAME(gc_norms_clip_value)(T *x, int64_t n, T clip) {
    const T lo = -clip;
    for (int64_t i = 0; i < n; ++i) {
        const T v = x[i];
        x[i] = v > clip ? clip : (v < lo ? lo : v);
    }
}

#undef GC_NAME
#undef GC_CAT
#undef GC_CAT_
