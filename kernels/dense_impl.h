/* Body of the dense family, included by dense.c once per element type.
 * Expects the type macros of gc_template.h: FT, SFX and the math of that type: GC_EXPNEG,
 * GC_EXPM1, GC_TANH, GC_FABS, GC_ERFC, GC_GEMM. Every formula mirrors the reference backend
 * (activations.py) operation by operation, in the data type FT (no reduction here except the
 * bias gradient, in double). */

/* ---- scalar activations: forward f(x) and derivative d(x, y), y = f(x) -----------------
 * Comparisons are written as the reference writes them so NaN takes the same branch:
 * relu forward keeps NaN (x < 0 is false), relu'(NaN) = 1, leaky'(NaN) = 0.01, elu'(NaN) = 1. */
GC_INLINE FT GC_NAME(f_linear)(FT x) { return x; }
GC_INLINE FT GC_NAME(d_linear)(FT x, FT y) { (void)x; (void)y; return (FT)1; }

GC_INLINE FT GC_NAME(f_relu)(FT x) { return x < 0 ? (FT)0 : x; }
GC_INLINE FT GC_NAME(d_relu)(FT x, FT y) { (void)y; return x <= 0 ? (FT)0 : (FT)1; }

GC_INLINE FT GC_NAME(f_leaky_relu)(FT x) { return x > 0 ? x : (FT)0.01 * x; }
GC_INLINE FT GC_NAME(d_leaky_relu)(FT x, FT y) { (void)y; return x > 0 ? (FT)1 : (FT)0.01; }

/* alpha = 1: alpha * expm1(min(x, 0)) == expm1(min(x, 0)) exactly. */
GC_INLINE FT GC_NAME(f_elu)(FT x) { return x > 0 ? x : GC_EXPM1(x > 0 ? (FT)0 : x); }
GC_INLINE FT GC_NAME(d_elu)(FT x, FT y) {
    (void)y;
    return x <= 0 ? GC_EXPNEG(x > 0 ? (FT)0 : x) : (FT)1;
}

/* stable: e = exp(-|x|) in (0, 1]; 1/(1+e) for x >= 0, e/(1+e) otherwise */
GC_INLINE FT GC_NAME(sigm)(FT x) {
    const FT e = GC_EXPNEG(-GC_FABS(x));
    return x >= 0 ? (FT)1 / ((FT)1 + e) : e / ((FT)1 + e);
}
GC_INLINE FT GC_NAME(f_sigmoid)(FT x) { return GC_NAME(sigm)(x); }
GC_INLINE FT GC_NAME(d_sigmoid)(FT x, FT y) { (void)x; return y * ((FT)1 - y); }

GC_INLINE FT GC_NAME(f_tanh)(FT x) { return GC_TANH(x); }
GC_INLINE FT GC_NAME(d_tanh)(FT x, FT y) { (void)x; return (FT)1 - y * y; }

GC_INLINE FT GC_NAME(f_silu)(FT x) { return x * GC_NAME(sigm)(x); }
GC_INLINE FT GC_NAME(d_silu)(FT x, FT y) {
    (void)y;
    const FT s = GC_NAME(sigm)(x);
    return s * ((FT)1 + x * ((FT)1 - s));
}

/* gelu = x Phi(x), Phi(x) = 0.5 erfc(-x/sqrt2) (accurate left tail, unlike 1 + erf) */
GC_INLINE FT GC_NAME(f_gelu)(FT x) {
    return ((FT)0.5 * x) * GC_ERFC(-x * (FT)(1.0 / 1.4142135623730951));
}
GC_INLINE FT GC_NAME(d_gelu)(FT x, FT y) {
    (void)y;
    const FT cdf = (FT)0.5 * GC_ERFC(-x * (FT)(1.0 / 1.4142135623730951));
    /* 1/sqrt(2 pi) */
    const FT pdf = GC_EXPNEG((FT)-0.5 * (x * x)) * (FT)(1.0 / 2.5066282746310002);
    return cdf + x * pdf;
}

/* ---- the loops, one copy per activation (dense_act_impl.h) ------------------------------ */

#ifndef GC_DENSE_HELPERS
#define GC_DENSE_HELPERS
#define GC_DB_BLOCK 512 /* widest column block of the backward epilogue (its sums: 4 KiB) */
#define GC_ACT_NAME(base) GC_CAT(GC_CAT(base, GC_ACT), SFX)
/* The copies of one loop in activation-code order (GC_ACT_* of gradcore/dense.h). */
#define GC_ACT_TABLE(base)                                                              \
    {GC_NAME(base##_linear), GC_NAME(base##_relu), GC_NAME(base##_leaky_relu),         \
     GC_NAME(base##_elu), GC_NAME(base##_sigmoid), GC_NAME(base##_tanh),               \
     GC_NAME(base##_silu), GC_NAME(base##_gelu)}

/* transcendental activations pay ~10-20 ns per element: threads pay off at smaller sizes */
static int64_t gc_act_par_min(int act) {
    return act <= GC_ACT_LEAKY_RELU ? (int64_t)GC_PARALLEL_MIN : (int64_t)GC_PARALLEL_MIN / 8;
}
#endif

#define GC_ACT linear
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT relu
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT leaky_relu
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT elu
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT sigmoid
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT tanh
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT silu
#include "dense_act_impl.h"
#undef GC_ACT
#define GC_ACT gelu
#include "dense_act_impl.h"
#undef GC_ACT

typedef void (*GC_NAME(gc_fwd_range_fn))(const FT *, FT *, int64_t, int64_t);
typedef void (*GC_NAME(gc_bwd_range_fn))(const FT *, const FT *, const FT *, FT *, int64_t,
                                         int64_t);
typedef void (*GC_NAME(gc_epi_fn))(const FT *, FT *, FT *, int64_t, int64_t, int64_t, int64_t,
                                   int64_t);
typedef void (*GC_NAME(gc_bwd_blk_fn))(const FT *, const FT *, const FT *, FT *, FT *, int64_t,
                                       int64_t, int64_t, int64_t);
static const GC_NAME(gc_fwd_range_fn) GC_NAME(fwd_range_of)[GC_ACT_COUNT] =
    GC_ACT_TABLE(fwd_range);
static const GC_NAME(gc_bwd_range_fn) GC_NAME(bwd_range_of)[GC_ACT_COUNT] =
    GC_ACT_TABLE(bwd_range);
static const GC_NAME(gc_epi_fn) GC_NAME(epi_of)[GC_ACT_COUNT] = GC_ACT_TABLE(epi);
static const GC_NAME(gc_bwd_blk_fn) GC_NAME(bwd_blk_of)[GC_ACT_COUNT] = GC_ACT_TABLE(bwd_blk);

/* ---- standalone elementwise activations ------------------------------------------------ */

int GC_NAME(gc_dense_act_forward)(const FT *x, FT *y, int64_t n, int act) {
    if (n < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
    const GC_NAME(gc_fwd_range_fn) fwd = GC_NAME(fwd_range_of)[act];
    GC_PARALLEL_RANGES(n, gc_act_par_min(act), lo, hi, fwd(x, y, lo, hi));
    return GC_OK;
}

int GC_NAME(gc_dense_act_backward)(const FT *dy, const FT *x, const FT *y, FT *dx, int64_t n,
                                   int act) {
    if (n < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
    const GC_NAME(gc_bwd_range_fn) bwd = GC_NAME(bwd_range_of)[act];
    GC_PARALLEL_RANGES(n, gc_act_par_min(act), lo, hi, bwd(dy, x, y, dx, lo, hi));
    return GC_OK;
}

/* ---- dense layer --------------------------------------------------------------------- */

/* rows per thread chunk so that a parallel epilogue covers >= min elements */
static int64_t GC_NAME(min_rows)(int64_t O, int64_t min_elems) {
    return O > 0 ? (min_elems + O - 1) / O : INT64_MAX;
}

int GC_NAME(gc_dense_forward)(const FT *x, const FT *W, const FT *b, int64_t N, int64_t I,
                              int64_t O, int act, FT *z, FT *y) {
    if (N < 0 || I < 0 || O < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
    if (N == 0 || O == 0) return GC_OK;
    const GC_NAME(gc_epi_fn) epi = GC_NAME(epi_of)[act];
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
#pragma omp parallel num_threads(team) if (team > 1)
        {
#pragma omp for schedule(static) nowait
            for (int t = 0; t < nth; ++t) {
                int64_t c0, c1;
                gc_gemm_block(t, nth, nblk, GC_GEMM_NBLOCK, O, &c0, &c1);
                if (c1 <= c0) continue;
                GC_GEMM(0, 0, N, c1 - c0, I, (FT)1, x, I, W + c0, O, (FT)0, z + c0, O);
                epi(b, z, y, O, 0, N, c0, c1);
            }
            GC_PAR_OWN_DONE(&clk);
        }
        gc_par_finish(&clk);
        return GC_OK;
    }
    GC_GEMM(0, 0, N, O, I, (FT)1, x, I, W, O, (FT)0, z, O); /* z = x W */
    const int64_t mr = GC_NAME(min_rows)(O, gc_act_par_min(act));
    GC_PARALLEL_RANGES(N, mr, r0, r1, epi(b, z, y, O, r0, r1, 0, O));
    return GC_OK;
}

int GC_NAME(gc_dense_backward)(const FT *dy, const FT *x, const FT *W, const FT *z, const FT *y,
                               int64_t N, int64_t I, int64_t O, int act, FT *dz, FT *dx, FT *dW,
                               FT *db) {
    if (N < 0 || I < 0 || O < 0) return GC_EBADSIZE;
    if (act < 0 || act >= GC_ACT_COUNT) return GC_EBADARG;
    int fused = 0;
    if (O > 0 && N > 0) {
        const GC_NAME(gc_bwd_blk_fn) bwd_blk = GC_NAME(bwd_blk_of)[act];
        /* column blocks: at most GC_DB_BLOCK wide, and at least one per thread when the
         * epilogue is big enough to thread (16-column multiples: whole cache lines) */
        int nth = 1;
        if (N * O >= gc_act_par_min(act) && !gc_par_nested()) nth = gc_max_threads();
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
        const int big = gc_par_big(N * O, gc_act_par_min(act)) ||
                        (fused && gc_par_big(I * O * N, GC_FORK_MIN_GEMM));
        const int team = nth > 1 && nb > 1 ? gc_par_team(nb, big) : 1;
        gc_par_clock clk;
        gc_par_start(&clk, team);
#pragma omp parallel num_threads(team) if (team > 1)
        {
#pragma omp for schedule(static) nowait
            for (int64_t k = 0; k < nb; ++k) {
                const int64_t o0 = k * bw;
                const int64_t w = O - o0 < bw ? O - o0 : bw;
                bwd_blk(dy, z, y, dz, db, N, O, o0, w);
                if (fused) GC_GEMM(1, 0, I, w, N, (FT)1, x, I, dz + o0, O, (FT)1, dW + o0, O);
            }
            GC_PAR_OWN_DONE(&clk);
        }
        gc_par_finish(&clk);
    }
    if (!fused && I > 0 && O > 0)
        GC_GEMM(1, 0, I, O, N, (FT)1, x, I, dz, O, (FT)1, dW, O); /* dW += x^T dz */
    if (dx != NULL && N > 0 && I > 0)
        GC_GEMM(0, 1, N, I, O, (FT)1, dz, O, W, O, (FT)0, dx, I); /* dx = dz W^T */
    return GC_OK;
}
