/* GEMM indirection: the provider pointer set by the binding layer, and the OpenMP split over
 * N that lets gradcore's own thread pool (not the BLAS's) parallelise large products. */
#include "gradcore/common.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static gc_sgemm_fn g_sgemm = 0;
static gc_dgemm_fn g_dgemm = 0;

void gc_set_gemm(gc_sgemm_fn sgemm, gc_dgemm_fn dgemm) {
    g_sgemm = sgemm;
    g_dgemm = dgemm;
}

int gc_have_gemm(void) { return g_sgemm != 0 && g_dgemm != 0; }

#define GC_DEFINE_GEMM(T, SFX, PTR)                                                            \
    void gc_gemm_##SFX(int transa, int transb, int64_t M, int64_t N, int64_t K, T alpha,       \
                       const T *A, int64_t lda, const T *B, int64_t ldb, T beta, T *C,         \
                       int64_t ldc) {                                                          \
        if (M <= 0 || N <= 0) return;                                                          \
        int nth = 1;                                                                           \
        if ((double)M * (double)N * (double)(K > 0 ? K : 1) >= (double)GC_GEMM_PARALLEL_MIN && \
            N >= 2 * GC_GEMM_NBLOCK)                                                           \
            nth = gc_max_threads();                                                            \
        GC_GEMM_MAYBE_NOT_NESTED(nth);                                                         \
        if (nth <= 1) {                                                                        \
            PTR(transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);                 \
            return;                                                                            \
        }                                                                                      \
        /* column blocks, multiples of GC_GEMM_NBLOCK, one per thread */                       \
        int64_t nblk = (N + GC_GEMM_NBLOCK - 1) / GC_GEMM_NBLOCK;                              \
        if (nth > nblk) nth = (int)nblk;                                                       \
        GC_GEMM_PARALLEL_FOR(nth)                                                              \
        for (int t = 0; t < nth; ++t) {                                                        \
            int64_t b0 = nblk * t / nth, b1 = nblk * (t + 1) / nth;                            \
            int64_t n0 = b0 * GC_GEMM_NBLOCK, n1 = b1 * GC_GEMM_NBLOCK;                        \
            if (n1 > N) n1 = N;                                                                \
            if (n1 <= n0) continue;                                                            \
            const T *Bs = transb ? B + n0 * ldb : B + n0;                                      \
            PTR(transa, transb, M, n1 - n0, K, alpha, A, lda, Bs, ldb, beta, C + n0, ldc);     \
        }                                                                                      \
    }

#ifdef _OPENMP
#define GC_GEMM_MAYBE_NOT_NESTED(nth) \
    if (omp_in_parallel()) nth = 1
#define GC_GEMM_PRAGMA(x) _Pragma(#x)
#define GC_GEMM_PARALLEL_FOR(nth) GC_GEMM_PRAGMA(omp parallel for num_threads(nth) schedule(static))
#else
#define GC_GEMM_MAYBE_NOT_NESTED(nth) (void)0
#define GC_GEMM_PARALLEL_FOR(nth)
#endif

GC_DEFINE_GEMM(float, f32, g_sgemm)
GC_DEFINE_GEMM(double, f64, g_dgemm)
