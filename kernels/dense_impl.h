/* Body of the dense family, included by dense.c once per element type.
 * Expects: T, SFX (f32 / f64) and the math of that type: GC_EXP, GC_EXPM1, GC_TANH, GC_FABS,
 * GC_ERFC, GC_GEMM. Every formula mirrors the reference backend (activations.py) operation by
 * operation, in the data type T (no reduction here except the bias gradient, in double). */

#define GC_CAT_(a, b) a##_##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define GC_NAME(base) GC_CAT(base, SFX)

/* ---- scalar activations: forward f(x) and derivative d(x, y), y = f(x) -----------------
 * Comparisons are written as the reference writes them so NaN takes the same branch:
 * relu forward keeps NaN (x < 0 is false), relu'(NaN) = 1, leaky'(NaN) = 0.01, elu'(NaN) = 1. */
GC_INLINE T GC_NAME(f_linear)(T x) { return x; }
GC_INLINE T GC_NAME(d_linear)(T x, T y) { (void)x; (void)y; return (T)1; }

GC_INLINE T GC_NAME(f_relu)(T x) { return x < 0 ? (T)0 : x; }
GC_INLINE T GC_NAME(d_relu)(T x, T y) { (void)y; return x <= 0 ? (T)0 : (T)1; }

GC_INLINE T GC_NAME(f_leaky_relu)(T x) { return x > 0 ? x : (T)0.01 * x; }
GC_INLINE T GC_NAME(d_leaky_relu)(T x, T y) { (void)y; return x > 0 ? (T)1 : (T)0.01; }

/* alpha = 1: alpha * expm1(min(x, 0)) == expm1(min(x, 0)) exactly. */
GC_INLINE T GC_NAME(f_elu)(T x) { return x > 0 ? x : GC_EXPM1(x > 0 ? (T)0 : x); }
GC_INLINE T GC_NAME(d_elu)(T x, T y) { (void)y; return x <= 0 ? GC_EXP(x > 0 ? (T)0 : x) : (T)1; }

/* stable: e = exp(-|x|) in (0, 1]; 1/(1+e) for x >= 0, e/(1+e) otherwise */
GC_INLINE T GC_NAME(sigm)(T x) {
    const T e = GC_EXP(-GC_FABS(x));
    return x >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
}
GC_INLINE T GC_NAME(f_sigmoid)(T x) { return GC_NAME(sigm)(x); }
GC_INLINE T GC_NAME(d_sigmoid)(T x, T y) { (void)x; return y * ((T)1 - y); }

GC_INLINE T GC_NAME(f_tanh)(T x) { return GC_TANH(x); }
GC_INLINE T GC_NAME(d_tanh)(T x, T y) { (void)x; return (T)1 - y * y; }

GC_INLINE T GC_NAME(f_silu)(T x) { return x * GC_NAME(sigm)(x); }
GC_INLINE T GC_NAME(d_silu)(T x, T y) {
    (void)y;
    const T s = GC_NAME(sigm)(x);
    return s * ((T)1 + x * ((T)1 - s));
}

/* gelu = x Phi(x), Phi(x) = 0.5 erfc(-x/sqrt2) (accurate left tail, unlike 1 + erf) */
GC_INLINE T GC_NAME(f_gelu)(T x) {
    return ((T)0.5 * x) * GC_ERFC(-x * (T)(1.0 / 1.4142135623730951));
}
GC_INLINE T GC_NAME(d_gelu)(T x, T y) {
    (void)y;
    const T cdf = (T)0.5 * GC_ERFC(-x * (T)(1.0 / 1.4142135623730951));
    const T pdf = GC_EXP((T)-0.5 * (x * x)) * (T)(1.0 / 2.5066282746310002); /* 1/sqrt(2 pi) */
    return cdf + x * pdf;
}

/* One specialised loop per activation (a switch outside the loop, never inside). */
#define GC_ACT_SWITCH(act, CASE)                    \
    switch (act) {                                  \
    case GC_ACT_LINEAR: CASE(linear); break;        \
    case GC_ACT_RELU: CASE(relu); break;            \
    case GC_ACT_LEAKY_RELU: CASE(leaky_relu); break; \
    case GC_ACT_ELU: CASE(elu); break;              \
    case GC_ACT_SIGMOID: CASE(sigmoid); break;      \
    case GC_ACT_TANH: CASE(tanh); break;            \
    case GC_ACT_SILU: CASE(silu); break;            \
    case GC_ACT_GELU: CASE(gelu); break;            \
    default: return GC_EBADARG;                     \
    }

/* transcendental activations pay ~10-20 ns per element: threads pay off at smaller sizes */
#define GC_ACT_PAR_MIN(act) \
    ((act) <= GC_ACT_LEAKY_RELU ? (int64_t)GC_PARALLEL_MIN : (int64_t)GC_PARALLEL_MIN / 8)

/* ---- standalone elementwise activations ------------------------------------------------ */

#define GC_FWD_RANGE(name)                                                       \
    GC_CLONES static void GC_NAME(fwd_range_##name)(const T *x, T *y, int64_t lo, int64_t hi) { \
        _Pragma("omp simd") for (int64_t i = lo; i < hi; ++i) y[i] = GC_NAME(f_##name)(x[i]); \
    }                                                                            \
    GC_CLONES static void GC_NAME(bwd_range_##name)(const T *dy, const T *x, const T *y, T *dx, \
                                             int64_t lo, int64_t hi) {           \
        _Pragma("omp simd") for (int64_t i = lo; i < hi; ++i)                    \
            dx[i] = dy[i] * GC_NAME(d_##name)(x[i], y[i]);                       \
    }
GC_FWD_RANGE(linear)
GC_FWD_RANGE(relu)
GC_FWD_RANGE(leaky_relu)
GC_FWD_RANGE(elu)
GC_FWD_RANGE(sigmoid)
GC_FWD_RANGE(tanh)
GC_FWD_RANGE(silu)
GC_FWD_RANGE(gelu)
#undef GC_FWD_RANGE

int GC_NAME(gc_dense_act_forward)(const T *x, T *y, int64_t n, int act) {
    if (n < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
#define GC_CASE(name) \
    GC_PARALLEL_RANGES(n, GC_ACT_PAR_MIN(act), lo, hi, GC_NAME(fwd_range_##name)(x, y, lo, hi))
    GC_ACT_SWITCH(act, GC_CASE)
#undef GC_CASE
    return GC_OK;
}

int GC_NAME(gc_dense_act_backward)(const T *dy, const T *x, const T *y, T *dx, int64_t n,
                                   int act) {
    if (n < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
#define GC_CASE(name)                                 \
    GC_PARALLEL_RANGES(n, GC_ACT_PAR_MIN(act), lo, hi, \
                       GC_NAME(bwd_range_##name)(dy, x, y, dx, lo, hi))
    GC_ACT_SWITCH(act, GC_CASE)
#undef GC_CASE
    return GC_OK;
}

/* ---- dense layer --------------------------------------------------------------------- */

/* Epilogue over rows [r0, r1) and columns [c0, c1): v = z + b; z = v; y = act(v). One pass
 * over z (and y). */
#define GC_EPI_RANGE(name)                                                          \
    GC_CLONES static void GC_NAME(epi_##name)(const T *b, T *z, T *y, int64_t O, int64_t r0, \
                                       int64_t r1, int64_t c0, int64_t c1) {        \
        for (int64_t r = r0; r < r1; ++r) {                                         \
            T *zr = z + r * O;                                                      \
            T *yr = y + r * O;                                                      \
            _Pragma("omp simd") for (int64_t o = c0; o < c1; ++o) {                 \
                const T v = zr[o] + b[o];                                           \
                zr[o] = v;                                                          \
                yr[o] = GC_NAME(f_##name)(v);                                       \
            }                                                                       \
        }                                                                           \
    }
GC_EPI_RANGE(linear)
GC_EPI_RANGE(relu)
GC_EPI_RANGE(leaky_relu)
GC_EPI_RANGE(elu)
GC_EPI_RANGE(sigmoid)
GC_EPI_RANGE(tanh)
GC_EPI_RANGE(silu)
GC_EPI_RANGE(gelu)
#undef GC_EPI_RANGE

/* rows per thread chunk so that a parallel epilogue covers >= min elements */
static int64_t GC_NAME(min_rows)(int64_t O, int64_t min_elems) {
    return O > 0 ? (min_elems + O - 1) / O : INT64_MAX;
}

int GC_NAME(gc_dense_forward)(const T *x, const T *W, const T *b, int64_t N, int64_t I,
                              int64_t O, int act, T *z, T *y) {
    if (N < 0 || I < 0 || O < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
    if (N == 0 || O == 0) return GC_OK;
    int by_n;
    int nth = gc_gemm_threads(N, O, I, &by_n);
    if (nth > 1 && by_n) {
        /* Fused: each thread computes its column block of z = x W (gc_gemm's own blocks, so
         * the same z) and applies bias + activation to it while it is in its cache: one
         * fork/join, no second pass over z from memory. */
        const int64_t nblk = (O + GC_GEMM_NBLOCK - 1) / GC_GEMM_NBLOCK;
        if (nth > nblk) nth = (int)nblk;
        const int team = gc_gemm_team(N, O, I, nth);
        gc_par_clock clk;
        gc_par_start(&clk, team);
#define GC_CASE(name)                                                                   \
    _Pragma("omp parallel num_threads(team) if (team > 1)")                            \
    {                                                                                   \
        _Pragma("omp for schedule(static) nowait")                                     \
        for (int t = 0; t < nth; ++t) {                                                 \
            int64_t c0, c1;                                                             \
            gc_gemm_block(t, nth, nblk, GC_GEMM_NBLOCK, O, &c0, &c1);                   \
            if (c1 <= c0) continue;                                                     \
            GC_GEMM(0, 0, N, c1 - c0, I, (T)1, x, I, W + c0, O, (T)0, z + c0, O);      \
            GC_NAME(epi_##name)(b, z, y, O, 0, N, c0, c1);                              \
        }                                                                               \
        GC_PAR_OWN_DONE(&clk);                                                          \
    }
        GC_ACT_SWITCH(act, GC_CASE)
#undef GC_CASE
        gc_par_finish(&clk);
        return GC_OK;
    }
    GC_GEMM(0, 0, N, O, I, (T)1, x, I, W, O, (T)0, z, O); /* z = x W */
    const int64_t mr = GC_NAME(min_rows)(O, GC_ACT_PAR_MIN(act));
#define GC_CASE(name) \
    GC_PARALLEL_RANGES(N, mr, r0, r1, GC_NAME(epi_##name)(b, z, y, O, r0, r1, 0, O))
    GC_ACT_SWITCH(act, GC_CASE)
#undef GC_CASE
    return GC_OK;
}

/* Column block of the fused backward epilogue: dz = dy * act'(z, y) and db += sum_n dz over
 * columns [o0, o0 + w), w <= GC_DB_BLOCK. The column sums live in a double array on the
 * stack: the bias gradient of a float32 batch is summed in double (as the reference does),
 * and splitting columns across threads needs neither scratch nor a cross-thread reduction. */
#define GC_DB_BLOCK 512
#define GC_BWD_BLOCK(name)                                                              \
    GC_CLONES static void GC_NAME(bwd_blk_##name)(const T *dy, const T *z, const T *y, T *dz,     \
                                           T *db, int64_t N, int64_t O, int64_t o0,        \
                                           int64_t w) {                                 \
        double acc[GC_DB_BLOCK];                                                        \
        for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;                                   \
        for (int64_t r = 0; r < N; ++r) {                                               \
            const int64_t off = r * O + o0;                                             \
            const T *dyr = dy + off, *zr = z + off, *yr = y + off;                      \
            T *dzr = dz + off;                                                          \
            _Pragma("omp simd") for (int64_t j = 0; j < w; ++j) {                       \
                const T d = dyr[j] * GC_NAME(d_##name)(zr[j], yr[j]);                   \
                dzr[j] = d;                                                             \
                acc[j] += (double)d;                                                    \
            }                                                                           \
        }                                                                               \
        for (int64_t j = 0; j < w; ++j) db[o0 + j] = db[o0 + j] + (T)acc[j];            \
    }
GC_BWD_BLOCK(linear)
GC_BWD_BLOCK(relu)
GC_BWD_BLOCK(leaky_relu)
GC_BWD_BLOCK(elu)
GC_BWD_BLOCK(sigmoid)
GC_BWD_BLOCK(tanh)
GC_BWD_BLOCK(silu)
GC_BWD_BLOCK(gelu)
#undef GC_BWD_BLOCK

int GC_NAME(gc_dense_backward)(const T *dy, const T *x, const T *W, const T *z, const T *y,
                               int64_t N, int64_t I, int64_t O, int act, T *dz, T *dx, T *dW,
                               T *db) {
    if (N < 0 || I < 0 || O < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
    int fused = 0;
    if (O > 0 && N > 0) {
        /* column blocks: at most GC_DB_BLOCK wide, and at least one per thread when the
         * epilogue is big enough to thread (16-column multiples: whole cache lines) */
        int nth = 1;
        if (N * O >= GC_ACT_PAR_MIN(act) && !gc_par_nested()) nth = gc_max_threads();
        int64_t bw = (O + nth - 1) / nth;
        bw = (bw + 15) / 16 * 16;
        if (bw > GC_DB_BLOCK) bw = GC_DB_BLOCK;
        const int64_t nb = (O + bw - 1) / bw;
        /* With threads, each column block's dW columns are multiplied right after its dz
         * block by the same thread (dW[:, blk] += x^T dz[:, blk]): one fork/join, dz still in
         * cache. dx = dz W^T needs every column of dz, so it comes after. */
        fused = nth > 1 && nb > 1 && I > 0;
        /* the team only runs the blocks (fixed above): fork when the epilogue or the fused
         * dW GEMMs are big enough */
        const int team = nth > 1 && nb > 1
                             ? gc_par_team(nb, gc_par_big(N * O, GC_ACT_PAR_MIN(act)) ||
                                                   (fused && gc_par_big(I * O * N, GC_FORK_MIN_GEMM)))
                             : 1;
        gc_par_clock clk;
        gc_par_start(&clk, team);
#define GC_CASE(name)                                                                   \
    _Pragma("omp parallel num_threads(team) if (team > 1)")                            \
    {                                                                                   \
        _Pragma("omp for schedule(static) nowait")                                     \
        for (int64_t k = 0; k < nb; ++k) {                                              \
            const int64_t o0 = k * bw;                                                  \
            const int64_t w = O - o0 < bw ? O - o0 : bw;                                \
            GC_NAME(bwd_blk_##name)(dy, z, y, dz, db, N, O, o0, w);                     \
            if (fused) GC_GEMM(1, 0, I, w, N, (T)1, x, I, dz + o0, O, (T)1, dW + o0, O); \
        }                                                                               \
        GC_PAR_OWN_DONE(&clk);                                                          \
    }
        GC_ACT_SWITCH(act, GC_CASE)
#undef GC_CASE
        gc_par_finish(&clk);
    }
    if (!fused && I > 0 && O > 0)
        GC_GEMM(1, 0, I, O, N, (T)1, x, I, dz, O, (T)1, dW, O); /* dW += x^T dz */
    if (dx != NULL && N > 0 && I > 0)
        GC_GEMM(0, 1, N, I, O, (T)1, dz, O, W, O, (T)0, dx, I); /* dx = dz W^T */
    return GC_OK;
}

#undef GC_DB_BLOCK
#undef GC_ACT_SWITCH
#undef GC_ACT_PAR_MIN
#undef GC_NAME
#undef GC_CAT
#undef GC_CAT_
