# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython bindings of the C99 kernels in ``kernels/``.

Thin wrappers in the style of scikit-learn: typed memoryviews (``const`` for inputs, so
read-only arrays work; C-contiguity is required and a non-contiguous array raises
``ValueError``), a fused ``floating`` type dispatching to the ``_f32``/``_f64`` kernel, every
shape and size checked before ``with nogil:``. Every kernel family (dense and activations,
losses, optimizers, norms, BatchNorm, LayerNorm, LSTM, the monitor's stats) follows the same
contract (``docs/kernels.md``).

This file holds the common part: the BLAS thread pinning, the GEMM provider and ``gemm``, the
thread count and fork policy. Each family's bindings live in ``_kernels_<family>.pxi`` and
every argument check in ``_kernels_checks.pxi`` (one wording), all included at the end.
"""

from cython cimport floating
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport dgemm as _f_dgemm, sgemm as _f_sgemm

cdef extern from "gradcore/common.h" nogil:
    int GC_OK
    int GC_EBADSIZE
    int GC_EBADARG
    int GC_EBADLABEL
    int GC_MAX_THREADS
    int gc_max_threads()
    void gc_set_num_threads(int n)
    int gc_have_openmp()
    void gc_par_set_adaptive(int on)
    int gc_par_get_adaptive()
    void gc_par_set_fork_scale(double scale)
    double gc_par_get_fork_scale()
    void gc_par_backoff(int64_t ns)
    void gc_par_stats(int64_t *contended, int64_t *backoff_left_ns)
    ctypedef void (*gc_sgemm_fn)(int, int, int64_t, int64_t, int64_t, float, const float *,
                                 int64_t, const float *, int64_t, float, float *, int64_t)
    ctypedef void (*gc_dgemm_fn)(int, int, int64_t, int64_t, int64_t, double, const double *,
                                 int64_t, const double *, int64_t, double, double *, int64_t)
    void gc_set_gemm(gc_sgemm_fn sgemm, gc_dgemm_fn dgemm)
    int gc_have_gemm()
    int gc_use_cblas(void *cblas_sgemm, void *cblas_dgemm, void *threads_local)
    void gc_gemm_f32(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, int64_t ldc)
    void gc_gemm_f64(int transa, int transb, int64_t M, int64_t N, int64_t K, double alpha,
                     const double *A, int64_t lda, const double *B, int64_t ldb, double beta,
                     double *C, int64_t ldc)


# ---- keep scipy's OpenBLAS on 1 thread for gradcore's calls only ----------------------------
# DESIGN: the BLAS runs on 1 thread and gradcore's OpenMP threads split large products. scipy's
# OpenBLAS (pthreads build) otherwise starts its own threads inside our OpenMP regions: measured
# 8x slower LSTM steps and thousands of "OpenBLAS Warning : Detect OpenMP Loop" lines. OpenBLAS
# >= 0.3.27 has openblas_set_num_threads_local (thread-local count, returns the previous one):
# each call below sets 1 and restores the caller's value, so scipy.linalg users see no change.
ctypedef int (*_blas_threads_fn)(int) noexcept nogil
cdef _blas_threads_fn _blas_threads_local = NULL


def _find_openblas_threads_local():
    """Address of openblas_set_num_threads_local in scipy's bundled OpenBLAS, or 0."""
    import ctypes
    import glob
    import os

    import scipy
    root = os.path.dirname(os.path.dirname(scipy.__file__))
    for pat in ("scipy.libs/libscipy_openblas*.so*", "scipy/.dylibs/libscipy_openblas*.dylib",
                "scipy.libs/libscipy_openblas*.dll"):
        for path in glob.glob(os.path.join(root, pat)):
            try:
                lib = ctypes.CDLL(path)
                return ctypes.cast(lib.openblas_set_num_threads_local, ctypes.c_void_p).value or 0
            except (OSError, AttributeError):
                continue
    return 0


cdef size_t _addr_threads_local = _find_openblas_threads_local()
if _addr_threads_local:
    _blas_threads_local = <_blas_threads_fn>_addr_threads_local
BLAS_THREADS_PINNED = _blas_threads_local != NULL


# ---- GEMM provider: scipy's OpenBLAS (Fortran, column-major) as a row-major GEMM -----------
# Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
# (The Fortran interface takes int dimensions: sizes above 2^31 are rejected by the bindings.)

cdef void _gemm_rowmajor(int transa, int transb, int64_t M, int64_t N, int64_t K,
                         floating alpha, const floating *A, int64_t lda, const floating *B,
                         int64_t ldb, floating beta, floating *C, int64_t ldc) noexcept nogil:
    cdef char ta = b'T' if transb else b'N'
    cdef char tb = b'T' if transa else b'N'
    cdef int m = <int>N, n = <int>M, k = <int>K
    cdef int la = <int>ldb, lb = <int>lda, lc = <int>ldc
    if la < 1:
        la = 1
    if lb < 1:
        lb = 1
    cdef int prev = 0
    if _blas_threads_local != NULL:
        prev = _blas_threads_local(1)
    if floating is float:
        _f_sgemm(&ta, &tb, &m, &n, &k, &alpha, <float *>B, &la, <float *>A, &lb, &beta, C, &lc)
    else:
        _f_dgemm(&ta, &tb, &m, &n, &k, &alpha, <double *>B, &la, <double *>A, &lb, &beta, C,
                 &lc)
    if _blas_threads_local != NULL:
        _blas_threads_local(prev)


gc_set_gemm(_gemm_rowmajor[float], _gemm_rowmajor[double])
if not gc_have_gemm():  # gc_gemm_* call the provider unchecked: it must be set before any use
    raise ImportError("gradcore._kernels: no GEMM provider could be set")
GEMM_PROVIDER = "openblas"


def use_openblas():
    """Route every kernel GEMM to scipy's OpenBLAS (the default provider)."""
    global GEMM_PROVIDER
    gc_set_gemm(_gemm_rowmajor[float], _gemm_rowmajor[double])
    GEMM_PROVIDER = "openblas"


def use_cblas(size_t sgemm_address, size_t dgemm_address, str name,
              size_t threads_local_address=0):
    """Route every kernel GEMM to a row-major LP64 CBLAS whose ``cblas_sgemm``/``cblas_dgemm``
    live at these addresses (``gradcore._gemm`` loads MKL this way). The library must stay
    loaded. ``threads_local_address``: ``int f(int)`` that sets the calling thread's thread
    count and returns the previous one (MKL's ``MKL_Set_Num_Threads_Local``); every GEMM then
    runs with 1 and restores it. Without it the library must be single-threaded."""
    global GEMM_PROVIDER
    if gc_use_cblas(<void *>sgemm_address, <void *>dgemm_address,
                    <void *>threads_local_address) != GC_OK:
        raise ValueError("use_cblas: cblas_sgemm and cblas_dgemm addresses must be non-zero")
    GEMM_PROVIDER = name


def gemm_provider():
    """Name of the GEMM provider the kernels call: "openblas" or "mkl"."""
    return GEMM_PROVIDER


def gemm(const floating[:, ::1] A, const floating[:, ::1] B, floating[:, ::1] C,
         bint transa=False, bint transb=False, double alpha=1.0, double beta=0.0):
    """``C = alpha op(A) @ op(B) + beta C`` through the kernels' GEMM path (tests, bench).

    A, B, C: C-contiguous 2-D arrays of one float dtype; op(X) = X.T if trans. C is written.
    """
    cdef int64_t M = A.shape[1] if transa else A.shape[0]
    cdef int64_t K = A.shape[0] if transa else A.shape[1]
    cdef int64_t KB = B.shape[1] if transb else B.shape[0]
    cdef int64_t N = B.shape[0] if transb else B.shape[1]
    if K != KB:
        raise ValueError(f"gemm: inner dimensions differ: op(A) is [{M},{K}], op(B) is [{KB},{N}]")
    if C.shape[0] != M or C.shape[1] != N:
        raise ValueError(f"gemm: C must be [{M},{N}], got [{C.shape[0]},{C.shape[1]}]")
    if max(M, N, K) >= 2**31:
        raise ValueError(f"gemm: dimensions must be < 2**31, got M={M} N={N} K={K}")
    if M == 0 or N == 0:
        return
    with nogil:
        if floating is float:
            gc_gemm_f32(transa, transb, M, N, K, <float>alpha, &A[0, 0] if A.shape[0] * A.shape[1] else NULL,
                        A.shape[1], &B[0, 0] if B.shape[0] * B.shape[1] else NULL, B.shape[1],
                        <float>beta, &C[0, 0], C.shape[1])
        else:
            gc_gemm_f64(transa, transb, M, N, K, alpha, &A[0, 0] if A.shape[0] * A.shape[1] else NULL,
                        A.shape[1], &B[0, 0] if B.shape[0] * B.shape[1] else NULL, B.shape[1],
                        beta, &C[0, 0], C.shape[1])


#: Hard cap of the kernels' thread count (C's GC_MAX_THREADS); gradcore.threads.MAX_THREADS,
#: the public cap, is at most this.
MAX_THREADS = GC_MAX_THREADS


def max_threads():
    """The configured thread count of the kernels, process-wide (1 without OpenMP). It decides
    how work is chunked; a region may still run on fewer threads (see fork_policy)."""
    return gc_max_threads()


def set_num_threads(n):
    """Set the kernels' thread count, process-wide: an int (or NumPy integer) in
    [1, MAX_THREADS]; ``ValueError`` otherwise (never an ``OverflowError``)."""
    import operator
    if isinstance(n, bool):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    n = operator.index(n)
    if not 1 <= n <= GC_MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be in [1, {GC_MAX_THREADS}], got {n}")
    gc_set_num_threads(<int>n)


def fork_policy(adaptive=None, fork_scale=None, backoff=None):
    """Read, and optionally change, the fork policy of the kernels (kernels/gc_parallel.h).

    ``adaptive`` (bool): the contention back-off (default on). ``fork_scale`` (float > 0):
    a region forks from this multiple of its chunking threshold (default 1.0, C's
    GC_FORK_SCALE; larger = fork less; results never change). ``backoff`` (seconds >= 0):
    start a back-off of that length now, as a detected
    contention would (0 ends it; tests use it). Returns a dict: ``adaptive``,
    ``fork_scale``, ``contended`` (regions found contended since import), ``backoff_left``
    (seconds)."""
    cdef int64_t contended = 0, left = 0
    if adaptive is not None:
        gc_par_set_adaptive(1 if adaptive else 0)
    if fork_scale is not None:
        if not fork_scale > 0:
            raise ValueError(f"fork_policy: fork_scale must be > 0, got {fork_scale!r}")
        gc_par_set_fork_scale(float(fork_scale))
    if backoff is not None:
        if not 0 <= backoff <= 3600:
            raise ValueError(f"fork_policy: backoff must be in [0, 3600] s, got {backoff!r}")
        gc_par_backoff(<int64_t>(float(backoff) * 1e9))
    gc_par_stats(&contended, &left)
    return {"adaptive": bool(gc_par_get_adaptive()), "fork_scale": gc_par_get_fork_scale(),
            "contended": int(contended), "backoff_left": left / 1e9}


def have_openmp():
    """True if the kernels were compiled with OpenMP."""
    return bool(gc_have_openmp())


# ---- the kernel families, one file each (the checks first: every family uses them) ----------
include "_kernels_checks.pxi"
include "_kernels_dense.pxi"
include "_kernels_loss.pxi"
include "_kernels_optim.pxi"
include "_kernels_norms.pxi"
include "_kernels_batchnorm.pxi"
include "_kernels_layernorm.pxi"
include "_kernels_lstm.pxi"
include "_kernels_rnn.pxi"
include "_kernels_stats.pxi"
