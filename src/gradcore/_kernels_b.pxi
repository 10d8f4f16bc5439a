# Bindings of the batchnorm, layernorm and lstm families (kernels/{batchnorm,layernorm,lstm}.c).
# Included at the end of _kernels.pyx. Contract: docs/kernels.md.
#
# Each def wrapper takes plain objects and validates them itself (so a wrong dtype, shape,
# layout or an aliased output raises a ValueError/TypeError that names the argument, what was
# expected and what was given), then hands typed memoryviews to a fused cdef function that
# releases the GIL and calls the _f32/_f64 kernel.

import numpy as _np
from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer

cdef extern from "gradcore/batchnorm.h" nogil:
    int gc_batchnorm_forward_train_f32(const float *x, int64_t N, int64_t C, const float *gamma,
                                       const float *beta, float *running_mean, float *running_var,
                                       double momentum, double eps, float *y, float *mean,
                                       float *inv_std, double *work, int64_t nwork)
    int gc_batchnorm_forward_train_f64(const double *x, int64_t N, int64_t C, const double *gamma,
                                       const double *beta, double *running_mean,
                                       double *running_var, double momentum, double eps,
                                       double *y, double *mean, double *inv_std, double *work,
                                       int64_t nwork)
    int gc_batchnorm_forward_eval_f32(const float *x, int64_t N, int64_t C, const float *gamma,
                                      const float *beta, const float *running_mean,
                                      const float *running_var, double eps, float *y,
                                      double *work)
    int gc_batchnorm_forward_eval_f64(const double *x, int64_t N, int64_t C, const double *gamma,
                                      const double *beta, const double *running_mean,
                                      const double *running_var, double eps, double *y,
                                      double *work)
    int gc_batchnorm_backward_f32(const float *dy, const float *x, int64_t N, int64_t C,
                                  const float *gamma, const float *mean, const float *inv_std,
                                  float *dx, float *dgamma, float *dbeta, double *work,
                                  int64_t nwork)
    int gc_batchnorm_backward_f64(const double *dy, const double *x, int64_t N, int64_t C,
                                  const double *gamma, const double *mean, const double *inv_std,
                                  double *dx, double *dgamma, double *dbeta, double *work,
                                  int64_t nwork)

cdef extern from "gradcore/layernorm.h" nogil:
    int gc_layernorm_forward_f32(const float *x, int64_t N, int64_t C, const float *gamma,
                                 const float *beta, double eps, float *y, float *mean,
                                 float *inv_std)
    int gc_layernorm_forward_f64(const double *x, int64_t N, int64_t C, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean,
                                 double *inv_std)
    int gc_layernorm_backward_f32(const float *dy, const float *x, int64_t N, int64_t C,
                                  const float *gamma, const float *mean, const float *inv_std,
                                  float *dx, float *dgamma, float *dbeta, double *work,
                                  int64_t nwork)
    int gc_layernorm_backward_f64(const double *dy, const double *x, int64_t N, int64_t C,
                                  const double *gamma, const double *mean, const double *inv_std,
                                  double *dx, double *dgamma, double *dbeta, double *work,
                                  int64_t nwork)

cdef extern from "gradcore/lstm.h" nogil:
    int gc_lstm_forward_f32(const float *x, int64_t N, int64_t T, int64_t D, int64_t H,
                            const float *Wx, const float *Wh, const float *b, const float *h0,
                            const float *c0, float *hs, float *cs, float *gates, float *wpack,
                            int64_t nwork)
    int gc_lstm_forward_f64(const double *x, int64_t N, int64_t T, int64_t D, int64_t H,
                            const double *Wx, const double *Wh, const double *b,
                            const double *h0, const double *c0, double *hs, double *cs,
                            double *gates, double *wpack, int64_t nwork)
    int gc_lstm_backward_f32(const float *dhs, const float *dhT, const float *dcT,
                             const float *x, int64_t N, int64_t T, int64_t D, int64_t H,
                             const float *Wx, const float *Wh, const float *h0, const float *c0,
                             const float *hs, const float *cs, const float *gates, float *dx,
                             float *dWx, float *dWh, float *db, float *dh0, float *dc0,
                             double *dh_norm, double *dc_norm, float *da, float *hprev,
                             float *wpack, float *part, double *nrm, int64_t nwork)
    int gc_lstm_backward_f64(const double *dhs, const double *dhT, const double *dcT,
                             const double *x, int64_t N, int64_t T, int64_t D, int64_t H,
                             const double *Wx, const double *Wh, const double *h0,
                             const double *c0, const double *hs, const double *cs,
                             const double *gates, double *dx, double *dWx, double *dWh,
                             double *db, double *dh0, double *dc0, double *dh_norm,
                             double *dc_norm, double *da, double *hprev, double *wpack,
                             double *part, double *nrm, int64_t nwork)
    int64_t gc_lstm_part_size_f32(int64_t D, int64_t H, int64_t nwork)
    int64_t gc_lstm_part_size_f64(int64_t D, int64_t H, int64_t nwork)
    int64_t gc_lstm_wpack_size_f32(int64_t H, int backward)
    int64_t gc_lstm_wpack_size_f64(int64_t H, int backward)


# ---- validation helpers (Python level, before any typed memoryview is taken) ---------------

_B_F32 = _np.dtype(_np.float32)
_B_F64 = _np.dtype(_np.float64)


cdef object _b_float_dtype(str op, str name, object a):
    """The float dtype of the leading array of a call (float32 or float64)."""
    if not isinstance(a, _np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != _B_F32 and a.dtype != _B_F64:
        raise TypeError(f"{op}: {name} has dtype {a.dtype}, expected float32 or float64")
    return a.dtype


cdef int _arr(str op, str name, object a, tuple shape, object dtype, bint out) except -1:
    """Check one array: ndarray, dtype, shape, C-contiguous, writeable if an output."""
    if not isinstance(a, _np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{op}: {name} has dtype {a.dtype}, expected {dtype}")
    if a.shape != shape:
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected {shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be C-contiguous, got strides {a.strides} "
                         f"(pass numpy.ascontiguousarray({name}))")
    if out and not a.flags.writeable:
        raise ValueError(f"{op}: {name} is an output and must be writeable (got a read-only "
                         f"array)")
    return 0


cdef size_t _addr(object a) except? 0:
    """Data address of a contiguous array (buffer protocol: ~0.1 us vs ~1.4 us for
    __array_interface__)."""
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_ANY_CONTIGUOUS)
    cdef size_t p = <size_t>view.buf
    PyBuffer_Release(&view)
    return p


cdef int _no_alias(str op, list outs, list ins) except -1:
    """No output may share memory with another output or with any input (address ranges)."""
    cdef Py_ssize_t i, j
    spans = []
    for _nm, a in outs + ins:
        if a is None or a.size == 0:
            spans.append(None)
            continue
        lo = _addr(a)
        spans.append((lo, lo + a.nbytes))
    cdef Py_ssize_t nout = len(outs)
    for i in range(nout):
        if spans[i] is None:
            continue
        for j in range(len(spans)):
            if j == i or spans[j] is None or (j < nout and j < i):
                continue
            if spans[i][0] < spans[j][1] and spans[j][0] < spans[i][1]:
                other = (outs + ins)[j][0]
                raise ValueError(f"{op}: output {outs[i][0]} shares memory with {other}; "
                                 f"outputs must not overlap any other argument")
    return 0


cdef object _scratch(object ws, str name, tuple shape, object dtype):
    """Scratch array from the caller's Workspace if given, else a fresh one."""
    if ws is None:
        return _np.empty(shape, dtype)
    a = ws.get(name, shape, dtype)
    if (not isinstance(a, _np.ndarray) or a.shape != shape or a.dtype != dtype
            or not a.flags.c_contiguous or not a.flags.writeable):
        raise ValueError(f"ws.get({name!r}, {shape}, {dtype}) did not return a writeable "
                         f"C-contiguous array of that shape and dtype")
    return a


cdef inline int64_t _nwork() noexcept:
    cdef int n = gc_max_threads()
    return n if n > 1 else 1


# ---- batchnorm ------------------------------------------------------------------------------

cdef int _bn_train(const floating[:, ::1] x, const floating[::1] gamma, const floating[::1] beta,
                   floating[::1] running_mean, floating[::1] running_var, double momentum,
                   double eps, floating[:, ::1] y, floating[::1] mean, floating[::1] inv_std,
                   double[::1] work, int64_t nwork) except -1:
    cdef int64_t N = x.shape[0], C = x.shape[1]
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_batchnorm_forward_train_f32(&x[0, 0], N, C, &gamma[0], &beta[0],
                                                &running_mean[0], &running_var[0], momentum, eps,
                                                &y[0, 0], &mean[0], &inv_std[0], &work[0], nwork)
        else:
            rc = gc_batchnorm_forward_train_f64(&x[0, 0], N, C, &gamma[0], &beta[0],
                                                &running_mean[0], &running_var[0], momentum, eps,
                                                &y[0, 0], &mean[0], &inv_std[0], &work[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"batchnorm_forward_train: bad sizes N={N}, C={C}")
    return 0


def batchnorm_forward_train(x, gamma, beta, running_mean, running_var, double momentum,
                            double eps, y, mean, inv_std):
    """Training-mode BatchNorm over the features of ``x[N,C]`` (N >= 2); see docs/kernels.md.

    ``y[N,C]``, ``mean[C]``, ``inv_std[C]`` written; ``running_mean``, ``running_var`` [C]
    updated in place (running_var with the unbiased variance). Statistics in float64.
    """
    op = "batchnorm_forward_train"
    dt = _b_float_dtype(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-d [N, C], got shape {x.shape}")
    N, C = x.shape
    if N < 2:
        raise ValueError(f"{op}: training needs more than 1 value per feature, got x of shape "
                         f"{x.shape} (N={N}); use eval mode or a batch of at least 2")
    _arr(op, "x", x, (N, C), dt, False)
    for nm, a in (("gamma", gamma), ("beta", beta)):
        _arr(op, nm, a, (C,), dt, False)
    for nm, a in (("running_mean", running_mean), ("running_var", running_var),
                  ("mean", mean), ("inv_std", inv_std)):
        _arr(op, nm, a, (C,), dt, True)
    _arr(op, "y", y, (N, C), dt, True)
    _no_alias(op, [("y", y), ("mean", mean), ("inv_std", inv_std),
                   ("running_mean", running_mean), ("running_var", running_var)],
              [("x", x), ("gamma", gamma), ("beta", beta)])
    if not (eps >= 0.0):
        raise ValueError(f"{op}: eps must be >= 0, got {eps}")
    if C == 0:
        return
    cdef int64_t nwork = _nwork()
    work = _np.empty((nwork + 2) * 2 * C, _np.float64)
    if dt == _B_F32:
        _bn_train[float](x, gamma, beta, running_mean, running_var, momentum, eps, y, mean,
                         inv_std, work, nwork)
    else:
        _bn_train[double](x, gamma, beta, running_mean, running_var, momentum, eps, y, mean,
                          inv_std, work, nwork)


cdef int _bn_eval(const floating[:, ::1] x, const floating[::1] gamma, const floating[::1] beta,
                  const floating[::1] running_mean, const floating[::1] running_var, double eps,
                  floating[:, ::1] y, double[::1] work) except -1:
    cdef int64_t N = x.shape[0], C = x.shape[1]
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_batchnorm_forward_eval_f32(&x[0, 0], N, C, &gamma[0], &beta[0],
                                               &running_mean[0], &running_var[0], eps, &y[0, 0],
                                               &work[0])
        else:
            rc = gc_batchnorm_forward_eval_f64(&x[0, 0], N, C, &gamma[0], &beta[0],
                                               &running_mean[0], &running_var[0], eps, &y[0, 0],
                                               &work[0])
    if rc != GC_OK:
        raise ValueError(f"batchnorm_forward_eval: bad sizes N={N}, C={C}")
    return 0


def batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, double eps, y):
    """Eval-mode BatchNorm: ``y = gamma (x - running_mean) / sqrt(running_var + eps) + beta``."""
    op = "batchnorm_forward_eval"
    dt = _b_float_dtype(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-d [N, C], got shape {x.shape}")
    N, C = x.shape
    _arr(op, "x", x, (N, C), dt, False)
    for nm, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                  ("running_var", running_var)):
        _arr(op, nm, a, (C,), dt, False)
    _arr(op, "y", y, (N, C), dt, True)
    _no_alias(op, [("y", y)], [("x", x), ("gamma", gamma), ("beta", beta),
                               ("running_mean", running_mean), ("running_var", running_var)])
    if N == 0 or C == 0:
        return
    work = _np.empty(2 * C, _np.float64)
    if dt == _B_F32:
        _bn_eval[float](x, gamma, beta, running_mean, running_var, eps, y, work)
    else:
        _bn_eval[double](x, gamma, beta, running_mean, running_var, eps, y, work)


cdef int _bn_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                      const floating[::1] gamma, const floating[::1] mean,
                      const floating[::1] inv_std, floating[:, ::1] dx, floating[::1] dgamma,
                      floating[::1] dbeta, double[::1] work, int64_t nwork) except -1:
    cdef int64_t N = x.shape[0], C = x.shape[1]
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_batchnorm_backward_f32(&dy[0, 0], &x[0, 0], N, C, &gamma[0], &mean[0],
                                           &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0],
                                           &work[0], nwork)
        else:
            rc = gc_batchnorm_backward_f64(&dy[0, 0], &x[0, 0], N, C, &gamma[0], &mean[0],
                                           &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0],
                                           &work[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"batchnorm_backward: bad sizes N={N}, C={C}")
    return 0


def batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """Backward of training-mode BatchNorm: ``dx`` overwritten, ``dgamma``/``dbeta`` accumulate."""
    op = "batchnorm_backward"
    dt = _b_float_dtype(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-d [N, C], got shape {x.shape}")
    N, C = x.shape
    _arr(op, "x", x, (N, C), dt, False)
    _arr(op, "dy", dy, (N, C), dt, False)
    for nm, a in (("gamma", gamma), ("mean", mean), ("inv_std", inv_std)):
        _arr(op, nm, a, (C,), dt, False)
    _arr(op, "dx", dx, (N, C), dt, True)
    _arr(op, "dgamma", dgamma, (C,), dt, True)
    _arr(op, "dbeta", dbeta, (C,), dt, True)
    _no_alias(op, [("dx", dx), ("dgamma", dgamma), ("dbeta", dbeta)],
              [("dy", dy), ("x", x), ("gamma", gamma), ("mean", mean), ("inv_std", inv_std)])
    if N == 0 or C == 0:
        return
    cdef int64_t nwork = _nwork()
    work = _np.empty((nwork + 2) * 2 * C, _np.float64)
    if dt == _B_F32:
        _bn_backward[float](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)
    else:
        _bn_backward[double](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)


# ---- layernorm ------------------------------------------------------------------------------

cdef int _ln_forward(const floating[:, ::1] x, const floating[::1] gamma,
                     const floating[::1] beta, double eps, floating[:, ::1] y,
                     floating[::1] mean, floating[::1] inv_std) except -1:
    cdef int64_t N = x.shape[0], C = x.shape[1]
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_layernorm_forward_f32(&x[0, 0], N, C, &gamma[0], &beta[0], eps, &y[0, 0],
                                          &mean[0], &inv_std[0])
        else:
            rc = gc_layernorm_forward_f64(&x[0, 0], N, C, &gamma[0], &beta[0], eps, &y[0, 0],
                                          &mean[0], &inv_std[0])
    if rc != GC_OK:
        raise ValueError(f"layernorm_forward: bad sizes N={N}, C={C}")
    return 0


def layernorm_forward(x, gamma, beta, double eps, y, mean, inv_std):
    """LayerNorm over the last axis of ``x[N,C]``: ``y[N,C]``, ``mean[N]``, ``inv_std[N]`` written."""
    op = "layernorm_forward"
    dt = _b_float_dtype(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-d [N, C], got shape {x.shape}")
    N, C = x.shape
    if C < 1:
        raise ValueError(f"{op}: layernorm needs at least one feature, got x of shape {x.shape}")
    _arr(op, "x", x, (N, C), dt, False)
    _arr(op, "gamma", gamma, (C,), dt, False)
    _arr(op, "beta", beta, (C,), dt, False)
    _arr(op, "y", y, (N, C), dt, True)
    _arr(op, "mean", mean, (N,), dt, True)
    _arr(op, "inv_std", inv_std, (N,), dt, True)
    _no_alias(op, [("y", y), ("mean", mean), ("inv_std", inv_std)],
              [("x", x), ("gamma", gamma), ("beta", beta)])
    if N == 0:
        return
    if dt == _B_F32:
        _ln_forward[float](x, gamma, beta, eps, y, mean, inv_std)
    else:
        _ln_forward[double](x, gamma, beta, eps, y, mean, inv_std)


cdef int _ln_backward(const floating[:, ::1] dy, const floating[:, ::1] x,
                      const floating[::1] gamma, const floating[::1] mean,
                      const floating[::1] inv_std, floating[:, ::1] dx, floating[::1] dgamma,
                      floating[::1] dbeta, double[::1] work, int64_t nwork) except -1:
    cdef int64_t N = x.shape[0], C = x.shape[1]
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_layernorm_backward_f32(&dy[0, 0], &x[0, 0], N, C, &gamma[0], &mean[0],
                                           &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0],
                                           &work[0], nwork)
        else:
            rc = gc_layernorm_backward_f64(&dy[0, 0], &x[0, 0], N, C, &gamma[0], &mean[0],
                                           &inv_std[0], &dx[0, 0], &dgamma[0], &dbeta[0],
                                           &work[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"layernorm_backward: bad sizes N={N}, C={C}")
    return 0


def layernorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """Backward of LayerNorm: ``dx`` overwritten, ``dgamma``/``dbeta`` accumulate."""
    op = "layernorm_backward"
    dt = _b_float_dtype(op, "x", x)
    if x.ndim != 2:
        raise ValueError(f"{op}: x must be 2-d [N, C], got shape {x.shape}")
    N, C = x.shape
    if C < 1:
        raise ValueError(f"{op}: layernorm needs at least one feature, got x of shape {x.shape}")
    _arr(op, "x", x, (N, C), dt, False)
    _arr(op, "dy", dy, (N, C), dt, False)
    _arr(op, "gamma", gamma, (C,), dt, False)
    _arr(op, "mean", mean, (N,), dt, False)
    _arr(op, "inv_std", inv_std, (N,), dt, False)
    _arr(op, "dx", dx, (N, C), dt, True)
    _arr(op, "dgamma", dgamma, (C,), dt, True)
    _arr(op, "dbeta", dbeta, (C,), dt, True)
    _no_alias(op, [("dx", dx), ("dgamma", dgamma), ("dbeta", dbeta)],
              [("dy", dy), ("x", x), ("gamma", gamma), ("mean", mean), ("inv_std", inv_std)])
    if N == 0:
        return
    cdef int64_t nwork = _nwork()
    work = _np.empty(nwork * 2 * C, _np.float64)
    if dt == _B_F32:
        _ln_backward[float](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)
    else:
        _ln_backward[double](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)


# ---- lstm -----------------------------------------------------------------------------------

cdef int _lstm_dims(str op, object x, object Wh, int64_t *dims) except -1:
    """(N, T, D, H) from x[N,T,D] and Wh[H,4H]; T >= 1, H >= 1; GEMM sizes < 2**31."""
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-d [N, T, D], got shape {x.shape}")
    if not isinstance(Wh, _np.ndarray) or Wh.ndim != 2:
        raise ValueError(f"{op}: Wh must be a 2-d numpy array [H, 4H], got "
                         f"{getattr(Wh, 'shape', type(Wh).__name__)}")
    N, T, D = x.shape
    H = Wh.shape[0]
    if T < 1:
        raise ValueError(f"{op}: sequence length T must be >= 1, got x.shape={x.shape}")
    if H < 1:
        raise ValueError(f"{op}: hidden size H must be >= 1, got Wh.shape={Wh.shape}")
    if max(N * T, 4 * H, D) >= 2**31:
        raise ValueError(f"{op}: sizes too large for the GEMM (N*T, 4H, D must be < 2**31)")
    dims[0] = N
    dims[1] = T
    dims[2] = D
    dims[3] = H
    return 0


cdef int64_t _lstm_wpack_size(object dt, int64_t H, int backward):
    return gc_lstm_wpack_size_f32(H, backward) if dt == _B_F32 else gc_lstm_wpack_size_f64(H, backward)


cdef int64_t _lstm_part_size(object dt, int64_t D, int64_t H, int64_t nwork):
    return gc_lstm_part_size_f32(D, H, nwork) if dt == _B_F32 else gc_lstm_part_size_f64(D, H, nwork)


cdef int _lstm_fwd(const floating[:, :, ::1] x, const floating[:, ::1] Wx,
                   const floating[:, ::1] Wh, const floating[::1] b, const floating[:, ::1] h0,
                   const floating[:, ::1] c0, floating[:, :, ::1] hs, floating[:, :, ::1] cs,
                   floating[:, :, ::1] gates, floating[::1] wpack) except -1:
    cdef int64_t N = x.shape[0], T = x.shape[1], D = x.shape[2], H = Wh.shape[0]
    cdef int64_t nwork = _nwork()
    cdef int rc
    cdef floating dummy = 0
    # D == 0: x and Wx have no element 0; the kernel reads nothing through them (K = 0)
    cdef const floating *px = &x[0, 0, 0] if D > 0 else &dummy
    cdef const floating *pWx = &Wx[0, 0] if D > 0 else &dummy
    with nogil:
        if floating is float:
            rc = gc_lstm_forward_f32(px, N, T, D, H, pWx, &Wh[0, 0], &b[0], &h0[0, 0],
                                     &c0[0, 0], &hs[0, 0, 0], &cs[0, 0, 0], &gates[0, 0, 0],
                                     &wpack[0], nwork)
        else:
            rc = gc_lstm_forward_f64(px, N, T, D, H, pWx, &Wh[0, 0], &b[0], &h0[0, 0],
                                     &c0[0, 0], &hs[0, 0, 0], &cs[0, 0, 0], &gates[0, 0, 0],
                                     &wpack[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"lstm_forward: bad sizes N={N}, T={T}, D={D}, H={H}")
    return 0


def lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates, ws=None):
    """LSTM over a batch-first sequence (gate order i, f, g, o, one bias); docs/kernels.md.

    ``x[N,T,D]``, ``Wx[D,4H]``, ``Wh[H,4H]``, ``b[4H]``, ``h0[N,H]``, ``c0[N,H]``; writes
    ``hs[N,T,H]``, ``cs[N,T,H]``, ``gates[N,T,4H]`` (activated). Scratch: the packed copy of
    ``Wh`` (name ``lstm_wpack``) from ``ws`` when given, else allocated.
    """
    op = "lstm_forward"
    dt = _b_float_dtype(op, "x", x)
    cdef int64_t dims[4]
    _lstm_dims(op, x, Wh, dims)
    N, T, D, H = dims[0], dims[1], dims[2], dims[3]
    _arr(op, "x", x, (N, T, D), dt, False)
    _arr(op, "Wx", Wx, (D, 4 * H), dt, False)
    _arr(op, "Wh", Wh, (H, 4 * H), dt, False)
    _arr(op, "b", b, (4 * H,), dt, False)
    _arr(op, "h0", h0, (N, H), dt, False)
    _arr(op, "c0", c0, (N, H), dt, False)
    _arr(op, "hs", hs, (N, T, H), dt, True)
    _arr(op, "cs", cs, (N, T, H), dt, True)
    _arr(op, "gates", gates, (N, T, 4 * H), dt, True)
    _no_alias(op, [("hs", hs), ("cs", cs), ("gates", gates)],
              [("x", x), ("Wx", Wx), ("Wh", Wh), ("b", b), ("h0", h0), ("c0", c0)])
    if N == 0:
        return
    wpack = _scratch(ws, "lstm_wpack", (_lstm_wpack_size(dt, H, 0),), dt)
    if dt == _B_F32:
        _lstm_fwd[float](x, Wx, Wh, b, h0, c0, hs, cs, gates, wpack)
    else:
        _lstm_fwd[double](x, Wx, Wh, b, h0, c0, hs, cs, gates, wpack)


cdef int _lstm_bwd(const floating[:, :, ::1] dhs, object dhT_, object dcT_,
                   const floating[:, :, ::1] x, const floating[:, ::1] Wx,
                   const floating[:, ::1] Wh, const floating[:, ::1] h0,
                   const floating[:, ::1] c0, const floating[:, :, ::1] hs,
                   const floating[:, :, ::1] cs, const floating[:, :, ::1] gates,
                   floating[:, :, ::1] dx, floating[:, ::1] dWx, floating[:, ::1] dWh,
                   floating[::1] db, floating[:, ::1] dh0, floating[:, ::1] dc0,
                   double[::1] dh_norm, double[::1] dc_norm, floating[:, :, ::1] da,
                   floating[:, :, ::1] hprev, floating[::1] wpack, floating[::1] part,
                   double[::1] nrm, int64_t nwork) except -1:
    cdef int64_t N = x.shape[0], T = x.shape[1], D = x.shape[2], H = Wh.shape[0]
    cdef const floating[:, ::1] dhT
    cdef const floating[:, ::1] dcT
    cdef const floating *pdhT = NULL
    cdef const floating *pdcT = NULL
    if dhT_ is not None:
        dhT = dhT_
        pdhT = &dhT[0, 0]
    if dcT_ is not None:
        dcT = dcT_
        pdcT = &dcT[0, 0]
    cdef floating dummy = 0
    cdef floating dummy_out = 0
    cdef const floating *px = &x[0, 0, 0] if D > 0 else &dummy
    cdef const floating *pWx = &Wx[0, 0] if D > 0 else &dummy
    cdef floating *pdx = &dx[0, 0, 0] if D > 0 else &dummy_out
    cdef floating *pdWx = &dWx[0, 0] if D > 0 else &dummy_out
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_lstm_backward_f32(&dhs[0, 0, 0], pdhT, pdcT, px, N, T, D, H, pWx,
                                      &Wh[0, 0], &h0[0, 0], &c0[0, 0], &hs[0, 0, 0],
                                      &cs[0, 0, 0], &gates[0, 0, 0], pdx, pdWx, &dWh[0, 0],
                                      &db[0], &dh0[0, 0], &dc0[0, 0], &dh_norm[0], &dc_norm[0],
                                      &da[0, 0, 0], &hprev[0, 0, 0], &wpack[0], &part[0],
                                      &nrm[0], nwork)
        else:
            rc = gc_lstm_backward_f64(&dhs[0, 0, 0], pdhT, pdcT, px, N, T, D, H, pWx,
                                      &Wh[0, 0], &h0[0, 0], &c0[0, 0], &hs[0, 0, 0],
                                      &cs[0, 0, 0], &gates[0, 0, 0], pdx, pdWx, &dWh[0, 0],
                                      &db[0], &dh0[0, 0], &dc0[0, 0], &dh_norm[0], &dc_norm[0],
                                      &da[0, 0, 0], &hprev[0, 0, 0], &wpack[0], &part[0],
                                      &nrm[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"lstm_backward: bad sizes N={N}, T={T}, D={D}, H={H}")
    return 0


def lstm_backward(dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0, dc0,
                  dh_norm, dc_norm, ws=None):
    """Backpropagation through time for :func:`lstm_forward`; docs/kernels.md.

    ``dx``, ``dh0``, ``dc0`` overwritten; ``dWx``, ``dWh``, ``db`` accumulate; ``dh_norm[T]``,
    ``dc_norm[T]`` (float64) receive the Frobenius norms of the total dL/dh_t and dL/dc_t.
    Scratch ``da[N,T,4H]``, ``hprev[N,T,H]`` and the per-thread norm partials come from ``ws``
    the packed ``Wh^T`` and the per-thread partial weight gradients (names ``lstm_da``,
    ``lstm_hprev``, ``lstm_norms``, ``lstm_wpackT``, ``lstm_wpart``) come from ``ws`` when
    given, else are allocated.
    """
    op = "lstm_backward"
    dt = _b_float_dtype(op, "x", x)
    cdef int64_t dims[4]
    _lstm_dims(op, x, Wh, dims)
    N, T, D, H = dims[0], dims[1], dims[2], dims[3]
    _arr(op, "dhs", dhs, (N, T, H), dt, False)
    if dhT is not None:
        _arr(op, "dhT", dhT, (N, H), dt, False)
    if dcT is not None:
        _arr(op, "dcT", dcT, (N, H), dt, False)
    _arr(op, "x", x, (N, T, D), dt, False)
    _arr(op, "Wx", Wx, (D, 4 * H), dt, False)
    _arr(op, "Wh", Wh, (H, 4 * H), dt, False)
    _arr(op, "h0", h0, (N, H), dt, False)
    _arr(op, "c0", c0, (N, H), dt, False)
    _arr(op, "hs", hs, (N, T, H), dt, False)
    _arr(op, "cs", cs, (N, T, H), dt, False)
    _arr(op, "gates", gates, (N, T, 4 * H), dt, False)
    _arr(op, "dx", dx, (N, T, D), dt, True)
    _arr(op, "dWx", dWx, (D, 4 * H), dt, True)
    _arr(op, "dWh", dWh, (H, 4 * H), dt, True)
    _arr(op, "db", db, (4 * H,), dt, True)
    _arr(op, "dh0", dh0, (N, H), dt, True)
    _arr(op, "dc0", dc0, (N, H), dt, True)
    _arr(op, "dh_norm", dh_norm, (T,), _B_F64, True)
    _arr(op, "dc_norm", dc_norm, (T,), _B_F64, True)
    _no_alias(op, [("dx", dx), ("dWx", dWx), ("dWh", dWh), ("db", db), ("dh0", dh0),
                   ("dc0", dc0), ("dh_norm", dh_norm), ("dc_norm", dc_norm)],
              [("dhs", dhs), ("dhT", dhT), ("dcT", dcT), ("x", x), ("Wx", Wx), ("Wh", Wh),
               ("h0", h0), ("c0", c0), ("hs", hs), ("cs", cs), ("gates", gates)])
    if N == 0:
        dh_norm[...] = 0.0
        dc_norm[...] = 0.0
        return
    da = _scratch(ws, "lstm_da", (N, T, 4 * H), dt)
    hprev = _scratch(ws, "lstm_hprev", (N, T, H), dt)
    cdef int64_t nwork = _nwork()
    nrm = _scratch(ws, "lstm_norms", (nwork * 2 * T,), _B_F64)
    wpack = _scratch(ws, "lstm_wpackT", (_lstm_wpack_size(dt, H, 1),), dt)
    part = _scratch(ws, "lstm_wpart", (_lstm_part_size(dt, D, H, nwork),), dt)
    if dt == _B_F32:
        _lstm_bwd[float](dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0,
                         dc0, dh_norm, dc_norm, da, hprev, wpack, part, nrm, nwork)
    else:
        _lstm_bwd[double](dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db,
                          dh0, dc0, dh_norm, dc_norm, da, hprev, wpack, part, nrm, nwork)
