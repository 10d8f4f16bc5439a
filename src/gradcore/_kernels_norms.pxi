# Bindings of the norms family (kernels/norms.c): per-segment sum of squares / abs-max with
# non-finite counts over a flat parameter arena, and the in-place scale and clip of the
# gradient clipping. Contract: docs/kernels.md. Typed memoryviews (const for inputs:
# read-only arrays work; C-contiguous only), every size checked before `with nogil:`.

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


cdef int _check_segments(str op, Py_ssize_t n, const int64_t[::1] offsets, Py_ssize_t nout1,
                         Py_ssize_t nout2) except -1:
    """offsets [S+1] cut a flat buffer of n elements; both per-segment outputs have S entries.
    (Non-decreasing offsets are checked by the kernel: GC_EBADSIZE, nothing written.)"""
    cdef Py_ssize_t nseg = offsets.shape[0] - 1
    if offsets.shape[0] < 1:
        raise ValueError(f"{op}: offsets must have at least one entry (offsets[0] == 0), "
                         "got none")
    if offsets[0] != 0 or offsets[nseg] != n:
        raise ValueError(
            f"{op}: offsets must start at 0 and end at len(flat)={n}, "
            f"got offsets[0]={offsets[0]}, offsets[-1]={offsets[nseg]}")
    if nout1 != nseg or nout2 != nseg:
        raise ValueError(
            f"{op}: outputs must have len(offsets)-1={nseg} entries, got {nout1} and {nout2}")
    return 0


cdef int _segment_reduce(str op, bint absmax, const floating[::1] flat,
                         const int64_t[::1] offsets, double[::1] out,
                         int64_t[::1] nonfinite) except -1:
    """segment_sumsq (absmax False) and segment_absmax (True): one body, two kernels."""
    _check_segments(op, flat.shape[0], offsets, out.shape[0], nonfinite.shape[0])
    cdef int64_t nseg = offsets.shape[0] - 1
    cdef int rc
    if nseg == 0:
        return 0
    # an empty flat buffer has no addressable element 0: use a dummy pointer
    cdef double dummy = 0.0
    cdef const floating *px = &flat[0] if flat.shape[0] else <const floating *>&dummy
    with nogil:
        if floating is float:
            if absmax:
                rc = gc_norms_segment_absmax_f32(px, &offsets[0], nseg, &out[0], &nonfinite[0])
            else:
                rc = gc_norms_segment_sumsq_f32(px, &offsets[0], nseg, &out[0], &nonfinite[0])
        else:
            if absmax:
                rc = gc_norms_segment_absmax_f64(px, &offsets[0], nseg, &out[0], &nonfinite[0])
            else:
                rc = gc_norms_segment_sumsq_f64(px, &offsets[0], nseg, &out[0], &nonfinite[0])
    if rc != GC_OK:
        raise ValueError(f"{op}: offsets must be non-decreasing")
    return 0


def segment_sumsq(const floating[::1] flat, const int64_t[::1] offsets,
                  double[::1] sumsq, int64_t[::1] nonfinite):
    """Per-segment sum of squares (float64 accumulation) and non-finite counts.

    flat: [P] float32/float64; offsets: [S+1] int64 (0 = offsets[0] <= ... <= offsets[S] = P);
    sumsq: [S] float64 (out); nonfinite: [S] int64 (out).
    """
    _segment_reduce("segment_sumsq", False, flat, offsets, sumsq, nonfinite)


def segment_absmax(const floating[::1] flat, const int64_t[::1] offsets,
                   double[::1] absmax, int64_t[::1] nonfinite):
    """Per-segment max |x| (NaN if the segment holds a NaN) and non-finite counts."""
    _segment_reduce("segment_absmax", True, flat, offsets, absmax, nonfinite)


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
        raise ValueError(f"clip_value_: clip must be >= 0, got {clip}")
    if n == 0:
        return
    with nogil:
        if floating is float:
            gc_norms_clip_value_f32(&flat[0], n, <float>clip)
        else:
            gc_norms_clip_value_f64(&flat[0], n, clip)
