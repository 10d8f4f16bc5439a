# Bindings of the loss family (kernels/loss.c): softmax cross-entropy, MSE, BCE with logits.
# Contract: docs/kernels.md; checks: _kernels_checks.pxi. Elementwise losses view their
# arrays flat (any shape, >= 1 element). Every loss returns a float (double math throughout).

cimport cython

cdef extern from "gradcore/loss.h" nogil:
    int gc_loss_softmax_xent_f32(const float *z, const int64_t *labels, int64_t N, int64_t K,
                                 float *dz, double *loss)
    int gc_loss_softmax_xent_f64(const double *z, const int64_t *labels, int64_t N, int64_t K,
                                 double *dz, double *loss)
    int gc_loss_mse_f32(const float *p, const float *t, int64_t n, float *dp, double *loss)
    int gc_loss_mse_f64(const double *p, const double *t, int64_t n, double *dp, double *loss)
    int gc_loss_bce_with_logits_f32(const float *z, const float *t, int64_t n, float *dz,
                                    double *loss)
    int gc_loss_bce_with_logits_f64(const double *z, const double *t, int64_t n, double *dz,
                                    double *loss)


cdef tuple _XENT_NAMES = ("dlogits", "logits", "labels")


cdef int _softmax_xent(const floating[:, ::1] z, const int64_t[::1] labels,
                       floating[:, ::1] dz, double *loss) except -1:
    """Returns the kernel status (GC_OK or GC_EBADLABEL: nothing written)."""
    cdef int64_t N = z.shape[0], K = z.shape[1]
    cdef int rc
    cdef floating *pdz = NULL
    cdef Py_ssize_t nz = N * K * sizeof(floating)
    cdef const void *ptr[3]
    cdef Py_ssize_t nbytes[3]
    if dz is not None:
        pdz = &dz[0, 0]
        ptr[0], ptr[1], ptr[2] = pdz, &z[0, 0], &labels[0]
        nbytes[0], nbytes[1], nbytes[2] = nz, nz, N * 8
        _disjoint("softmax_xent", 1, 3, ptr, nbytes, _XENT_NAMES, False)
    with nogil:
        if floating is float:
            rc = gc_loss_softmax_xent_f32(&z[0, 0], &labels[0], N, K, pdz, loss)
        else:
            rc = gc_loss_softmax_xent_f64(&z[0, 0], &labels[0], N, K, pdz, loss)
    return rc


def softmax_xent(logits, labels, dlogits):
    """Mean softmax cross-entropy; writes ``dlogits = (softmax - onehot) / N`` unless None.

    logits [N,K] float32/float64 (N >= 1), labels [N] integer in [0, K). Returns a float.
    """
    op = "softmax_xent"
    dt = _float_dtype(op, "logits", logits)
    _check_ndim(op, "logits", logits, 2, "[N, K]")
    _check(op, "logits", logits, dt, None, False, "logits")
    N, K = logits.shape
    if N == 0:
        raise ValueError(
            f"{op}: logits must have a non-empty batch, got N = 0 (the mean over zero samples "
            "is undefined)")
    if not isinstance(labels, _NDARRAY) or labels.dtype.kind not in "iu":
        got = labels.dtype if isinstance(labels, _NDARRAY) else type(labels).__name__
        raise TypeError(f"{op}: labels must be an integer ndarray (int64), got {got}")
    if labels.shape != (N,):
        raise ValueError(f"{op}: labels must have shape (N,) = ({N},), got {labels.shape}")
    if not labels.flags.c_contiguous:
        raise ValueError(f"{op}: labels must be C-contiguous, got strides {labels.strides} "
                         "(pass np.ascontiguousarray(labels))")
    lab = labels if labels.dtype == _I64 else labels.astype(_I64)
    if dlogits is not None:
        _check(op, "dlogits", dlogits, dt, (N, K), True, "logits")
    cdef double loss = 0.0
    cdef int rc
    if dt == _F32:
        rc = _softmax_xent[cython.float](logits, lab, dlogits, &loss)
    else:
        rc = _softmax_xent[cython.double](logits, lab, dlogits, &loss)
    if rc == GC_EBADLABEL:
        bad = _np.flatnonzero((labels < 0) | (labels >= K))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{op}: labels must be in [0, {K}) for {K} classes, got labels[{i}] = "
                f"{int(labels[i])} ({bad.size} label(s) out of range)")
    if rc != GC_OK:
        raise ValueError(f"{op}: kernel status {rc} for logits{list(logits.shape)}")
    return loss


cdef double _mse_bce(int which, const floating[::1] p, const floating[::1] t,
                     floating[::1] dp, tuple names) except? -1:
    cdef int64_t n = p.shape[0]
    cdef double loss = 0.0
    cdef floating *pdp = NULL
    cdef Py_ssize_t nb = n * sizeof(floating)
    cdef const void *ptr[3]
    cdef Py_ssize_t nbytes[3]
    if dp is not None:
        pdp = &dp[0]
        ptr[0], ptr[1], ptr[2] = pdp, &p[0], &t[0]
        nbytes[0], nbytes[1], nbytes[2] = nb, nb, nb
        _disjoint(names[3], 1, 3, ptr, nbytes, names, True)
    with nogil:
        if floating is float:
            if which == 0:
                gc_loss_mse_f32(&p[0], &t[0], n, pdp, &loss)
            else:
                gc_loss_bce_with_logits_f32(&p[0], &t[0], n, pdp, &loss)
        else:
            if which == 0:
                gc_loss_mse_f64(&p[0], &t[0], n, pdp, &loss)
            else:
                gc_loss_bce_with_logits_f64(&p[0], &t[0], n, pdp, &loss)
    return loss


cdef object _elementwise_loss(int which, object p, object t, object dp, tuple names):
    """names: (output, prediction, target, op)"""
    dname, pname, tname, op = names
    dt = _float_dtype(op, pname, p)
    _check(op, pname, p, dt, None, False, pname)
    if not isinstance(t, _NDARRAY) or t.shape != p.shape:
        got = t.shape if isinstance(t, _NDARRAY) else type(t).__name__
        raise ValueError(f"{op}: {tname} must have the same shape as {pname} {p.shape} (no "
                         f"broadcasting), got {got}")
    _check(op, tname, t, dt, None, False, pname)
    if p.size == 0:
        raise ValueError(f"{op}: {pname} must not be empty, got shape {p.shape} (the mean "
                         "over zero elements is undefined)")
    if dp is not None:
        _check(op, dname, dp, dt, p.shape, True, pname)
        dp = dp.reshape(-1)
    if dt == _F32:
        return _mse_bce[cython.float](which, p.reshape(-1), t.reshape(-1), dp, names)
    return _mse_bce[cython.double](which, p.reshape(-1), t.reshape(-1), dp, names)


cdef tuple _MSE_NAMES = ("dpred", "pred", "target", "mse")
cdef tuple _BCE_NAMES = ("dlogits", "logits", "target", "bce_with_logits")


def mse(pred, target, dpred):
    """Mean of ``(p - t)^2`` over all elements; ``dpred = 2 (p - t) / numel`` unless None.

    pred, target, dpred: one shape and dtype (any shape, >= 1 element); dpred may be pred or
    target itself. Returns a float (double math throughout).
    """
    return _elementwise_loss(0, pred, target, dpred, _MSE_NAMES)


def bce_with_logits(logits, target, dlogits):
    """Mean of ``max(z,0) - z t + log1p(exp(-|z|))``; ``dlogits = (sigmoid(z) - t) / numel``.

    logits, target, dlogits: one shape and dtype (>= 1 element). Returns a float.
    """
    return _elementwise_loss(1, logits, target, dlogits, _BCE_NAMES)
