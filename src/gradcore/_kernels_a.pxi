# Bindings of the dense (+ elementwise activations), loss and optim kernel families
# (kernels/dense.c, loss.c, optim.c). Included at the end of _kernels.pyx.
#
# Every function has the exact signature of the contract (docs/kernels.md) and is re-exported
# as is by gradcore.backends.c. Validation happens here, before `with nogil:`, and raises:
#   TypeError   not a NumPy array, not float32/float64, dtypes that differ between arguments,
#               non-integer labels;
#   ValueError  wrong rank or shape, a NON-CONTIGUOUS array (no silent copy: an output could
#               not be written back, and a hidden copy of an input costs a pass; callers copy
#               with np.ascontiguousarray), a read-only output, outputs overlapping arguments
#               they would corrupt, unknown activation, label out of range, empty loss input,
#               bad hyper-parameters (nesterov, step).
# Read-only inputs are accepted (const memoryviews). Arrays of any rank are viewed flat where
# the op is elementwise (activations, mse, bce, optim), which is free for contiguous arrays.

cimport cython
import numpy as _np

cdef extern from "gradcore/common.h" nogil:
    int GC_EBADARG
    int GC_EBADLABEL

cdef extern from "gradcore/dense.h" nogil:
    int gc_dense_act_forward_f32(const float *x, float *y, int64_t n, int act)
    int gc_dense_act_forward_f64(const double *x, double *y, int64_t n, int act)
    int gc_dense_act_backward_f32(const float *dy, const float *x, const float *y, float *dx,
                                  int64_t n, int act)
    int gc_dense_act_backward_f64(const double *dy, const double *x, const double *y,
                                  double *dx, int64_t n, int act)
    int gc_dense_forward_f32(const float *x, const float *W, const float *b, int64_t N,
                             int64_t I, int64_t O, int act, float *z, float *y)
    int gc_dense_forward_f64(const double *x, const double *W, const double *b, int64_t N,
                             int64_t I, int64_t O, int act, double *z, double *y)
    int gc_dense_backward_f32(const float *dy, const float *x, const float *W, const float *z,
                              const float *y, int64_t N, int64_t I, int64_t O, int act,
                              float *dz, float *dx, float *dW, float *db)
    int gc_dense_backward_f64(const double *dy, const double *x, const double *W,
                              const double *z, const double *y, int64_t N, int64_t I,
                              int64_t O, int act, double *dz, double *dx, double *dW,
                              double *db)

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

cdef extern from "gradcore/optim.h" nogil:
    int gc_optim_sgd_step_f32(float *p, const float *g, float *buf, int64_t n, double lr,
                              double momentum, double dampening, int nesterov,
                              double weight_decay, int first)
    int gc_optim_sgd_step_f64(double *p, const double *g, double *buf, int64_t n, double lr,
                              double momentum, double dampening, int nesterov,
                              double weight_decay, int first)
    int gc_optim_rmsprop_step_f32(float *p, const float *g, float *square_avg, float *grad_avg,
                                  float *mom_buf, int64_t n, double lr, double alpha,
                                  double eps, double weight_decay, double momentum,
                                  int centered)
    int gc_optim_rmsprop_step_f64(double *p, const double *g, double *square_avg,
                                  double *grad_avg, double *mom_buf, int64_t n, double lr,
                                  double alpha, double eps, double weight_decay,
                                  double momentum, int centered)
    int gc_optim_adagrad_step_f32(float *p, const float *g, float *state_sum, int64_t n,
                                  double lr, double lr_decay, double weight_decay, double eps,
                                  int64_t step)
    int gc_optim_adagrad_step_f64(double *p, const double *g, double *state_sum, int64_t n,
                                  double lr, double lr_decay, double weight_decay, double eps,
                                  int64_t step)
    int gc_optim_adam_step_f32(float *p, const float *g, float *m, float *v, float *vmax,
                               int64_t n, double lr, double beta1, double beta2, double eps,
                               double weight_decay, int64_t step, int amsgrad, int decoupled)
    int gc_optim_adam_step_f64(double *p, const double *g, double *m, double *v, double *vmax,
                               int64_t n, double lr, double beta1, double beta2, double eps,
                               double weight_decay, int64_t step, int amsgrad, int decoupled)


#: activation names in kernel-code order (gradcore.backends.ACTIVATIONS; a test checks this)
ACTIVATION_CODES = {name: i for i, name in enumerate(
    ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "silu", "gelu"))}

cdef object _F32 = _np.dtype(_np.float32)
cdef object _F64 = _np.dtype(_np.float64)
cdef object _I64 = _np.dtype(_np.int64)
cdef object _NDARRAY = _np.ndarray


# ---- validation helpers (Python level, before nogil) ---------------------------------------

cdef int _act_code(object act) except -1:
    code = ACTIVATION_CODES.get(act) if isinstance(act, str) else None
    if code is None:
        valid = ", ".join(repr(a) for a in ACTIVATION_CODES)
        raise ValueError(f"unknown activation {act!r}; valid activations are: {valid}")
    return code


cdef object _float_dtype(str name, object a):
    """The dtype of a float32/float64 ndarray ``a``, else TypeError."""
    if not isinstance(a, _NDARRAY):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    dt = a.dtype
    if dt != _F32 and dt != _F64:
        raise TypeError(f"{name} must be a float32 or float64 array, got dtype {dt}")
    return dt


cdef int _check(str name, object a, object dtype, object shape, bint out, str ref) except -1:
    """ndarray of ``dtype`` (the dtype of argument ``ref``), of ``shape`` (if not None),
    C-contiguous, and writeable if it is an output."""
    if not isinstance(a, _NDARRAY):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the dtype of {ref}), got {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {list(shape)}, got {list(a.shape)}")
    if not a.flags.c_contiguous:
        raise ValueError(
            f"{name} must be C-contiguous, got a non-contiguous array (strides {a.strides}); "
            f"pass np.ascontiguousarray({name})")
    if out and not a.flags.writeable:
        raise ValueError(f"{name} is an output and must be writeable, got a read-only array")
    return 0


cdef int _check_ndim(str name, object a, int ndim, str what) except -1:
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {what}, got shape {list(a.shape)}")
    return 0


cdef inline bint _ovl(const void *a, Py_ssize_t na, const void *b, Py_ssize_t nb) noexcept nogil:
    """True if the byte ranges [a, a+na) and [b, b+nb) intersect (empty ranges never do)."""
    cdef size_t pa = <size_t>a, pb = <size_t>b
    return na > 0 and nb > 0 and pa < pb + <size_t>nb and pb < pa + <size_t>na


cdef int _disjoint(str oname, const void *o, Py_ssize_t on, str iname, const void *i,
                   Py_ssize_t inb, bint same_ok) except -1:
    """Output ``oname`` must not overlap argument ``iname``; if ``same_ok``, it may be the very
    same buffer (elementwise in place)."""
    if same_ok and o == i and on == inb:
        return 0
    if _ovl(o, on, i, inb):
        if same_ok:
            raise ValueError(f"{oname} must be {iname} itself or not overlap it (partial "
                             "overlap would corrupt the result)")
        raise ValueError(f"{oname} must not share memory with {iname}")
    return 0


cdef int _outputs_disjoint(const void **ptr, Py_ssize_t *nbytes, int nout, int n,
                           tuple names) except -1:
    """Buffers 0..nout-1 are outputs: each must be disjoint from every other buffer 0..n-1
    (a C loop: this runs on every call, so no Python objects per pair)."""
    cdef int a, b
    for a in range(nout):
        for b in range(a + 1, n):
            if _ovl(ptr[a], nbytes[a], ptr[b], nbytes[b]):
                raise ValueError(f"{names[a]} must not share memory with {names[b]}")
    return 0


cdef int _check_dims32(int64_t N, int64_t I, int64_t O) except -1:
    if N >= 2**31 or I >= 2**31 or O >= 2**31:
        raise ValueError(f"dense dimensions must be < 2**31 (BLAS int), got N={N} I={I} O={O}")
    return 0


# ---- activations ---------------------------------------------------------------------------

cdef int _act_forward(const floating[::1] x, floating[::1] y, int code) except -1:
    cdef int64_t n = x.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    _disjoint("y", &y[0], nb, "x", &x[0], nb, True)
    with nogil:
        if floating is float:
            gc_dense_act_forward_f32(&x[0], &y[0], n, code)
        else:
            gc_dense_act_forward_f64(&x[0], &y[0], n, code)
    return 0


def act_forward(x, act, y):
    """``y = act(x)`` elementwise, any shape; ``y`` may be ``x`` (in place).

    x: float32/float64 C-contiguous array; y: same shape and dtype (written).
    """
    cdef int code = _act_code(act)
    dt = _float_dtype("x", x)
    _check("x", x, dt, None, False, "x")
    _check("y", y, dt, x.shape, True, "x")
    if x.size == 0:
        return
    if dt == _F32:
        _act_forward[cython.float](x.reshape(-1), y.reshape(-1), code)
    else:
        _act_forward[cython.double](x.reshape(-1), y.reshape(-1), code)


cdef int _act_backward(const floating[::1] dy, const floating[::1] x, const floating[::1] y,
                       floating[::1] dx, int code) except -1:
    cdef int64_t n = x.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    _disjoint("dx", &dx[0], nb, "dy", &dy[0], nb, True)
    _disjoint("dx", &dx[0], nb, "x", &x[0], nb, True)
    _disjoint("dx", &dx[0], nb, "y", &y[0], nb, True)
    with nogil:
        if floating is float:
            gc_dense_act_backward_f32(&dy[0], &x[0], &y[0], &dx[0], n, code)
        else:
            gc_dense_act_backward_f64(&dy[0], &x[0], &y[0], &dx[0], n, code)
    return 0


def act_backward(dy, x, y, act, dx):
    """``dx = dy * act'(x)`` elementwise (``y = act(x)`` given); ``dx`` may be ``dy``.

    All arrays one shape and dtype, C-contiguous; dx written.
    """
    cdef int code = _act_code(act)
    dt = _float_dtype("x", x)
    _check("x", x, dt, None, False, "x")
    _check("dy", dy, dt, x.shape, False, "x")
    _check("y", y, dt, x.shape, False, "x")
    _check("dx", dx, dt, x.shape, True, "x")
    if x.size == 0:
        return
    if dt == _F32:
        _act_backward[cython.float](dy.reshape(-1), x.reshape(-1), y.reshape(-1),
                                    dx.reshape(-1), code)
    else:
        _act_backward[cython.double](dy.reshape(-1), x.reshape(-1), y.reshape(-1),
                                     dx.reshape(-1), code)


# ---- dense ---------------------------------------------------------------------------------

cdef tuple _dense_shapes(object x, object W, object b, str bname):
    dt = _float_dtype("x", x)
    if x.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(
            f"dense expects x[N,I], W[I,O], {bname}[O]; got x{list(x.shape)}, "
            f"W{list(W.shape)}, {bname}{list(b.shape)}")
    N, I = x.shape
    O = W.shape[1]
    if W.shape[0] != I or b.shape[0] != O:
        raise ValueError(
            f"dense shape mismatch: x{list(x.shape)} @ W{list(W.shape)} + {bname}"
            f"{list(b.shape)} (W is [in, out])")
    _check_dims32(N, I, O)
    return dt, N, I, O


cdef int _dense_forward(const floating[:, ::1] x, const floating[:, ::1] W,
                        const floating[::1] b, int code, floating[:, ::1] z,
                        floating[:, ::1] y) except -1:
    cdef int64_t N = x.shape[0], I = x.shape[1], O = W.shape[1]
    cdef Py_ssize_t s = sizeof(floating)
    cdef Py_ssize_t nx = N * I * s, nw = I * O * s, nb = O * s, nz = N * O * s
    for oname, o in (("z", <size_t>&z[0, 0]), ("y", <size_t>&y[0, 0])):
        _disjoint(oname, <void *><size_t>o, nz, "x", &x[0, 0], nx, False)
        _disjoint(oname, <void *><size_t>o, nz, "W", &W[0, 0], nw, False)
        _disjoint(oname, <void *><size_t>o, nz, "b", &b[0], nb, False)
    _disjoint("y", &y[0, 0], nz, "z", &z[0, 0], nz, code == 0)  # y is z: linear only
    with nogil:
        if floating is float:
            gc_dense_forward_f32(&x[0, 0], &W[0, 0], &b[0], N, I, O, code, &z[0, 0], &y[0, 0])
        else:
            gc_dense_forward_f64(&x[0, 0], &W[0, 0], &b[0], N, I, O, code, &z[0, 0], &y[0, 0])
    return 0


def dense_forward(x, W, b, act, z, y):
    """``z = x @ W + b``, ``y = act(z)``: one GEMM, then one fused bias + activation pass.

    x[N,I], W[I,O], b[O], z[N,O] (written), y[N,O] (written; may be z for "linear").
    """
    cdef int code = _act_code(act)
    dt, N, I, O = _dense_shapes(x, W, b, "b")
    _check("x", x, dt, None, False, "x")
    _check("W", W, dt, None, False, "x")
    _check("b", b, dt, None, False, "x")
    _check("z", z, dt, (N, O), True, "x")
    _check("y", y, dt, (N, O), True, "x")
    if N == 0 or O == 0:
        return
    if dt == _F32:
        _dense_forward[cython.float](x, W, b, code, z, y)
    else:
        _dense_forward[cython.double](x, W, b, code, z, y)


cdef tuple _DENSE_BWD_NAMES = ("dW", "db", "scratch dz (ws 'dense_dz')", "dx", "dy", "x", "W",
                               "z", "y")


cdef int _dense_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                         const floating[:, ::1] W, const floating[:, ::1] z,
                         const floating[:, ::1] y, int code, floating[:, ::1] dx,
                         floating[:, ::1] dW, floating[::1] db,
                         floating[:, ::1] dz) except -1:
    cdef int64_t N = x.shape[0], I = x.shape[1], O = W.shape[1]
    cdef Py_ssize_t s = sizeof(floating)
    cdef Py_ssize_t nx = N * I * s, nw = I * O * s, nb = O * s, nz = N * O * s
    cdef floating *pdx = &dx[0, 0] if dx is not None else NULL
    # every output is disjoint from every other argument (dW, db accumulate while dy, x, z, y,
    # dz are read; dx is written by a GEMM that reads dz and W)
    cdef const void *ptr[9]
    cdef Py_ssize_t nbytes[9]
    ptr[0], ptr[1], ptr[2], ptr[3] = &dW[0, 0], &db[0], &dz[0, 0], pdx
    nbytes[0], nbytes[1], nbytes[2], nbytes[3] = nw, nb, nz, nx if pdx != NULL else 0
    ptr[4], ptr[5], ptr[6], ptr[7], ptr[8] = &dy[0, 0], &x[0, 0], &W[0, 0], &z[0, 0], &y[0, 0]
    nbytes[4], nbytes[5], nbytes[6], nbytes[7], nbytes[8] = nz, nx, nw, nz, nz
    _outputs_disjoint(ptr, nbytes, 4, 9, _DENSE_BWD_NAMES)
    with nogil:
        if floating is float:
            gc_dense_backward_f32(&dy[0, 0], &x[0, 0], &W[0, 0], &z[0, 0], &y[0, 0], N, I, O,
                                  code, &dz[0, 0], pdx, &dW[0, 0], &db[0])
        else:
            gc_dense_backward_f64(&dy[0, 0], &x[0, 0], &W[0, 0], &z[0, 0], &y[0, 0], N, I, O,
                                  code, &dz[0, 0], pdx, &dW[0, 0], &db[0])
    return 0


def dense_backward(dy, x, W, z, y, act, dx, dW, db, ws=None):
    """``dz = dy * act'(z)``; ``dW += x^T dz``; ``db += sum_n dz`` (double sums);
    ``dx = dz @ W^T`` unless dx is None.

    dy, z, y [N,O]; x [N,I]; W, dW [I,O]; db [O]; dx [N,I] or None. The dz scratch comes
    from ``ws.get("dense_dz", (N, O), dtype)`` if a Workspace is given, else is allocated.
    """
    cdef int code = _act_code(act)
    dt, N, I, O = _dense_shapes(x, W, db, "db")
    _check("x", x, dt, None, False, "x")
    _check("W", W, dt, None, False, "x")
    _check("dy", dy, dt, (N, O), False, "x")
    _check("z", z, dt, (N, O), False, "x")
    _check("y", y, dt, (N, O), False, "x")
    if dx is not None:
        _check("dx", dx, dt, (N, I), True, "x")
    _check("dW", dW, dt, (I, O), True, "x")
    _check("db", db, dt, (O,), True, "x")
    if N == 0 or O == 0:
        # nothing to accumulate (empty sums); dx = dz W^T is then all zeros
        if dx is not None:
            dx.fill(0)
        return
    dz = ws.get("dense_dz", (N, O), dt) if ws is not None else _np.empty((N, O), dt)
    _check("ws dense_dz", dz, dt, (N, O), True, "x")
    if dt == _F32:
        _dense_backward[cython.float](dy, x, W, z, y, code, dx, dW, db, dz)
    else:
        _dense_backward[cython.double](dy, x, W, z, y, code, dx, dW, db, dz)


# ---- loss ----------------------------------------------------------------------------------

cdef int _softmax_xent(const floating[:, ::1] z, const int64_t[::1] labels,
                       floating[:, ::1] dz, double *loss) except -1:
    """Returns the kernel status (GC_OK or GC_EBADLABEL: nothing written)."""
    cdef int64_t N = z.shape[0], K = z.shape[1]
    cdef int rc
    cdef floating *pdz = NULL
    cdef Py_ssize_t nz = N * K * sizeof(floating)
    if dz is not None:
        pdz = &dz[0, 0]
        _disjoint("dlogits", pdz, nz, "logits", &z[0, 0], nz, False)
        _disjoint("dlogits", pdz, nz, "labels", &labels[0], N * 8, False)
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
    dt = _float_dtype("logits", logits)
    _check_ndim("logits", logits, 2, "[N, K]")
    _check("logits", logits, dt, None, False, "logits")
    N, K = logits.shape
    if N == 0:
        raise ValueError(
            "logits has an empty batch (N = 0): the mean over zero samples is undefined")
    if not isinstance(labels, _NDARRAY) or labels.dtype.kind not in "iu":
        got = labels.dtype if isinstance(labels, _NDARRAY) else type(labels).__name__
        raise TypeError(f"labels must be an integer ndarray (int64), got {got}")
    if labels.shape != (N,):
        raise ValueError(f"labels must have shape [N] = [{N}], got {list(labels.shape)}")
    if not labels.flags.c_contiguous:
        raise ValueError("labels must be C-contiguous, got a non-contiguous array; "
                         "pass np.ascontiguousarray(labels)")
    lab = labels if labels.dtype == _I64 else labels.astype(_I64)
    if dlogits is not None:
        _check("dlogits", dlogits, dt, (N, K), True, "logits")
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
                f"labels must be in [0, {K}) for {K} classes; got labels[{i}] = "
                f"{int(labels[i])} ({bad.size} label(s) out of range)")
    if rc != GC_OK:
        raise ValueError(f"softmax_xent: kernel status {rc} for logits{list(logits.shape)}")
    return loss


cdef double _mse_bce(int which, const floating[::1] p, const floating[::1] t,
                     floating[::1] dp, str names) except? -1:
    cdef int64_t n = p.shape[0]
    cdef double loss = 0.0
    cdef floating *pdp = NULL
    cdef Py_ssize_t nb = n * sizeof(floating)
    pname, tname, dname = names.split()
    if dp is not None:
        pdp = &dp[0]
        _disjoint(dname, pdp, nb, pname, &p[0], nb, True)
        _disjoint(dname, pdp, nb, tname, &t[0], nb, True)
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


cdef object _elementwise_loss(int which, object p, object t, object dp, str names):
    pname, tname, dname = names.split()
    dt = _float_dtype(pname, p)
    _check(pname, p, dt, None, False, pname)
    if not isinstance(t, _NDARRAY) or t.shape != p.shape:
        got = list(t.shape) if isinstance(t, _NDARRAY) else type(t).__name__
        raise ValueError(f"{pname} and {tname} must have the same shape, got "
                         f"{list(p.shape)} and {got} (no broadcasting)")
    _check(tname, t, dt, None, False, pname)
    if p.size == 0:
        raise ValueError(f"{pname} is empty (shape {list(p.shape)}): the mean over zero "
                         "elements is undefined")
    if dp is not None:
        _check(dname, dp, dt, p.shape, True, pname)
        dp = dp.reshape(-1)
    if dt == _F32:
        return _mse_bce[cython.float](which, p.reshape(-1), t.reshape(-1), dp, names)
    return _mse_bce[cython.double](which, p.reshape(-1), t.reshape(-1), dp, names)


def mse(pred, target, dpred):
    """Mean of ``(p - t)^2`` over all elements; ``dpred = 2 (p - t) / numel`` unless None.

    pred, target, dpred: one shape and dtype (any shape, >= 1 element); dpred may be pred or
    target itself. Returns a float (double math throughout).
    """
    return _elementwise_loss(0, pred, target, dpred, "pred target dpred")


def bce_with_logits(logits, target, dlogits):
    """Mean of ``max(z,0) - z t + log1p(exp(-|z|))``; ``dlogits = (sigmoid(z) - t) / numel``.

    logits, target, dlogits: one shape and dtype (>= 1 element). Returns a float.
    """
    return _elementwise_loss(1, logits, target, dlogits, "logits target dlogits")


# ---- optim ---------------------------------------------------------------------------------

cdef object _param(object p, object g):
    """Validate p (float, writeable, contiguous) and g (p's dtype and shape); return dtype."""
    dt = _float_dtype("p", p)
    _check("p", p, dt, None, True, "p")
    _check("g", g, dt, p.shape, False, "p")
    return dt


cdef object _state(str name, object a, object p, object dt):
    """A state buffer: p's dtype and shape, contiguous, writeable; returned flat."""
    _check(f"state {name}", a, dt, p.shape, True, "p")
    return a.reshape(-1)


cdef int64_t _step(object step) except -1:
    if isinstance(step, bool) or not isinstance(step, (int, _np.integer)) or step < 1:
        raise ValueError(f"step must be an int >= 1 (the count after incrementing), got {step!r}")
    return int(step)


cdef int _sgd(floating[::1] p, const floating[::1] g, floating[::1] buf, double lr,
              double momentum, double dampening, bint nesterov, double weight_decay,
              bint first) except -1:
    cdef int64_t n = p.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    cdef floating *pbuf = &buf[0] if buf is not None else NULL
    cdef const void *ptr[3]
    cdef Py_ssize_t nbytes[3]
    ptr[0], ptr[1], ptr[2] = &p[0], pbuf, &g[0]
    nbytes[0], nbytes[1], nbytes[2] = nb, nb if pbuf != NULL else 0, nb
    _outputs_disjoint(ptr, nbytes, 2, 3, ("p", "state buf", "g"))
    with nogil:
        if floating is float:
            gc_optim_sgd_step_f32(&p[0], &g[0], pbuf, n, lr, momentum, dampening, nesterov,
                                  weight_decay, first)
        else:
            gc_optim_sgd_step_f64(&p[0], &g[0], pbuf, n, lr, momentum, dampening, nesterov,
                                  weight_decay, first)
    return 0


def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, first):
    """One SGD step (torch.optim.SGD semantics) over flat buffers, in place; ``buf`` is only
    used (and checked) when momentum != 0. ``first`` initialises buf to the decayed gradient.
    """
    dt = _param(p, g)
    lr, momentum, dampening, weight_decay = (float(lr), float(momentum), float(dampening),
                                             float(weight_decay))
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov momentum requires momentum > 0 and dampening == 0")
    b = _state("buf", buf, p, dt) if momentum != 0 else None
    if p.size == 0:
        return
    if dt == _F32:
        _sgd[cython.float](p.reshape(-1), g.reshape(-1), b, lr, momentum, dampening,
                           bool(nesterov), weight_decay, bool(first))
    else:
        _sgd[cython.double](p.reshape(-1), g.reshape(-1), b, lr, momentum, dampening,
                            bool(nesterov), weight_decay, bool(first))


cdef int _rmsprop(floating[::1] p, const floating[::1] g, floating[::1] sq,
                  floating[::1] ga, floating[::1] mb, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bint centered) except -1:
    cdef int64_t n = p.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    cdef floating *pga = &ga[0] if ga is not None else NULL
    cdef floating *pmb = &mb[0] if mb is not None else NULL
    cdef const void *ptr[5]
    cdef Py_ssize_t nbytes[5]
    ptr[0], ptr[1], ptr[2], ptr[3], ptr[4] = &p[0], &sq[0], pga, pmb, &g[0]
    nbytes[0], nbytes[1], nbytes[4] = nb, nb, nb
    nbytes[2] = nb if pga != NULL else 0
    nbytes[3] = nb if pmb != NULL else 0
    _outputs_disjoint(ptr, nbytes, 4, 5,
                      ("p", "state square_avg", "state grad_avg", "state mom_buf", "g"))
    with nogil:
        if floating is float:
            gc_optim_rmsprop_step_f32(&p[0], &g[0], &sq[0], pga, pmb, n, lr, alpha, eps,
                                      weight_decay, momentum, centered)
        else:
            gc_optim_rmsprop_step_f64(&p[0], &g[0], &sq[0], pga, pmb, n, lr, alpha, eps,
                                      weight_decay, momentum, centered)
    return 0


def rmsprop_step(p, g, square_avg, grad_avg, mom_buf, lr, alpha, eps, weight_decay, momentum,
                 centered):
    """One RMSprop step (torch semantics); ``grad_avg`` used only if centered, ``mom_buf`` only
    if momentum > 0 (otherwise they may be empty arrays and are not checked)."""
    dt = _param(p, g)
    lr, alpha, eps, weight_decay, momentum = (float(lr), float(alpha), float(eps),
                                              float(weight_decay), float(momentum))
    sq = _state("square_avg", square_avg, p, dt)
    ga = _state("grad_avg", grad_avg, p, dt) if centered else None
    mb = _state("mom_buf", mom_buf, p, dt) if momentum > 0 else None
    if p.size == 0:
        return
    if dt == _F32:
        _rmsprop[cython.float](p.reshape(-1), g.reshape(-1), sq, ga, mb, lr, alpha, eps,
                               weight_decay, momentum, bool(centered))
    else:
        _rmsprop[cython.double](p.reshape(-1), g.reshape(-1), sq, ga, mb, lr, alpha, eps,
                                weight_decay, momentum, bool(centered))


cdef int _adagrad(floating[::1] p, const floating[::1] g, floating[::1] ss, double lr,
                  double lr_decay, double weight_decay, double eps, int64_t step) except -1:
    cdef int64_t n = p.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    cdef const void *ptr[3]
    cdef Py_ssize_t nbytes[3]
    ptr[0], ptr[1], ptr[2] = &p[0], &ss[0], &g[0]
    nbytes[0], nbytes[1], nbytes[2] = nb, nb, nb
    _outputs_disjoint(ptr, nbytes, 2, 3, ("p", "state state_sum", "g"))
    with nogil:
        if floating is float:
            gc_optim_adagrad_step_f32(&p[0], &g[0], &ss[0], n, lr, lr_decay, weight_decay, eps,
                                      step)
        else:
            gc_optim_adagrad_step_f64(&p[0], &g[0], &ss[0], n, lr, lr_decay, weight_decay, eps,
                                      step)
    return 0


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step):
    """One AdaGrad step (torch semantics); ``state_sum`` starts at initial_accumulator_value,
    ``step`` >= 1 is the count after incrementing."""
    dt = _param(p, g)
    ss = _state("state_sum", state_sum, p, dt)
    lr, lr_decay, weight_decay, eps = float(lr), float(lr_decay), float(weight_decay), float(eps)
    cdef int64_t st = _step(step)
    if p.size == 0:
        return
    if dt == _F32:
        _adagrad[cython.float](p.reshape(-1), g.reshape(-1), ss, lr, lr_decay, weight_decay,
                               eps, st)
    else:
        _adagrad[cython.double](p.reshape(-1), g.reshape(-1), ss, lr, lr_decay, weight_decay,
                                eps, st)


cdef int _adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
               floating[::1] vmax, double lr, double beta1, double beta2, double eps,
               double weight_decay, int64_t step, bint amsgrad, bint decoupled) except -1:
    cdef int64_t n = p.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    cdef floating *pvm = &vmax[0] if vmax is not None else NULL
    cdef const void *ptr[5]
    cdef Py_ssize_t nbytes[5]
    ptr[0], ptr[1], ptr[2], ptr[3], ptr[4] = &p[0], &m[0], &v[0], pvm, &g[0]
    nbytes[0], nbytes[1], nbytes[2], nbytes[4] = nb, nb, nb, nb
    nbytes[3] = nb if pvm != NULL else 0
    _outputs_disjoint(ptr, nbytes, 4, 5, ("p", "state m", "state v", "state vmax", "g"))
    with nogil:
        if floating is float:
            gc_optim_adam_step_f32(&p[0], &g[0], &m[0], &v[0], pvm, n, lr, beta1, beta2, eps,
                                   weight_decay, step, amsgrad, decoupled)
        else:
            gc_optim_adam_step_f64(&p[0], &g[0], &m[0], &v[0], pvm, n, lr, beta1, beta2, eps,
                                   weight_decay, step, amsgrad, decoupled)
    return 0


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, decoupled):
    """One Adam (decoupled=False, L2) or AdamW (decoupled=True) step, optionally amsgrad
    (torch semantics and operation order); ``vmax`` used and checked only if amsgrad."""
    dt = _param(p, g)
    mm = _state("m", m, p, dt)
    vv = _state("v", v, p, dt)
    lr, beta1, beta2, eps, weight_decay = (float(lr), float(beta1), float(beta2), float(eps),
                                           float(weight_decay))
    vm = _state("vmax", vmax, p, dt) if amsgrad else None
    cdef int64_t st = _step(step)
    if p.size == 0:
        return
    if dt == _F32:
        _adam[cython.float](p.reshape(-1), g.reshape(-1), mm, vv, vm, lr, beta1, beta2, eps,
                            weight_decay, st, bool(amsgrad), bool(decoupled))
    else:
        _adam[cython.double](p.reshape(-1), g.reshape(-1), mm, vv, vm, lr, beta1, beta2, eps,
                             weight_decay, st, bool(amsgrad), bool(decoupled))
