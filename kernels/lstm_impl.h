/* Body of the lstm family, included by lstm.c once per element type.
 * Expects: FT (element type), SFX (f32 / f64), FT_EXP, FT_TANH (libm for FT), FT_GEMM.
 *
 * Batch-first layout: the row of step t of sequence n is n*T + t, so the per-step slices of
 * x / gates / hs / cs are strided (row stride T*D, T*4H, T*H): the GEMMs take those strides
 * as lda/ldc instead of copying. GEMMs run outside any parallel region of this file (gc_gemm
 * splits large products over its own threads); only the fused elementwise passes use
 * `omp parallel for`, above GC_LSTM_PAR_MIN elements per step.
 */

#define GC_CAT_(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define GC_NAME(base) GC_CAT(base, SFX)

#ifndef GC_LSTM_PAR_MIN
/* N*H elements per step above which the fused gate pass uses threads: each element costs
 * 4-5 exp/tanh (~50-100 ns), so a few thousand elements amortise the fork/join. */
#define GC_LSTM_PAR_MIN 2048
/* Column block of the db column sums (double accumulators on the stack). */
#define GC_LSTM_DB_BLOCK 128
#endif

/* σ(a) = 1/(1+e) for a >= 0, e/(1+e) for a < 0, with e = exp(-|a|) <= 1: never overflows
 * (same formula as the reference). */
static inline FT GC_NAME(gc_lstm_sigmoid)(FT a) {
    const FT e = FT_EXP(-(a < 0 ? -a : a));
    const FT r = (FT)1 / ((FT)1 + e);
    return a >= 0 ? r : e * r;
}

int GC_NAME(gc_lstm_forward)(const FT *x, int64_t N, int64_t T, int64_t D, int64_t H,
                             const FT *Wx, const FT *Wh, const FT *b, const FT *h0,
                             const FT *c0, FT *hs, FT *cs, FT *gates) {
    if (N < 0 || T < 1 || D < 0 || H < 1) return GC_EBADSIZE;
    if (N == 0) return GC_OK;
    const int64_t G = 4 * H, NT = N * T;
    /* input projections of every step at once: gates[N*T, 4H] = x[N*T, D] @ Wx */
    FT_GEMM(0, 0, NT, G, D, (FT)1, x, D > 0 ? D : 1, Wx, G, (FT)0, gates, G);
    for (int64_t t = 0; t < T; ++t) {
        const FT *hp = t ? hs + (t - 1) * H : h0;
        const FT *cp = t ? cs + (t - 1) * H : c0;
        const int64_t ldp = t ? T * H : H; /* row stride of h_{t-1}, c_{t-1} */
        /* a_t += h_{t-1} @ Wh, written into the strided [N, 4H] slice of step t */
        FT_GEMM(0, 0, N, G, H, (FT)1, hp, ldp, Wh, G, (FT)1, gates + t * G, T * G);
#pragma omp parallel for schedule(static) if (N * H >= GC_LSTM_PAR_MIN && N > 1)
        for (int64_t n = 0; n < N; ++n) {
            FT *a = gates + (n * T + t) * G;
            const FT *cpr = cp + n * ldp;
            FT *cr = cs + (n * T + t) * H;
            FT *hr = hs + (n * T + t) * H;
            for (int64_t j = 0; j < H; ++j) {
                const FT i = GC_NAME(gc_lstm_sigmoid)(a[j] + b[j]);
                const FT f = GC_NAME(gc_lstm_sigmoid)(a[H + j] + b[H + j]);
                const FT g = FT_TANH(a[2 * H + j] + b[2 * H + j]);
                const FT o = GC_NAME(gc_lstm_sigmoid)(a[3 * H + j] + b[3 * H + j]);
                const FT c = f * cpr[j] + i * g;
                a[j] = i;
                a[H + j] = f;
                a[2 * H + j] = g;
                a[3 * H + j] = o;
                cr[j] = c;
                hr[j] = o * FT_TANH(c);
            }
        }
    }
    return GC_OK;
}

int GC_NAME(gc_lstm_backward)(const FT *dhs, const FT *dhT, const FT *dcT, const FT *x,
                              int64_t N, int64_t T, int64_t D, int64_t H, const FT *Wx,
                              const FT *Wh, const FT *h0, const FT *c0, const FT *hs,
                              const FT *cs, const FT *gates, FT *dx, FT *dWx, FT *dWh, FT *db,
                              FT *dh0, FT *dc0, double *dh_norm, double *dc_norm, FT *da,
                              FT *hprev) {
    if (N < 0 || T < 1 || D < 0 || H < 1) return GC_EBADSIZE;
    if (N == 0) {
        for (int64_t t = 0; t < T; ++t) dh_norm[t] = dc_norm[t] = 0.0;
        return GC_OK;
    }
    const int64_t G = 4 * H, NT = N * T;
    /* dh0 / dc0 carry dL/dh_{t} (recurrent part) and dL/dc_{t} into step t during the loop */
    if (dhT) memcpy(dh0, dhT, (size_t)(N * H) * sizeof(FT));
    else memset(dh0, 0, (size_t)(N * H) * sizeof(FT));
    if (dcT) memcpy(dc0, dcT, (size_t)(N * H) * sizeof(FT));
    else memset(dc0, 0, (size_t)(N * H) * sizeof(FT));

    for (int64_t t = T - 1; t >= 0; --t) {
        const FT *cp = t ? cs + (t - 1) * H : c0;
        const int64_t ldp = t ? T * H : H;
        double nh = 0.0, nc = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : nh, nc) \
    if (N * H >= GC_LSTM_PAR_MIN && N > 1)
        for (int64_t n = 0; n < N; ++n) {
            const FT *gt = gates + (n * T + t) * G;
            const FT *ct = cs + (n * T + t) * H;
            const FT *dht = dhs + (n * T + t) * H;
            const FT *cpr = cp + n * ldp;
            FT *dar = da + (n * T + t) * G;
            FT *dhc = dh0 + n * H;
            FT *dcc = dc0 + n * H;
            for (int64_t j = 0; j < H; ++j) {
                const FT i = gt[j], f = gt[H + j], g = gt[2 * H + j], o = gt[3 * H + j];
                const FT tc = FT_TANH(ct[j]);
                const FT dh = dht[j] + dhc[j];                   /* total dL/dh_t */
                const FT dc = dcc[j] + dh * o * ((FT)1 - tc * tc); /* total dL/dc_t */
                nh += (double)dh * (double)dh;
                nc += (double)dc * (double)dc;
                const FT do_ = dh * tc, di = dc * g, dg = dc * i, df = dc * cpr[j];
                dar[j] = di * (i * ((FT)1 - i));
                dar[H + j] = df * (f * ((FT)1 - f));
                dar[2 * H + j] = dg * ((FT)1 - g * g);
                dar[3 * H + j] = do_ * (o * ((FT)1 - o));
                dcc[j] = dc * f; /* into c_{t-1} */
            }
        }
        dh_norm[t] = sqrt(nh);
        dc_norm[t] = sqrt(nc);
        /* into h_{t-1}: da_t @ Wh^T (da_t is the strided [N, 4H] slice of step t) */
        FT_GEMM(0, 1, N, H, G, (FT)1, da + t * G, T * G, Wh, G, (FT)0, dh0, H);
    }

    /* weight gradients as a few large GEMMs over all N*T rows */
    for (int64_t n = 0; n < N; ++n) {
        memcpy(hprev + n * T * H, h0 + n * H, (size_t)H * sizeof(FT));
        if (T > 1)
            memcpy(hprev + n * T * H + H, hs + n * T * H, (size_t)((T - 1) * H) * sizeof(FT));
    }
    if (D > 0) {
        FT_GEMM(1, 0, D, G, NT, (FT)1, x, D, da, G, (FT)1, dWx, G);   /* dWx += X^T dA */
        FT_GEMM(0, 1, NT, D, G, (FT)1, da, G, Wx, G, (FT)0, dx, D);   /* dx = dA Wx^T */
    }
    FT_GEMM(1, 0, H, G, NT, (FT)1, hprev, H, da, G, (FT)1, dWh, G);   /* dWh += Hprev^T dA */

    /* db += column sums of dA, in double; threads take column blocks (deterministic) */
    const int64_t nblk = (G + GC_LSTM_DB_BLOCK - 1) / GC_LSTM_DB_BLOCK;
#pragma omp parallel for schedule(static) if (NT * G >= GC_PARALLEL_MIN && nblk > 1)
    for (int64_t blk = 0; blk < nblk; ++blk) {
        const int64_t j0 = blk * GC_LSTM_DB_BLOCK;
        const int64_t w = G - j0 < GC_LSTM_DB_BLOCK ? G - j0 : GC_LSTM_DB_BLOCK;
        double acc[GC_LSTM_DB_BLOCK];
        for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
        for (int64_t r = 0; r < NT; ++r) {
            const FT *row = da + r * G + j0;
#pragma omp simd
            for (int64_t j = 0; j < w; ++j) acc[j] += (double)row[j];
        }
        for (int64_t j = 0; j < w; ++j) db[j0 + j] = db[j0 + j] + (FT)acc[j];
    }
    return GC_OK;
}

#undef GC_NAME
#undef GC_CAT
#undef GC_CAT_
