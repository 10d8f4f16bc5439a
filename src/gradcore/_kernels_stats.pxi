# Bindings of the stats family (kernels/stats.c).
# Contract: docs/kernels.md ("stats"). Typed memoryviews (const for inputs: read-only arrays
# work; C-contiguous only), fused `floating` dispatch, every size checked before `with nogil:`
# so the kernel can never read or write out of bounds. The argument checks of the contract
# (dtypes, shapes, sat, threshold, overlap) are also done by gradcore.backends.c.stats through
# gradcore.backends._validate, so every backend raises the same exception types.

cdef extern from "gradcore/stats.h" nogil:
    int GC_STATS_NOUT
    int gc_stats_act_stats_f32(const float *x, int64_t M, int64_t C, int sat, double threshold,
                               int64_t *colnz, double *out)
    int gc_stats_act_stats_f64(const double *x, int64_t M, int64_t C, int sat,
                               double threshold, int64_t *colnz, double *out)
    int gc_stats_segment_delta_sumsq_f32(const float *new_, float *prev, const int64_t *offsets,
                                         int64_t nseg, double *delta_sumsq, double *new_sumsq)
    int gc_stats_segment_delta_sumsq_f64(const double *new_, double *prev,
                                         const int64_t *offsets, int64_t nseg,
                                         double *delta_sumsq, double *new_sumsq)


def act_stats(const floating[::1] x, int64_t M, int64_t C, int sat, double threshold,
              int64_t[::1] colnz, double[::1] out):
    """One-pass statistics of ``x`` viewed as ``[M, C]`` (``x`` flat, ``M*C`` elements).

    sat: 0 none, 1 sigmoid, 2 tanh; threshold >= 0. colnz: [C] int64 (out, non-zero count per
    column); out: [6] float64 = [sum, sumsq, min, max, n_saturated, n_nonfinite].
    """
    if M < 0 or C < 0 or x.shape[0] != M * C:
        raise ValueError(f"act_stats: x must hold M*C = {M}*{C} elements, got {x.shape[0]}")
    if sat < 0 or sat > 2:
        raise ValueError(f"act_stats: sat must be 0 (none), 1 (sigmoid) or 2 (tanh), got {sat}")
    if not threshold >= 0:
        raise ValueError(f"act_stats: threshold must be >= 0, got {threshold}")
    if colnz.shape[0] != C:
        raise ValueError(f"act_stats: colnz must have C = {C} entries, got {colnz.shape[0]}")
    if out.shape[0] != GC_STATS_NOUT:
        raise ValueError(f"act_stats: out must have {GC_STATS_NOUT} entries, got {out.shape[0]}")
    # an empty x or colnz has no addressable element 0: dummies (never read or written)
    cdef double dummy = 0.0
    cdef int64_t idummy = 0
    cdef int64_t *pc = &colnz[0] if C else &idummy
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_stats_act_stats_f32(&x[0] if M * C else <const float *>&dummy, M, C, sat,
                                        threshold, pc, &out[0])
        else:
            rc = gc_stats_act_stats_f64(&x[0] if M * C else <const double *>&dummy, M, C, sat,
                                        threshold, pc, &out[0])
    if rc != GC_OK:
        raise ValueError(f"act_stats: bad sizes or sat (status {rc})")


cdef tuple _DELTA_NAMES = ("prev", "new")


def segment_delta_sumsq(const floating[::1] new, floating[::1] prev, const int64_t[::1] offsets,
                        double[::1] delta_sumsq, double[::1] new_sumsq):
    """Per segment ``sum((new - prev)^2)`` and ``sum(new^2)`` in float64, then ``prev[:] = new``.

    new, prev: [P] (one dtype; prev written, must not overlap new); offsets: [S+1] int64
    (0 = offsets[0] <= ... <= offsets[S] = P); delta_sumsq, new_sumsq: [S] float64 (out).
    """
    op = "segment_delta_sumsq"
    cdef Py_ssize_t n = new.shape[0]
    if prev.shape[0] != n:
        raise ValueError(f"{op}: prev must have len(new) = {n} elements, got {prev.shape[0]}")
    _check_segments(op, n, offsets, delta_sumsq.shape[0], new_sumsq.shape[0])
    cdef const void *ptr[2]
    cdef Py_ssize_t nbytes[2]
    if n:
        ptr[0], ptr[1] = &prev[0], &new[0]
        nbytes[0] = nbytes[1] = n * sizeof(floating)
        _disjoint(op, 1, 2, ptr, nbytes, _DELTA_NAMES, False)
    cdef int64_t nseg = offsets.shape[0] - 1
    cdef int rc
    if nseg == 0:
        return
    cdef double dummy = 0.0
    with nogil:
        if floating is float:
            rc = gc_stats_segment_delta_sumsq_f32(
                &new[0] if n else <const float *>&dummy, &prev[0] if n else <float *>&dummy,
                &offsets[0], nseg, &delta_sumsq[0], &new_sumsq[0])
        else:
            rc = gc_stats_segment_delta_sumsq_f64(
                &new[0] if n else <const double *>&dummy, &prev[0] if n else &dummy,
                &offsets[0], nseg, &delta_sumsq[0], &new_sumsq[0])
    if rc != GC_OK:
        raise ValueError(f"{op}: offsets must be non-decreasing")
