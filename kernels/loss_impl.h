/* Body of the loss family, included by loss.c once per element type (T, SFX).
 * Everything is computed in double (as the reference: logits.astype(float64)). */

#define GC_CAT_(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define GC_NAME(base) GC_CAT(base, SFX)

/* exp-bound passes: threads pay off earlier than for pure streaming */
#define GC_LOSS_PAR_MIN ((int64_t)GC_PARALLEL_MIN / 8)

/* One row of softmax cross-entropy: returns logsumexp(z) - z[y]; writes the gradient row.
 * Three passes over a row that sits in L1: max, sum exp(z - m), gradient exp(z - lse). */
static double GC_NAME(xent_row)(const T *zr, int64_t K, int64_t y, T *dzr, double n) {
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
            dzr[k] = (T)(g / n);
        }
    }
    return lse - (double)zr[y];
}

int GC_NAME(gc_loss_softmax_xent)(const T *z, const int64_t *labels, int64_t N, int64_t K,
                                  T *dz, double *loss) {
    if (N <= 0 || K < 0) return GC_EBADSIZE;
    for (int64_t i = 0; i < N; ++i)
        if (labels[i] < 0 || labels[i] >= K) return GC_EBADLABEL;
    const double n = (double)N;
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (N * K >= GC_LOSS_PAR_MIN && N > 1)
    for (int64_t i = 0; i < N; ++i)
        total += GC_NAME(xent_row)(z + i * K, K, labels[i], dz != NULL ? dz + i * K : NULL, n);
    *loss = total / n;
    return GC_OK;
}

int GC_NAME(gc_loss_mse)(const T *p, const T *t, int64_t n, T *dp, double *loss) {
    if (n <= 0) return GC_EBADSIZE;
    const double M = (double)n;
    double s = 0.0;
    if (dp != NULL) {
#pragma omp parallel for simd reduction(+ : s) schedule(static) if (n >= GC_PARALLEL_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double d = (double)p[i] - (double)t[i];
            s += d * d;
            dp[i] = (T)(2.0 * d / M);
        }
    } else {
#pragma omp parallel for simd reduction(+ : s) schedule(static) if (n >= GC_PARALLEL_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double d = (double)p[i] - (double)t[i];
            s += d * d;
        }
    }
    *loss = s / M;
    return GC_OK;
}

/* loss term max(z,0) - z t + log1p(e) and sigmoid(z) share e = exp(-|z|) <= 1 (no overflow) */
int GC_NAME(gc_loss_bce_with_logits)(const T *z, const T *t, int64_t n, T *dz, double *loss) {
    if (n <= 0) return GC_EBADSIZE;
    const double M = (double)n;
    double s = 0.0;
    if (dz != NULL) {
#pragma omp parallel for simd reduction(+ : s) schedule(static) if (n >= GC_LOSS_PAR_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double zi = (double)z[i], ti = (double)t[i];
            const double e = exp(-fabs(zi));
            s += (zi > 0 ? zi : 0.0) - zi * ti + log1p(e);
            const double sg = zi >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            dz[i] = (T)((sg - ti) / M);
        }
    } else {
#pragma omp parallel for simd reduction(+ : s) schedule(static) if (n >= GC_LOSS_PAR_MIN)
        for (int64_t i = 0; i < n; ++i) {
            const double zi = (double)z[i], ti = (double)t[i];
            s += (zi > 0 ? zi : 0.0) - zi * ti + log1p(exp(-fabs(zi)));
        }
    }
    *loss = s / M;
    return GC_OK;
}

#undef GC_LOSS_PAR_MIN
#undef GC_NAME
#undef GC_CAT
#undef GC_CAT_
