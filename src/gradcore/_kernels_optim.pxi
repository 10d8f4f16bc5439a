# Bindings of the optim family (kernels/optim.c): SGD, RMSprop, AdaGrad, Adam/AdamW, one fused
# pass each over flat buffers, in place. Contract: docs/kernels.md; checks:
# _kernels_checks.pxi. Arrays of any rank are viewed flat; a state buffer that the options do
# not use is neither checked nor passed (it may be an empty array).

cimport cython

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


cdef object _param(str op, object p, object g):
    """Validate p (float, writeable, contiguous) and g (p's dtype and shape); return dtype."""
    dt = _float_dtype(op, "p", p)
    _check(op, "p", p, dt, None, True, "p")
    _check(op, "g", g, dt, p.shape, False, "p")
    return dt


cdef object _state(str op, str name, object a, object p, object dt):
    """A state buffer: p's dtype and shape, contiguous, writeable; returned flat."""
    _check(op, f"state {name}", a, dt, p.shape, True, "p")
    return a.reshape(-1)


cdef int64_t _step(str op, object step) except -1:
    if isinstance(step, bool) or not isinstance(step, (int, _np.integer)) or step < 1:
        raise ValueError(f"{op}: step must be an int >= 1 (the count after incrementing), "
                         f"got {step!r}")
    return int(step)


# buffer names of the overlap checks: outputs (p, the state) first, then g
cdef tuple _SGD_NAMES = ("p", "state buf", "g")
cdef tuple _RMSPROP_NAMES = ("p", "state square_avg", "state grad_avg", "state mom_buf", "g")
cdef tuple _ADAGRAD_NAMES = ("p", "state state_sum", "g")
cdef tuple _ADAM_NAMES = ("p", "state m", "state v", "state vmax", "g")


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
    _disjoint("sgd_step", 2, 3, ptr, nbytes, _SGD_NAMES, False)
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
    op = "sgd_step"
    dt = _param(op, p, g)
    lr, momentum, dampening, weight_decay = (float(lr), float(momentum), float(dampening),
                                             float(weight_decay))
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{op}: nesterov momentum requires momentum > 0 and dampening == 0, "
                         f"got momentum={momentum}, dampening={dampening}")
    b = _state(op, "buf", buf, p, dt) if momentum != 0 else None
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
    _disjoint("rmsprop_step", 4, 5, ptr, nbytes, _RMSPROP_NAMES, False)
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
    op = "rmsprop_step"
    dt = _param(op, p, g)
    lr, alpha, eps, weight_decay, momentum = (float(lr), float(alpha), float(eps),
                                              float(weight_decay), float(momentum))
    sq = _state(op, "square_avg", square_avg, p, dt)
    ga = _state(op, "grad_avg", grad_avg, p, dt) if centered else None
    mb = _state(op, "mom_buf", mom_buf, p, dt) if momentum > 0 else None
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
    _disjoint("adagrad_step", 2, 3, ptr, nbytes, _ADAGRAD_NAMES, False)
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
    op = "adagrad_step"
    dt = _param(op, p, g)
    ss = _state(op, "state_sum", state_sum, p, dt)
    lr, lr_decay, weight_decay, eps = float(lr), float(lr_decay), float(weight_decay), float(eps)
    cdef int64_t st = _step(op, step)
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
    _disjoint("adam_step", 4, 5, ptr, nbytes, _ADAM_NAMES, False)
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
    op = "adam_step"
    dt = _param(op, p, g)
    mm = _state(op, "m", m, p, dt)
    vv = _state(op, "v", v, p, dt)
    lr, beta1, beta2, eps, weight_decay = (float(lr), float(beta1), float(beta2), float(eps),
                                           float(weight_decay))
    vm = _state(op, "vmax", vmax, p, dt) if amsgrad else None
    cdef int64_t st = _step(op, step)
    if p.size == 0:
        return
    if dt == _F32:
        _adam[cython.float](p.reshape(-1), g.reshape(-1), mm, vv, vm, lr, beta1, beta2, eps,
                            weight_decay, st, bool(amsgrad), bool(decoupled))
    else:
        _adam[cython.double](p.reshape(-1), g.reshape(-1), mm, vv, vm, lr, beta1, beta2, eps,
                             weight_decay, st, bool(amsgrad), bool(decoupled))
