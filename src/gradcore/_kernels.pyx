# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython bindings of the C99 kernels in ``kernels/``.

Thin wrappers in the style of scikit-learn: typed memoryviews (``const`` for inputs, so
read-only arrays work; C-contiguity is required and a non-contiguous array raises
``ValueError``), a fused ``floating`` type dispatching to the ``_f32``/``_f64`` kernel, every
shape and size checked before ``with nogil:``. So far: the norms family (issue 2); the other
families follow behind the same contract (``docs/kernels.md``).
"""

from cython cimport floating
from libc.stdint cimport int64_t

cdef extern from "gradcore/common.h" nogil:
    int GC_OK
    int GC_EBADSIZE
    int gc_max_threads()
    void gc_set_num_threads(int n)
    int gc_have_openmp()

cdef extern from "gradcore/norms.h" nogil:
    int gc_norms_segment_sumsq_f32(const float *x, const int64_t *offsets, int64_t nseg,
                                   double *sumsq, int64_t *nonfinite)
    int gc_norms_segment_sumsq_f64(const double *x, const int64_t *offsets, int64_t nseg,
                                   double *sumsq, int64_t *nonfinite)
    int gc_norms_segment_absmax_f32(const float *x, const int64_t *offsets, int64_t nseg,
                                    double *absmax, int64_t *nonfinite)
    int gc_norms_segment_absmax_f64(const double *x, const int64_t *offsets, int64_t nseg,
                                    double *absmax, int64_t *nonfinite)
    void gc_norms_scale_f32(float *x, int64_t n, float alpha)
    void gc_norms_scale_f64(double *x, int64_t n, double alpha)
    void gc_norms_clip_value_f32(float *x, int64_t n, float clip)
    void gc_norms_clip_value_f64(double *x, int64_t n, double clip)


def max_threads():
    """Threads an OpenMP region in the kernels would use (1 without OpenMP)."""
    return gc_max_threads()


def set_num_threads(int n):
    """Set the kernels' OpenMP thread count (n >= 1)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    gc_set_num_threads(n)


def have_openmp():
    """True if the kernels were compiled with OpenMP."""
    return bool(gc_have_openmp())


cdef int _check_segments(Py_ssize_t n, const int64_t[::1] offsets, Py_ssize_t nout1,
                         Py_ssize_t nout2) except -1:
    cdef Py_ssize_t nseg = offsets.shape[0] - 1
    if offsets.shape[0] < 1:
        raise ValueError("offsets must have at least one entry (offsets[0] == 0)")
    if offsets[0] != 0 or offsets[nseg] != n:
        raise ValueError(
            f"offsets must start at 0 and end at len(flat)={n}, "
            f"got offsets[0]={offsets[0]}, offsets[-1]={offsets[nseg]}")
    if nout1 != nseg or nout2 != nseg:
        raise ValueError(
            f"outputs must have len(offsets)-1={nseg} entries, got {nout1} and {nout2}")
    return 0


def segment_sumsq(const floating[::1] flat, const int64_t[::1] offsets,
                  double[::1] sumsq, int64_t[::1] nonfinite):
    """Per-segment sum of squares (float64 accumulation) and non-finite counts.

    flat: [P] float32/float64; offsets: [S+1] int64 (0 = offsets[0] <= ... <= offsets[S] = P);
    sumsq: [S] float64 (out); nonfinite: [S] int64 (out).
    """
    _check_segments(flat.shape[0], offsets, sumsq.shape[0], nonfinite.shape[0])
    cdef int64_t nseg = offsets.shape[0] - 1
    cdef int rc
    if nseg == 0:
        return
    # an empty flat buffer has no addressable element 0: use a dummy pointer
    cdef double dummy = 0.0
    with nogil:
        if floating is float:
            rc = gc_norms_segment_sumsq_f32(
                &flat[0] if flat.shape[0] else <const float *>&dummy,
                &offsets[0], nseg, &sumsq[0], &nonfinite[0])
        else:
            rc = gc_norms_segment_sumsq_f64(
                &flat[0] if flat.shape[0] else <const double *>&dummy,
                &offsets[0], nseg, &sumsq[0], &nonfinite[0])
    if rc != GC_OK:
        raise ValueError("offsets must be non-decreasing")


def segment_absmax(const floating[::1] flat, const int64_t[::1] offsets,
                   double[::1] absmax, int64_t[::1] nonfinite):
    """Per-segment max |x| (NaN if the segment holds a NaN) and non-finite counts."""
    _check_segments(flat.shape[0], offsets, absmax.shape[0], nonfinite.shape[0])
    cdef int64_t nseg = offsets.shape[0] - 1
    cdef int rc
    if nseg == 0:
        return
    cdef double dummy = 0.0
    with nogil:
        if floating is float:
            rc = gc_norms_segment_absmax_f32(
                &flat[0] if flat.shape[0] else <const float *>&dummy,
                &offsets[0], nseg, &absmax[0], &nonfinite[0])
        else:
            rc = gc_norms_segment_absmax_f64(
                &flat[0] if flat.shape[0] else <const double *>&dummy,
                &offsets[0], nseg, &absmax[0], &nonfinite[0])
    if rc != GC_OK:
        raise ValueError("offsets must be non-decreasing")


def scale_(floating[::1] flat, double alpha):
    """In place: flat *= alpha (alpha rounded to flat's dtype first, as torch's mul_)."""
    cdef int64_t n = flat.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is float:
            gc_norms_scale_f32(&flat[0], n, <float>alpha)
        else:
            gc_norms_scale_f64(&flat[0], n, alpha)


def clip_value_(floating[::1] flat, double clip):
    """In place: flat = clamp(flat, -clip, clip); NaN stays NaN."""
    cdef int64_t n = flat.shape[0]
    if clip < 0:
        raise ValueError(f"clip must be >= 0, got {clip}")
    if n == 0:
        return
    with nogil:
        if floating is float:
            gc_norms_clip_value_f32(&flat[0], n, <float>clip)
        else:
            gc_norms_clip_value_f64(&flat[0], n, clip)
