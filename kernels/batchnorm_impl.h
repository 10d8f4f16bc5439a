/* Body of the batchnorm family, included by batchnorm.c once per element type.
 * Expects the type macros of gc_template.h (FT, SFX).
 *
 * Layout: x[N,C] row-major, so a feature is a column. Every pass walks whole rows (contiguous,
 * vectorised over C) and keeps per-feature accumulators in double. For threads the rows are
 * cut into chunks: each chunk sums into its own slot of `work`, the slots are then added per
 * feature in chunk order (deterministic for a given nwork), and a last pass over the same row
 * chunks writes the output. One parallel region, three worksharing loops.
 *
 * Statistics: exact two-pass mean / M2 over blocks of GC_BN_BLOCK rows (the second pass hits
 * cache, so x is read from memory once), merged with Chan et al.'s update. A one-pass shifted
 * sum (shift = first row) was 1e-12 off the reference in float64 when that row was an outlier.
 */

#ifndef GC_BN_HELPERS
#define GC_BN_HELPERS
/* Number of row chunks: 1 (serial, no thread start-up) below GC_PARALLEL_MIN elements. */
#define GC_BN_BLOCK 16  /* rows per two-pass statistics block */
#define GC_BN_TILE 256  /* features per block accumulator tile (2 x 2 KiB on the stack) */
/* row chunks of the eval forward (no scratch slots involved) */
#define GC_BN_EVAL_CHUNKS 64
static int64_t gc_bn_chunks(int64_t N, int64_t C, int64_t nwork) {
    if (N * C < GC_PARALLEL_MIN || nwork < 2) return 1;
    int64_t k = nwork;
    if (k > N / 8) k = N / 8; /* at least 8 rows a chunk */
    return k < 1 ? 1 : k;
}
#endif

/* rows [r0, r1): per-feature mean (mo) and sum of squared deviations M2 (qo), in double.
 * Blocks of GC_BN_BLOCK rows get an exact two-pass mean/M2 (the block is in cache for the
 * second pass), merged into the running values with Chan et al.'s update; features go in
 * tiles of GC_BN_TILE so the block accumulators live on the stack. */
GC_CLONES static void GC_NAME(gc_bn_stats_rows)(const FT *x, int64_t r0, int64_t r1, int64_t C,
                                                double *mo, double *qo) {
    double bs[GC_BN_TILE], bq[GC_BN_TILE];
    for (int64_t c0 = 0; c0 < C; c0 += GC_BN_TILE) {
        const int64_t w = C - c0 < GC_BN_TILE ? C - c0 : GC_BN_TILE;
        double *m = mo + c0, *q = qo + c0;
        for (int64_t j = 0; j < w; ++j) m[j] = q[j] = 0.0;
        int64_t n = 0;
        for (int64_t rb = r0; rb < r1; rb += GC_BN_BLOCK) {
            const int64_t re = rb + GC_BN_BLOCK < r1 ? rb + GC_BN_BLOCK : r1;
            for (int64_t j = 0; j < w; ++j) bs[j] = bq[j] = 0.0;
            for (int64_t r = rb; r < re; ++r) {
                const FT *xr = x + r * C + c0;
#pragma omp simd
                for (int64_t j = 0; j < w; ++j) bs[j] += (double)xr[j];
            }
            const double nb = (double)(re - rb), inv = 1.0 / nb;
#pragma omp simd
            for (int64_t j = 0; j < w; ++j) bs[j] *= inv; /* block mean */
            for (int64_t r = rb; r < re; ++r) {
                const FT *xr = x + r * C + c0;
#pragma omp simd
                for (int64_t j = 0; j < w; ++j) {
                    const double d = (double)xr[j] - bs[j];
                    bq[j] += d * d;
                }
            }
            const double na = (double)n, fb = nb / (na + nb), fab = na * nb / (na + nb);
#pragma omp simd
            for (int64_t j = 0; j < w; ++j) {
                const double delta = bs[j] - m[j];
                m[j] += delta * fb;
                q[j] += bq[j] + delta * delta * fab;
            }
            n += re - rb;
        }
    }
}

/* rows [r0, r1): y = (x - mean) * scale + beta, in double, rounded once */
GC_CLONES static void GC_NAME(gc_bn_affine_rows)(const FT *x, int64_t r0, int64_t r1, int64_t C,
                                                 const double *mD, const double *sD,
                                                 const FT *beta, FT *y) {
    for (int64_t r = r0; r < r1; ++r) {
        const FT *xr = x + r * C;
        FT *yr = y + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c)
            yr[c] = (FT)(((double)xr[c] - mD[c]) * sD[c] + (double)beta[c]);
    }
}

int GC_NAME(gc_batchnorm_forward_train)(const FT *x, int64_t N, int64_t C, const FT *gamma,
                                        const FT *beta, FT *running_mean, FT *running_var,
                                        double momentum, double eps, FT *y, FT *mean,
                                        FT *inv_std, double *work, int64_t nwork) {
    if (N < 2 || C < 0 || nwork < 1) return GC_EBADSIZE;
    if (C == 0) return GC_OK;
    const int64_t nch = gc_bn_chunks(N, C, nwork);
    double *mD = work + nwork * 2 * C; /* per-feature mean and gamma*inv_std */
    double *sD = mD + C;
    const double dN = (double)N;
    const double unbias = dN / (dN - 1.0);

    const int team = gc_par_team(nch, gc_par_big(N * C, GC_PARALLEL_MIN));
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
        /* pass 1: per-chunk mean and M2 */
#pragma omp for schedule(static)
        for (int64_t k = 0; k < nch; ++k)
            GC_NAME(gc_bn_stats_rows)(x, N * k / nch, N * (k + 1) / nch, C, work + k * 2 * C,
                                      work + k * 2 * C + C);
        /* merge the chunks in order; statistics, running stats, affine coefficients */
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; ++c) {
            double mu = 0.0, m2 = 0.0, n = 0.0;
            for (int64_t k = 0; k < nch; ++k) {
                const double nb = (double)(N * (k + 1) / nch - N * k / nch);
                const double delta = work[k * 2 * C + c] - mu;
                mu += delta * (nb / (n + nb));
                m2 += work[k * 2 * C + C + c] + delta * delta * (n * nb / (n + nb));
                n += nb;
            }
            const double var = m2 / dN; /* biased */
            const double istd = 1.0 / sqrt(var + eps);
            mean[c] = (FT)mu;
            inv_std[c] = (FT)istd;
            running_mean[c] = (FT)((1.0 - momentum) * (double)running_mean[c] + momentum * mu);
            running_var[c] =
                (FT)((1.0 - momentum) * (double)running_var[c] + momentum * var * unbias);
            mD[c] = mu;
            sD[c] = (double)gamma[c] * istd;
        }
        /* pass 2: y = (x - mean) * gamma inv_std + beta */
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nch; ++k)
            GC_NAME(gc_bn_affine_rows)(x, N * k / nch, N * (k + 1) / nch, C, mD, sD, beta, y);
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
    return GC_OK;
}

int GC_NAME(gc_batchnorm_forward_eval)(const FT *x, int64_t N, int64_t C, const FT *gamma,
                                       const FT *beta, const FT *running_mean,
                                       const FT *running_var, double eps, FT *y, double *work) {
    if (N < 0 || C < 0) return GC_EBADSIZE;
    if (C == 0 || N == 0) return GC_OK;
    double *mD = work, *sD = work + C; /* running_mean, gamma / sqrt(running_var + eps) */
    for (int64_t c = 0; c < C; ++c) {
        mD[c] = (double)running_mean[c];
        sD[c] = (double)gamma[c] / sqrt((double)running_var[c] + eps);
    }
    const int64_t nch = gc_bn_chunks(N, C, GC_BN_EVAL_CHUNKS);
    const int team = gc_par_team(nch, gc_par_big(N * C, GC_PARALLEL_MIN));
    (void)team; /* unused without OpenMP */
#pragma omp parallel for schedule(static) num_threads(team) if (team > 1)
    for (int64_t k = 0; k < nch; ++k)
        GC_NAME(gc_bn_affine_rows)(x, N * k / nch, N * (k + 1) / nch, C, mD, sD, beta, y);
    return GC_OK;
}

/* dx = gamma inv_std / N (N dy - S_dy - xhat S_dyxhat) is written as the per-feature affine map
 * dx = a dy + b (x - mean) + e with a = gamma inv_std, b = -a inv_std^2 S2 / N, e = -a S_dy / N,
 * where S2 = sum dy (x - mean) (so S_dyxhat = inv_std S2): the second pass is 2 FMAs.
 * The elementwise passes run in double and round once, as the reference: with small N the
 * terms of dx cancel (N = 2: to ~1e-4 of their size), which float arithmetic would expose. */
/* rows [r0, r1): S_dy = sum dy, S2 = sum dy (x - mean) per feature, into s1, s2 */
GC_CLONES static void GC_NAME(gc_bn_bwd_sums_rows)(const FT *dy, const FT *x, int64_t r0,
                                                   int64_t r1, int64_t C, const FT *mean,
                                                   double *s1, double *s2) {
    for (int64_t c = 0; c < C; ++c) s1[c] = s2[c] = 0.0;
    for (int64_t r = r0; r < r1; ++r) {
        const FT *xr = x + r * C, *dyr = dy + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
            const double g = (double)dyr[c];
            s1[c] += g;
            s2[c] += g * ((double)xr[c] - (double)mean[c]);
        }
    }
}

/* rows [r0, r1): dx = a dy + (b (x - mean) + e), in double, rounded once */
GC_CLONES static void GC_NAME(gc_bn_bwd_dx_rows)(const FT *dy, const FT *x, int64_t r0,
                                                 int64_t r1, int64_t C, const FT *mean,
                                                 const double *aD, const double *bD,
                                                 const double *eD, FT *dx) {
    for (int64_t r = r0; r < r1; ++r) {
        const FT *xr = x + r * C, *dyr = dy + r * C;
        FT *dxr = dx + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c)
            dxr[c] = (FT)(aD[c] * (double)dyr[c] +
                          (bD[c] * ((double)xr[c] - (double)mean[c]) + eD[c]));
    }
}

int GC_NAME(gc_batchnorm_backward)(const FT *dy, const FT *x, int64_t N, int64_t C,
                                   const FT *gamma, const FT *mean, const FT *inv_std, FT *dx,
                                   FT *dgamma, FT *dbeta, double *work, int64_t nwork) {
    if (N < 0 || C < 0 || nwork < 1) return GC_EBADSIZE;
    if (C == 0 || N == 0) return GC_OK; /* sums are 0: dgamma, dbeta unchanged */
    const int64_t nch = gc_bn_chunks(N, C, nwork);
    double *aD = work + nwork * 2 * C; /* the 3C coefficients fit in the 4C doubles left */
    double *bD = aD + C;
    double *eD = bD + C;
    const double dN = (double)N;

    const int team = gc_par_team(nch, gc_par_big(N * C, GC_PARALLEL_MIN));
    gc_par_clock clk;
    gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static)
        for (int64_t k = 0; k < nch; ++k)
            GC_NAME(gc_bn_bwd_sums_rows)(dy, x, N * k / nch, N * (k + 1) / nch, C, mean,
                                         work + k * 2 * C, work + k * 2 * C + C);
#pragma omp for schedule(static)
        for (int64_t c = 0; c < C; ++c) {
            double sdy, s2;
            gc_par_slot_sums(work, nch, C, c, &sdy, &s2);
            const double istd = (double)inv_std[c];
            const double sdyx = s2 * istd;
            /* as the reference: the float64 sum is cast to the dtype, then added */
            dbeta[c] = dbeta[c] + (FT)sdy;
            dgamma[c] = dgamma[c] + (FT)sdyx;
            const double a = (double)gamma[c] * istd;
            aD[c] = a;
            bD[c] = -a * istd * sdyx / dN;
            eD[c] = -a * sdy / dN;
        }
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nch; ++k)
            GC_NAME(gc_bn_bwd_dx_rows)(dy, x, N * k / nch, N * (k + 1) / nch, C, mean, aD, bD,
                                       eD, dx);
        GC_PAR_OWN_DONE(&clk);
    }
    gc_par_finish(&clk);
    return GC_OK;
}
