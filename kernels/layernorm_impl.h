/* Body of the layernorm family, included by layernorm.c once per element type.
 * Expects the type macros of gc_template.h (FT, SFX).
 *
 * A row is contiguous and small (it fits in L1 for any realistic C), so the statistics use two
 * passes over the row in double (as the reference) at the price of one read from memory.
 * Threads split the rows; the column sums of the backward (dgamma, dbeta) go to per-chunk
 * slots of `work`, added in chunk order afterwards (deterministic for a given nwork).
 */

#ifndef GC_LN_HELPERS
#define GC_LN_HELPERS
#define GC_LN_FWD_CHUNKS 64 /* forward row chunks (no scratch slots involved) */
static int64_t gc_ln_chunks(int64_t N, int64_t C, int64_t nwork) {
    if (N * C < GC_PARALLEL_MIN || nwork < 2) return 1;
    int64_t k = nwork;
    if (k > N) k = N;
    return k < 1 ? 1 : k;
}
#endif

GC_CLONES static void GC_NAME(gc_ln_fwd_rows)(const FT *x, int64_t r0, int64_t r1, int64_t C,
                                              const FT *gamma, const FT *beta, double eps,
                                              FT *y, FT *mean, FT *inv_std) {
    const double dC = (double)C;
    for (int64_t r = r0; r < r1; ++r) {
        const FT *xr = x + r * C;
        FT *yr = y + r * C;
        double s = 0.0, q = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; ++c) s += (double)xr[c];
        const double mu = s / dC;
#pragma omp simd reduction(+ : q)
        for (int64_t c = 0; c < C; ++c) {
            const double d = (double)xr[c] - mu;
            q += d * d;
        }
        const double istd = 1.0 / sqrt(q / dC + eps);
        mean[r] = (FT)mu;
        inv_std[r] = (FT)istd;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c)
            yr[c] = (FT)(((double)xr[c] - mu) * istd * (double)gamma[c] + (double)beta[c]);
    }
}

int GC_NAME(gc_layernorm_forward)(const FT *x, int64_t N, int64_t C, const FT *gamma,
                                  const FT *beta, double eps, FT *y, FT *mean, FT *inv_std) {
    if (N < 0 || C < 1) return GC_EBADSIZE;
    const int64_t nch = gc_ln_chunks(N, C, GC_LN_FWD_CHUNKS);
    const int team = gc_par_team(nch, gc_par_big(N * C, GC_PARALLEL_MIN));
    (void)team; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int64_t k = 0; k < nch; ++k)
        GC_NAME(gc_ln_fwd_rows)(x, N * k / nch, N * (k + 1) / nch, C, gamma, beta, eps, y, mean,
                                inv_std);
    return GC_OK;
}

/* With xhat = (x - mean) inv_std and g = dy gamma (the gradient at xhat), per row:
 * dx = inv_std / C (C g - sum g - xhat sum(g xhat)); dbeta += sum_rows dy,
 * dgamma += sum_rows dy xhat. The row sums and the column partials share one pass over the row,
 * dx is a second pass over the same (cached) row. */
/* rows [r0, r1): dx, and the column partials of dbeta (s1) and dgamma (s2) */
GC_CLONES static void GC_NAME(gc_ln_bwd_rows)(const FT *dy, const FT *x, int64_t r0, int64_t r1,
                                              int64_t C, const FT *gamma, const FT *mean,
                                              const FT *inv_std, FT *dx, double *s1,
                                              double *s2) {
    const double dC = (double)C;
    for (int64_t c = 0; c < C; ++c) s1[c] = s2[c] = 0.0;
    for (int64_t r = r0; r < r1; ++r) {
        const FT *xr = x + r * C, *dyr = dy + r * C;
        FT *dxr = dx + r * C;
        const double mu = (double)mean[r], istd = (double)inv_std[r];
        double sg = 0.0, sgx = 0.0;
#pragma omp simd reduction(+ : sg, sgx)
        for (int64_t c = 0; c < C; ++c) {
            const double d = (double)dyr[c];
            const double xh = ((double)xr[c] - mu) * istd;
            const double g = d * (double)gamma[c];
            s1[c] += d;
            s2[c] += d * xh;
            sg += g;
            sgx += g * xh;
        }
        const double k1 = istd / dC * sg, k2 = istd / dC * sgx;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
            const double xh = ((double)xr[c] - mu) * istd;
            dxr[c] = (FT)(istd * ((double)dyr[c] * (double)gamma[c]) - k1 - xh * k2);
        }
    }
}

int GC_NAME(gc_layernorm_backward)(const FT *dy, const FT *x, int64_t N, int64_t C,
                                   const FT *gamma, const FT *mean, const FT *inv_std, FT *dx,
                                   FT *dgamma, FT *dbeta, double *work, int64_t nwork) {
    if (N < 0 || C < 1 || nwork < 1) return GC_EBADSIZE;
    const int64_t nch = gc_ln_chunks(N, C, nwork);

    const int team = gc_par_team(nch, gc_par_big(N * C, GC_PARALLEL_MIN));
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static)
        for (int64_t k = 0; k < nch; ++k)
            GC_NAME(gc_ln_bwd_rows)(dy, x, N * k / nch, N * (k + 1) / nch, C, gamma, mean,
                                    inv_std, dx, work + k * 2 * C, work + k * 2 * C + C);
#pragma omp for schedule(static) nowait
        for (int64_t c = 0; c < C; ++c) {
            double a, b;
            gc_par_slot_sums(work, nch, C, c, &a, &b);
            dbeta[c] = dbeta[c] + (FT)a;
            dgamma[c] = dgamma[c] + (FT)b;
        }
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
    return GC_OK;
}
