# Bindings of the batchnorm family (kernels/batchnorm.c): training/eval forward, backward over
# the features of x[N, C]. Contract: docs/kernels.md; checks: _kernels_checks.pxi.
#
# Each def wrapper takes plain objects and validates them itself (so a wrong dtype, shape,
# layout or an aliased output raises a ValueError/TypeError that names the argument, what was
# expected and what was given), then hands typed memoryviews to a fused cdef function that
# releases the GIL and calls the _f32/_f64 kernel. The layernorm and lstm bindings do the same.

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


cdef tuple _BN_TRAIN_NAMES = ("y", "mean", "inv_std", "running_mean", "running_var", "x", "gamma",
                              "beta")


def batchnorm_forward_train(x, gamma, beta, running_mean, running_var, double momentum,
                            double eps, y, mean, inv_std):
    """Training-mode BatchNorm over the features of ``x[N,C]`` (N >= 2); see docs/kernels.md.

    ``y[N,C]``, ``mean[C]``, ``inv_std[C]`` written; ``running_mean``, ``running_var`` [C]
    updated in place (running_var with the unbiased variance). Statistics in float64.
    """
    op = "batchnorm_forward_train"
    dt, N, C = _float_rows(op, x)
    if N < 2:
        raise ValueError(f"{op}: x must have more than 1 value per feature in training, got "
                         f"shape {x.shape} (N={N}); use eval mode or a batch of at least 2")
    _check(op, "x", x, dt, (N, C), False, "x")
    for nm, a in (("gamma", gamma), ("beta", beta)):
        _check(op, nm, a, dt, (C,), False, "x")
    for nm, a in (("running_mean", running_mean), ("running_var", running_var),
                  ("mean", mean), ("inv_std", inv_std)):
        _check(op, nm, a, dt, (C,), True, "x")
    _check(op, "y", y, dt, (N, C), True, "x")
    _disjoint_arrays(op, 5, (y, mean, inv_std, running_mean, running_var, x, gamma,
                             beta), _BN_TRAIN_NAMES)
    if not (eps >= 0.0):
        raise ValueError(f"{op}: eps must be >= 0, got {eps}")
    if C == 0:
        return
    cdef int64_t nwork = _nwork()
    work = _np.empty((nwork + 2) * 2 * C, _np.float64)
    if dt == _F32:
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


cdef tuple _BN_EVAL_NAMES = ("y", "x", "gamma", "beta", "running_mean", "running_var")


def batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, double eps, y):
    """Eval-mode BatchNorm: ``y = gamma (x - running_mean) / sqrt(running_var + eps) + beta``."""
    op = "batchnorm_forward_eval"
    dt, N, C = _float_rows(op, x)
    _check(op, "x", x, dt, (N, C), False, "x")
    for nm, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                  ("running_var", running_var)):
        _check(op, nm, a, dt, (C,), False, "x")
    _check(op, "y", y, dt, (N, C), True, "x")
    _disjoint_arrays(op, 1, (y, x, gamma, beta, running_mean, running_var), _BN_EVAL_NAMES)
    if N == 0 or C == 0:
        return
    work = _np.empty(2 * C, _np.float64)
    if dt == _F32:
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


cdef tuple _BN_BWD_NAMES = ("dx", "dgamma", "dbeta", "dy", "x", "gamma", "mean", "inv_std")


def batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta):
    """Backward of training-mode BatchNorm: ``dx`` overwritten, ``dgamma``/``dbeta`` accumulate."""
    op = "batchnorm_backward"
    dt, N, C = _float_rows(op, x)
    _check(op, "x", x, dt, (N, C), False, "x")
    _check(op, "dy", dy, dt, (N, C), False, "x")
    for nm, a in (("gamma", gamma), ("mean", mean), ("inv_std", inv_std)):
        _check(op, nm, a, dt, (C,), False, "x")
    _check(op, "dx", dx, dt, (N, C), True, "x")
    _check(op, "dgamma", dgamma, dt, (C,), True, "x")
    _check(op, "dbeta", dbeta, dt, (C,), True, "x")
    _disjoint_arrays(op, 3, (dx, dgamma, dbeta, dy, x, gamma, mean, inv_std), _BN_BWD_NAMES)
    if N == 0 or C == 0:
        return
    cdef int64_t nwork = _nwork()
    work = _np.empty((nwork + 2) * 2 * C, _np.float64)
    if dt == _F32:
        _bn_backward[float](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)
    else:
        _bn_backward[double](dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, work, nwork)
