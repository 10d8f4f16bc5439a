# Bindings of the layernorm family (kernels/layernorm.c): forward, backward over the last axis
# of x[N, C]. Contract: docs/kernels.md; checks: _kernels_checks.pxi.

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


cdef tuple _LN_FWD_NAMES = ("y", "mean", "inv_std", "x", "gamma", "beta")


def layernorm_forward(x, gamma, beta, double eps, y, mean, inv_std):
    """LayerNorm over the last axis of ``x[N,C]``: ``y[N,C]``, ``mean[N]``, ``inv_std[N]``
    written."""
    op = "layernorm_forward"
    dt, N, C = _float_rows(op, x)
    if C < 1:
        raise ValueError(f"{op}: x must have at least one feature, got shape {x.shape}")
    _check(op, "x", x, dt, (N, C), False, "x")
    _check(op, "gamma", gamma, dt, (C,), False, "x")
    _check(op, "beta", beta, dt, (C,), False, "x")
    _check(op, "y", y, dt, (N, C), True, "x")
    _check(op, "mean", mean, dt, (N,), True, "x")
    _check(op, "inv_std", inv_std, dt, (N,), True, "x")
    _disjoint_arrays(op, 3, (y, mean, inv_std, x, gamma, beta), _LN_FWD_NAMES)
    if N == 0:
        return
    if dt == _F32:
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


cdef tuple _LN_BWD_NAMES = ("dx", "dgamma", "dbeta", "dy", "x", "gamma", "mean", "inv_std")


def layernorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """Backward of LayerNorm: ``dx`` overwritten, ``dgamma``/``dbeta`` accumulate."""
    op = "layernorm_backward"
    dt, N, C = _float_rows(op, x)
    if C < 1:
        raise ValueError(f"{op}: x must have at least one feature, got shape {x.shape}")
    _check(op, "x", x, dt, (N, C), False, "x")
    _check(op, "dy", dy, dt, (N, C), False, "x")
    _check(op, "gamma", gamma, dt, (C,), False, "x")
    _check(op, "mean", mean, dt, (N,), False, "x")
    _check(op, "inv_std", inv_std, dt, (N,), False, "x")
    _check(op, "dx", dx, dt, (N, C), True, "x")
    _check(op, "dgamma", dgamma, dt, (C,), True, "x")
    _check(op, "dbeta", dbeta, dt, (C,), True, "x")
    _disjoint_arrays(op, 3, (dx, dgamma, dbeta, dy, x, gamma, mean, inv_std), _LN_BWD_NAMES)
    if N == 0:
        return
    cdef int64_t nwork = _nwork()
    work = _np.empty(nwork * 2 * C, _np.float64)
    if dt == _F32:
        _ln_backward[float](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)
    else:
        _ln_backward[double](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)
