/* Body of the loss family, included by loss.c once per element type
 * (gc_template.h: FT, SFX).
 * Everything is computed in double (as the reference: logits.astype(float64)). */

/* exp-bound passes: threads pay off earlier than for pure streaming */
#define GC_LOSS_PAR_MIN ((int64_t)GC_PARALLEL_MIN / 8)

/* The cross-entropy reduction runs over fixed chunks: nch = the configured thread count above the threshold,
 * else 1, cut as OpenMP's schedule(static) cuts n iterations over nch threads (GCC's inline
 * rule), each chunk summed from 0 in order, the partials then added in chunk order. For 1 and 2
 * chunks that is exactly what `parallel for reduction(+)` computed; with 3 or more it is
 * deterministic (the OpenMP reduction added the partials in arrival order); and it does not
 * depend on how many threads actually run (gc_par_team). */
#ifndef GC_LOSS_HELPERS
#define GC_LOSS_HELPERS
static void gc_loss_chunk(int64_t n, int64_t nch, int64_t k, int64_t *lo, int64_t *hi) {
    int64_t q = n / nch, tt = n % nch;
    if (k < tt) {
        tt = 0;
        ++q;
    }
    *lo = q * k + tt;
    *hi = *lo + q;
}
static double gc_loss_sum(const double *part, int64_t nch) {
    double total = 0.0;
    for (int64_t k = 0; k < nch; ++k) total += part[k];
    return total;
}
/* run CHUNK(k, lo, hi) (which sets part[k]) for every chunk on team threads */
#define GC_LOSS_CHUNKS(n, nch, part, lo, hi, CHUNK)                                        \
    do {                                                                                   \
        if ((nch) == 1) {                                                                  \
            const int64_t lo = 0, hi = (n);                                                \
            (part)[0] = (CHUNK);                                                           \
            break;                                                                         \
        }                                                                                  \
        const int gc_team_ = gc_par_team((nch), 1);                                        \
        gc_par_clock gc_clk_;                                                              \
        gc_par_start(&gc_clk_, gc_team_);                                                  \
        _Pragma("omp parallel num_threads(gc_team_) if (gc_team_ > 1)")                    \
        {                                                                                  \
            _Pragma("omp for schedule(static) nowait")                                    \
            for (int64_t gc_k_ = 0; gc_k_ < (nch); ++gc_k_) {                              \
                int64_t lo, hi;                                                            \
                gc_loss_chunk((n), (nch), gc_k_, &lo, &hi);                                \
                (part)[gc_k_] = (CHUNK);                                                   \
            }                                                                              \
            GC_PAR_OWN_DONE(&gc_clk_);                                                     \
        }                                                                                  \
        gc_par_finish(&gc_clk_);                                                           \
    } while (0)
#endif

/* One row of softmax cross-entropy: returns logsumexp(z) - z[y]; writes the gradient row.
 * Three passes over a row that sits in L1: max, sum exp(z - m), gradient exp(z - lse). */
static double GC_NAME(xent_row)(const FT *zr, int64_t K, int64_t y, FT *dzr, double n) {
    double m = (double)zr[0];
    for (int64_t k = 1; k < K; ++k) {
        const double v = (double)zr[k];
        m = v > m ? v : m; /* a NaN anywhere makes the sum below NaN, as np.max would */
    }
    double s = 0.0;
    for (int64_t k = 0; k < K; ++k) s += exp((double)zr[k] - m);
    const double lse = m + log(s);
    if (dzr != NULL) {
        for (int64_t k = 0; k < K; ++k) {
            double g = exp((double)zr[k] - lse); /* softmax */
            if (k == y) g -= 1.0;                /* - onehot */
            dzr[k] = (FT)(g / n);
        }
    }
    return lse - (double)zr[y];
}

static double GC_NAME(xent_rows)(const FT *z, const int64_t *labels, int64_t K, FT *dz, double n,
                                 int64_t lo, int64_t hi) {
    double total = 0.0;
    for (int64_t i = lo; i < hi; ++i)
        total += GC_NAME(xent_row)(z + i * K, K, labels[i], dz != NULL ? dz + i * K : NULL, n);
    return total;
}

int GC_NAME(gc_loss_softmax_xent)(const FT *z, const int64_t *labels, int64_t N, int64_t K,
                                  FT *dz, double *loss) {
    if (N <= 0 || K < 0) return GC_EBADSIZE;
    for (int64_t i = 0; i < N; ++i)
        if (labels[i] < 0 || labels[i] >= K) return GC_EBADLABEL;
    const double n = (double)N;
    const int64_t nch = N * K >= GC_LOSS_PAR_MIN && N > 1 ? gc_max_threads() : 1;
    double part[GC_MAX_THREADS];
    GC_LOSS_CHUNKS(N, nch, part, lo, hi, GC_NAME(xent_rows)(z, labels, K, dz, n, lo, hi));
    *loss = gc_loss_sum(part, nch) / n;
    return GC_OK;
}

/* MSE and BCE keep OpenMP's `parallel for simd reduction`: GCC cuts and vectorises that loop in
 * its own way (an explicit chunking changed the float rounding of MSE at 2 threads), so these
 * two run on exactly the configured team above their thresholds, contention or not (their
 * result depends on the team; with 3 or more threads the partials are added in arrival order,
 * as before). They are one streaming pass, well below a training step. */
int GC_NAME(gc_loss_mse)(const FT *p, const FT *t, int64_t n, FT *dp, double *loss) {
    if (n <= 0) return GC_EBADSIZE;
    const double M = (double)n;
    const int nt = n >= GC_PARALLEL_MIN ? gc_max_threads() : 1;
    (void)nt; /* unused without OpenMP */
    double s = 0.0;
    if (dp != NULL) {
#pragma omp parallel for simd reduction(+ : s) schedule(static) num_threads(nt) if (n >= GC_PARALLEL_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double d = (double)p[i] - (double)t[i];
            s += d * d;
            dp[i] = (FT)(2.0 * d / M);
        }
    } else {
#pragma omp parallel for simd reduction(+ : s) schedule(static) num_threads(nt) if (n >= GC_PARALLEL_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double d = (double)p[i] - (double)t[i];
            s += d * d;
        }
    }
    *loss = s / M;
    return GC_OK;
}

/* loss term max(z,0) - z t + log1p(e) and sigmoid(z) share e = exp(-|z|) <= 1 (no overflow) */
int GC_NAME(gc_loss_bce_with_logits)(const FT *z, const FT *t, int64_t n, FT *dz, double *loss) {
    if (n <= 0) return GC_EBADSIZE;
    const double M = (double)n;
    const int nt = n >= GC_LOSS_PAR_MIN ? gc_max_threads() : 1;
    (void)nt;
    double s = 0.0;
    if (dz != NULL) {
#pragma omp parallel for simd reduction(+ : s) schedule(static) num_threads(nt) if (n >= GC_LOSS_PAR_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double zi = (double)z[i], ti = (double)t[i];
            const double e = exp(-fabs(zi));
            s += (zi > 0 ? zi : 0.0) - zi * ti + log1p(e);
            const double sg = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            dz[i] = (FT)((sg - ti) / M);
        }
    } else {
#pragma omp parallel for simd reduction(+ : s) schedule(static) num_threads(nt) if (n >= GC_LOSS_PAR_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double zi = (double)z[i], ti = (double)t[i];
            s += (zi > 0 ? zi : 0.0) - zi * ti + log1p(exp(-fabs(zi)));
        }
    }
    *loss = s / M;
    return GC_OK;
}

#undef GC_LOSS_PAR_MIN
