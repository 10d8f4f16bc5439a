/* GEMM indirection: the provider pointer set by the binding layer, and the OpenMP split over
 * N (or over M when N is narrow, e.g. the LSTM's dx = dA Wx^T with N = D) that lets
 * gradcore's own thread pool (not the BLAS's) parallelise large products. */
#include "gradcore/common.h"
#include "gc_parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* The chunk count (blocks of the split): from the size and the configured thread count only,
 * so a product is cut the same way whatever team runs it (gc_par_team). */
int gc_gemm_threads(int64_t M, int64_t N, int64_t K, int *by_n) {
    *by_n = N >= 2 * GC_GEMM_NBLOCK;
    if ((double)M * (double)N * (double)(K > 0 ? K : 1) < (double)GC_GEMM_PARALLEL_MIN ||
        !(*by_n || M >= 2 * GC_GEMM_MBLOCK))
        return 1;
    if (gc_par_nested()) return 1;
    return gc_max_threads();
}

int gc_gemm_team(int64_t M, int64_t N, int64_t K, int nchunks) {
    const double mnk = (double)M * (double)N * (double)(K > 0 ? K : 1);
    const int64_t w = mnk > 9e18 ? INT64_MAX : (int64_t)mnk;
    return gc_par_team(nchunks, gc_par_big(w, GC_FORK_MIN_GEMM));
}

/* The provider, one pointer per type (gemm_impl.h calls GC_NAME(g_gemm)). */
static gc_sgemm_fn g_gemm_f32 = 0;
static gc_dgemm_fn g_gemm_f64 = 0;

void gc_set_gemm(gc_sgemm_fn sgemm, gc_dgemm_fn dgemm) {
    g_gemm_f32 = sgemm;
    g_gemm_f64 = dgemm;
}

int gc_have_gemm(void) { return g_gemm_f32 != 0 && g_gemm_f64 != 0; }

/* ---- CBLAS providers (MKL's cblas_?gemm, loaded at run time by the binding layer) --------
 * Row-major CBLAS with LP64 (32-bit int) dimensions; enum values from cblas.h. Leading
 * dimensions are clamped to >= 1 (CBLAS rejects 0 even when a dimension is empty). */
#define GC_CBLAS_ROW_MAJOR 101
#define GC_CBLAS_NO_TRANS 111
#define GC_CBLAS_TRANS 112

typedef void (*gc_cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                                  const float *, int, float, float *, int);
typedef void (*gc_cblas_dgemm_fn)(int, int, int, int, int, int, double, const double *, int,
                                  const double *, int, double, double *, int);
static gc_cblas_sgemm_fn g_cblas_gemm_f32 = 0;
static gc_cblas_dgemm_fn g_cblas_gemm_f64 = 0;
/* MKL's MKL_Set_Num_Threads_Local (thread-local count; returns the previous one, 0 = global):
 * set to 1 around every call and restored, like OpenBLAS's in the binding. A process-wide
 * mkl_set_num_threads(1) is not enough: another library in the process (torch, whose
 * set_num_threads reaches the same MKL) may raise it, and MKL's threads then ran inside our
 * OpenMP regions (measured: Dense 256 fwd+bwd 0.87 -> 12.9 ms with torch in the process). */
typedef int (*gc_threads_local_fn)(int);
static gc_threads_local_fn g_cblas_threads_local = 0;

static int gc_ld(int64_t ld) { return ld < 1 ? 1 : (int)ld; }

#define GC_TEMPLATE "gemm_impl.h"
#include "gc_template.h"

int gc_use_cblas(void *cblas_sgemm, void *cblas_dgemm, void *threads_local) {
    if (!cblas_sgemm || !cblas_dgemm) return GC_EBADSIZE;
    *(void **)(&g_cblas_threads_local) = threads_local; /* may be NULL */
    /* object -> function pointer: POSIX guarantees this round trip (dlsym) */
    *(void **)(&g_cblas_gemm_f32) = cblas_sgemm;
    *(void **)(&g_cblas_gemm_f64) = cblas_dgemm;
    gc_set_gemm(gc_cblas_gemm_rowmajor_f32, gc_cblas_gemm_rowmajor_f64);
    return GC_OK;
}
