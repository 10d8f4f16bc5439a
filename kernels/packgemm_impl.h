/* Body of a small packed-B GEMM, included once per element type by the bodies that need it
 * (lstm_impl.h). Expects the type macros of gc_template.h (FT, SFX).
 *
 * Why: the LSTM's per-step products C[M, N] (+)= A[M, K] @ B[K, N] reuse the same B (Wh, or
 * Wh^T on the way back) at every step, with a small M (the batch rows of one thread). A BLAS
 * call re-packs B every time: measured with perf on the T=50 B=32 H=128 case, OpenBLAS spent
 * as long packing Wh (sgemm_itcopy/incopy, 27% of the whole forward+backward) as multiplying
 * (sgemm_kernel, 25%). Here B is packed once per sequence into column panels of GC_PG_NR
 * columns ([K][NR] each, zero-padded), and a register-blocked micro-kernel streams them.
 *
 * Rounding: every element of C is one float accumulator summed over k in increasing order,
 * each product rounded before the add (no FMA: -ffp-contract=off, and the AVX2 clone is built
 * without "fma"). The 4-row and the 1-row kernels follow the same order, so a row's result does
 * not depend on how rows are blocked or split over threads. (A BLAS is free to order its sums
 * differently; the equivalence suite compares with dtype-keyed tolerances, as for any GEMM.)
 *
 * Vectors: GCC's generic vector extension, 32 bytes (two AVX2 registers per panel row; the
 * baseline SSE2 clone splits each into two halves). Other compilers get the scalar loops. */

#ifndef GC_PG_COMMON
#define GC_PG_COMMON
#if defined(__GNUC__) && !defined(GC_NO_VECTOR_EXT)
#define GC_PG_VEC 1
#else
#define GC_PG_VEC 0
#endif
#endif

#define GC_PG_VL ((int64_t)(32 / sizeof(FT))) /* elements per 32-byte vector */
#define GC_PG_NR (2 * GC_PG_VL)               /* panel width: 16 floats or 8 doubles */

/* Elements of the packed form of a [K, N] operand: K * (N rounded up to NR). */
static int64_t GC_NAME(gc_pg_size)(int64_t K, int64_t N) {
    return K * ((N + GC_PG_NR - 1) / GC_PG_NR) * GC_PG_NR;
}

/* Pack B[K, N] (row-major, leading dimension ldb; with trans, B[k, n] = S[n * ldb + k], i.e.
 * the operand is S^T) into Bp: panel q holds columns [q*NR, q*NR + NR) as K rows of NR. */
static void GC_NAME(gc_pg_pack)(int trans, int64_t K, int64_t N, const FT *S, int64_t ldb,
                                FT *Bp) {
    const int64_t NR = GC_PG_NR, np = (N + NR - 1) / NR;
    for (int64_t q = 0; q < np; ++q) {
        const int64_t n0 = q * NR, w = N - n0 < NR ? N - n0 : NR;
        FT *P = Bp + q * K * NR;
        if (!trans) {
            for (int64_t k = 0; k < K; ++k) {
                const FT *src = S + k * ldb + n0;
                int64_t c = 0;
                for (; c < w; ++c) P[k * NR + c] = src[c];
                for (; c < NR; ++c) P[k * NR + c] = (FT)0;
            }
        } else {
            /* 16 x NR blocks: each source row gives one 64-byte run per block, and the block's
             * destination (16 x NR elements) stays in L1. Packing Wh^T at H=256: 125 us; column
             * by column 213 us, row by row (16 read streams 4 KB apart) 190-210 us. */
            for (int64_t k0 = 0; k0 < K; k0 += 16) {
                const int64_t kn = K - k0 < 16 ? K - k0 : 16;
                for (int64_t c = 0; c < NR; ++c) {
                    if (c < w) {
                        const FT *src = S + (n0 + c) * ldb + k0;
                        for (int64_t kk = 0; kk < kn; ++kk) P[(k0 + kk) * NR + c] = src[kk];
                    } else {
                        for (int64_t kk = 0; kk < kn; ++kk) P[(k0 + kk) * NR + c] = (FT)0;
                    }
                }
            }
        }
    }
}

#if GC_PG_VEC
typedef FT GC_NAME(gc_pg_v) __attribute__((vector_size(32)));
/* the same vector type with element alignment: loads and stores from any address */
typedef FT GC_NAME(gc_pg_vu) __attribute__((vector_size(32), aligned(sizeof(FT))));
#define GC_PG_V GC_NAME(gc_pg_v)
#define GC_PG_VU GC_NAME(gc_pg_vu)
#define GC_PG_LD(p) (*(const GC_PG_VU *)(p))
#define GC_PG_ST(p, v) (*(GC_PG_VU *)(p) = (v))
#endif

/* Write one finished row tile acc[0..NR) into C[0..w): C = acc (beta 0) or C + acc (beta 1). */
static inline void GC_NAME(gc_pg_store)(FT *C, const FT *acc, int64_t w, int beta1) {
    if (beta1)
        for (int64_t c = 0; c < w; ++c) C[c] = C[c] + acc[c];
    else
        for (int64_t c = 0; c < w; ++c) C[c] = acc[c];
}

#if GC_PG_VEC
/* The 1-3 rows left below a multiple of 4: an R-row tile (R a constant at each call site, so
 * the arrays below are registers). The same order of operations as the 4-row tile. The scalar
 * loop that did this before ran 3-4x slower than the tiles: 19 rows took 6x the time of 16. */
static inline __attribute__((always_inline)) void GC_NAME(gc_pg_tile)(
    const int R, int64_t K, const FT *A, int64_t lda, const FT *P, int beta1, FT *C,
    int64_t ldc, int64_t w) {
    const int64_t VL = GC_PG_VL, NR = GC_PG_NR;
    GC_PG_V c[3][2];
    const FT *a[3];
    for (int r = 0; r < R; ++r) {
        c[r][0] = (GC_PG_V){0};
        c[r][1] = (GC_PG_V){0};
        a[r] = A + r * lda;
    }
#if !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (int64_t k = 0; k < K; ++k) {
        const GC_PG_V b0 = GC_PG_LD(P + k * NR), b1 = GC_PG_LD(P + k * NR + VL);
        for (int r = 0; r < R; ++r) {
            const FT x = a[r][k];
            c[r][0] += x * b0;
            c[r][1] += x * b1;
        }
    }
    for (int r = 0; r < R; ++r) {
        FT t[2 * 32 / sizeof(FT)];
        GC_PG_ST(t, c[r][0]);
        GC_PG_ST(t + VL, c[r][1]);
        GC_NAME(gc_pg_store)(C + r * ldc, t, w, beta1);
    }
}
#endif

/* C[M, N] = A[M, K] @ B (beta1 = 0) or C += A @ B (beta1 = 1); Bp from gc_pg_pack(K, N).
 * A and C row-major with leading dimensions lda, ldc (any stride >= the row length). */
GC_CLONES static void GC_NAME(gc_pg_gemm)(int64_t M, int64_t N, int64_t K, const FT *A,
                                          int64_t lda, const FT *Bp, int beta1, FT *C,
                                          int64_t ldc) {
    const int64_t NR = GC_PG_NR, np = (N + NR - 1) / NR;
    for (int64_t q = 0; q < np; ++q) {
        const int64_t n0 = q * NR, w = N - n0 < NR ? N - n0 : NR;
        const FT *P = Bp + q * K * NR;
        int64_t i = 0;
#if GC_PG_VEC
        const int64_t VL = GC_PG_VL;
        for (; i + 4 <= M; i += 4) {
            const FT *a0 = A + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            GC_PG_V c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
            GC_PG_V c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4 /* measured ~10 % at K = 128 (loop overhead vs 8 mul + 8 add) */
#endif
            for (int64_t k = 0; k < K; ++k) {
                const GC_PG_V b0 = GC_PG_LD(P + k * NR), b1 = GC_PG_LD(P + k * NR + VL);
                const FT x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
                c00 += x0 * b0;
                c01 += x0 * b1;
                c10 += x1 * b0;
                c11 += x1 * b1;
                c20 += x2 * b0;
                c21 += x2 * b1;
                c30 += x3 * b0;
                c31 += x3 * b1;
            }
            FT *r0 = C + i * ldc + n0, *r1 = r0 + ldc, *r2 = r1 + ldc, *r3 = r2 + ldc;
            if (w == NR) {
                if (beta1) {
                    c00 = GC_PG_LD(r0) + c00;
                    c01 = GC_PG_LD(r0 + VL) + c01;
                    c10 = GC_PG_LD(r1) + c10;
                    c11 = GC_PG_LD(r1 + VL) + c11;
                    c20 = GC_PG_LD(r2) + c20;
                    c21 = GC_PG_LD(r2 + VL) + c21;
                    c30 = GC_PG_LD(r3) + c30;
                    c31 = GC_PG_LD(r3 + VL) + c31;
                }
                GC_PG_ST(r0, c00);
                GC_PG_ST(r0 + VL, c01);
                GC_PG_ST(r1, c10);
                GC_PG_ST(r1 + VL, c11);
                GC_PG_ST(r2, c20);
                GC_PG_ST(r2 + VL, c21);
                GC_PG_ST(r3, c30);
                GC_PG_ST(r3 + VL, c31);
            } else {
                FT t[4][2 * 32 / sizeof(FT)];
                GC_PG_ST(t[0], c00);
                GC_PG_ST(t[0] + VL, c01);
                GC_PG_ST(t[1], c10);
                GC_PG_ST(t[1] + VL, c11);
                GC_PG_ST(t[2], c20);
                GC_PG_ST(t[2] + VL, c21);
                GC_PG_ST(t[3], c30);
                GC_PG_ST(t[3] + VL, c31);
                GC_NAME(gc_pg_store)(r0, t[0], w, beta1);
                GC_NAME(gc_pg_store)(r1, t[1], w, beta1);
                GC_NAME(gc_pg_store)(r2, t[2], w, beta1);
                GC_NAME(gc_pg_store)(r3, t[3], w, beta1);
            }
        }
        switch (M - i) {
        case 3: GC_NAME(gc_pg_tile)(3, K, A + i * lda, lda, P, beta1, C + i * ldc + n0, ldc, w);
            i += 3;
            break;
        case 2: GC_NAME(gc_pg_tile)(2, K, A + i * lda, lda, P, beta1, C + i * ldc + n0, ldc, w);
            i += 2;
            break;
        case 1: GC_NAME(gc_pg_tile)(1, K, A + i * lda, lda, P, beta1, C + i * ldc + n0, ldc, w);
            i += 1;
            break;
        default: break;
        }
#endif
        /* all rows without vector extensions: the same summation order */
        for (; i < M; ++i) {
            const FT *a = A + i * lda;
            FT acc[2 * 32 / sizeof(FT)];
            for (int64_t c = 0; c < NR; ++c) acc[c] = (FT)0;
            for (int64_t k = 0; k < K; ++k) {
                const FT x = a[k];
                for (int64_t c = 0; c < NR; ++c) acc[c] += x * P[k * NR + c];
            }
            GC_NAME(gc_pg_store)(C + i * ldc + n0, acc, w, beta1);
        }
    }
}

#if GC_PG_VEC
#undef GC_PG_V
#undef GC_PG_VU
#undef GC_PG_LD
#undef GC_PG_ST
#endif
#undef GC_PG_VL
#undef GC_PG_NR
