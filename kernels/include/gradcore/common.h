/* gradcore kernels: shared definitions.
 *
 * Every kernel family has one body (kernels/<family>_impl.h) compiled twice through
 * kernels/gc_template.h, for float (suffix _f32) and double (suffix _f64); the headers here
 * declare both. Kernels take contiguous pointers, explicit
 * sizes and out-pointers; they never allocate, never call Python and never link BLAS.
 */
#ifndef GRADCORE_COMMON_H
#define GRADCORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Status codes returned by kernels that can fail. */
#define GC_OK 0
#define GC_EBADSIZE 1   /* inconsistent sizes or offsets */
#define GC_EBADARG 2    /* invalid argument value (unknown activation code) */
#define GC_EBADLABEL 3  /* class label out of [0, K) */

/* Element count above which a streaming kernel uses OpenMP threads. Below it the thread
 * start-up (a few microseconds) costs more than it saves. */
#define GC_PARALLEL_MIN 65536

/* ---- GEMM provider ---------------------------------------------------------------------
 * Kernels never link BLAS. The binding layer hands in row-major GEMMs once, at import
 * (gc_set_gemm): by default scipy's OpenBLAS through scipy.linalg.cython_blas; optionally MKL.
 *
 *   C[M,N] = alpha * op(A) @ op(B) + beta * C,   op(X) = X (trans 0) or X^T (trans 1)
 *
 * All matrices row-major; lda/ldb/ldc are row strides in elements (A stored [M,K] if transa==0
 * else [K,M]; B stored [K,N] if transb==0 else [N,K]). M, N or K may be 0 (then C = beta C, or
 * nothing if M*N == 0). The provider must be single-threaded: gc_gemm_* splits large products
 * over N across gradcore's own OpenMP threads (never nested inside another parallel region). */
typedef void (*gc_sgemm_fn)(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                            float *C, int64_t ldc);
typedef void (*gc_dgemm_fn)(int transa, int transb, int64_t M, int64_t N, int64_t K, double alpha,
                            const double *A, int64_t lda, const double *B, int64_t ldb,
                            double beta, double *C, int64_t ldc);

void gc_set_gemm(gc_sgemm_fn sgemm, gc_dgemm_fn dgemm);
int gc_have_gemm(void);   /* 1 once a provider is set (the binding checks it at import:
                             * gc_gemm_* call the provider without a check) */
/* Use a row-major CBLAS (e.g. MKL's cblas_sgemm/cblas_dgemm, LP64) as the provider.
 * threads_local (may be NULL): int f(int n) setting the library's thread-local thread count
 * and returning the previous one (MKL's MKL_Set_Num_Threads_Local); called with 1 around
 * every GEMM and restored after. */
int gc_use_cblas(void *cblas_sgemm, void *cblas_dgemm, void *threads_local);
/* The GEMM every kernel calls: the provider, split by OpenMP when the product is large
 * (M*N*K >= GC_GEMM_PARALLEL_MIN flops/2): over N in blocks of GC_GEMM_NBLOCK columns when
 * N >= 2*GC_GEMM_NBLOCK, else over M in blocks of GC_GEMM_MBLOCK rows when M is that tall. */
void gc_gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc);
void gc_gemm_f64(int transa, int transb, int64_t M, int64_t N, int64_t K, double alpha,
                 const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                 double *C, int64_t ldc);
#define GC_GEMM_PARALLEL_MIN (1 << 21)
#define GC_GEMM_NBLOCK 32
#define GC_GEMM_MBLOCK 32
/* gc_gemm's split rule: the threads it uses for an M x N x K product (1 below
 * GC_GEMM_PARALLEL_MIN, when neither dimension is tall enough, or inside a parallel region);
 * *by_n = 1 for column blocks of GC_GEMM_NBLOCK, 0 for row blocks of GC_GEMM_MBLOCK. Kernels
 * that fuse work into the same blocks (dense) use it to split exactly as gc_gemm would. */
int gc_gemm_threads(int64_t M, int64_t N, int64_t K, int *by_n);
/* Threads to RUN those nchunks blocks (gc_par_team: 1 below the GEMM fork threshold, nested, or
 * under the contention back-off); the blocks, hence the result, do not depend on it. */
int gc_gemm_team(int64_t M, int64_t N, int64_t K, int nchunks);
/* Part t of nth of nblk blocks of bs elements over [0, ext): [*e0, *e1), empty if e1 <= e0. */
static inline void gc_gemm_block(int t, int nth, int64_t nblk, int64_t bs, int64_t ext,
                                 int64_t *e0, int64_t *e1) {
    *e0 = nblk * t / nth * bs;
    *e1 = nblk * (t + 1) / nth * bs;
    if (*e1 > ext) *e1 = ext;
}

/* Threads: one process-wide count for every region (gc_set_num_threads clamps to
 * [1, GC_MAX_THREADS]; the default is OpenMP's, clamped too). gradcore.threads documents the
 * lower public cap. GC_MAX_THREADS bounds what libgomp puts on the forking thread's stack. */
#define GC_MAX_THREADS 256
int gc_max_threads(void);
void gc_set_num_threads(int n);
int gc_have_openmp(void);
/* Fork policy knobs (kernels/gc_parallel.h): contention back-off on/off (default on), the
 * fork-threshold scale (default 1), a forced back-off of ns nanoseconds (tests), and counters:
 * regions found contended since import, back-off time left. */
void gc_par_set_adaptive(int on);
int gc_par_get_adaptive(void);
void gc_par_set_fork_scale(double scale);
double gc_par_get_fork_scale(void);
void gc_par_backoff(int64_t ns);
void gc_par_stats(int64_t *contended, int64_t *backoff_left_ns);

#endif
