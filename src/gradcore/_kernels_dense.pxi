# Bindings of the dense family and its elementwise activations (kernels/dense.c).
# Contract: docs/kernels.md; checks: _kernels_checks.pxi. Every function has the exact
# signature of the contract and is re-exported as is by gradcore.backends.c. Arrays of any
# rank are viewed flat where the op is elementwise (activations), free for contiguous arrays.

cimport cython

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


#: activation names in kernel-code order (gradcore.backends.ACTIVATIONS; a test checks this)
ACTIVATION_CODES = {name: i for i, name in enumerate(
    ("linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "silu", "gelu"))}


cdef int _act_code(object act) except -1:
    code = ACTIVATION_CODES.get(act) if isinstance(act, str) else None
    if code is None:
        valid = ", ".join(repr(a) for a in ACTIVATION_CODES)
        raise ValueError(f"unknown activation {act!r}; valid activations are: {valid}")
    return code


# ---- activations ---------------------------------------------------------------------------

cdef tuple _ACT_FWD_NAMES = ("y", "x")
cdef tuple _ACT_BWD_NAMES = ("dx", "dy", "x", "y")


cdef int _act_forward(const floating[::1] x, floating[::1] y, int code) except -1:
    cdef int64_t n = x.shape[0]
    cdef Py_ssize_t nb = n * sizeof(floating)
    cdef const void *ptr[2]
    cdef Py_ssize_t nbytes[2]
    ptr[0], ptr[1] = &y[0], &x[0]
    nbytes[0], nbytes[1] = nb, nb
    _disjoint("act_forward", 1, 2, ptr, nbytes, _ACT_FWD_NAMES, True)
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
    op = "act_forward"
    cdef int code = _act_code(act)
    dt = _float_dtype(op, "x", x)
    _check(op, "x", x, dt, None, False, "x")
    _check(op, "y", y, dt, x.shape, True, "x")
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
    cdef const void *ptr[4]
    cdef Py_ssize_t nbytes[4]
    ptr[0], ptr[1], ptr[2], ptr[3] = &dx[0], &dy[0], &x[0], &y[0]
    nbytes[0], nbytes[1], nbytes[2], nbytes[3] = nb, nb, nb, nb
    _disjoint("act_backward", 1, 4, ptr, nbytes, _ACT_BWD_NAMES, True)
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
    op = "act_backward"
    cdef int code = _act_code(act)
    dt = _float_dtype(op, "x", x)
    _check(op, "x", x, dt, None, False, "x")
    _check(op, "dy", dy, dt, x.shape, False, "x")
    _check(op, "y", y, dt, x.shape, False, "x")
    _check(op, "dx", dx, dt, x.shape, True, "x")
    if x.size == 0:
        return
    if dt == _F32:
        _act_backward[cython.float](dy.reshape(-1), x.reshape(-1), y.reshape(-1),
                                    dx.reshape(-1), code)
    else:
        _act_backward[cython.double](dy.reshape(-1), x.reshape(-1), y.reshape(-1),
                                     dx.reshape(-1), code)


# ---- dense ---------------------------------------------------------------------------------

cdef tuple _dense_shapes(str op, object x, object W, object b, str bname):
    dt = _float_dtype(op, "x", x)
    if x.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(
            f"{op}: dense expects x[N,I], W[I,O], {bname}[O]; got x{list(x.shape)}, "
            f"W{list(W.shape)}, {bname}{list(b.shape)}")
    N, I = x.shape
    O = W.shape[1]
    if W.shape[0] != I or b.shape[0] != O:
        raise ValueError(
            f"{op}: dense shape mismatch: x{list(x.shape)} @ W{list(W.shape)} + {bname}"
            f"{list(b.shape)} (W is [in, out])")
    if N >= 2**31 or I >= 2**31 or O >= 2**31:
        raise ValueError(f"{op}: dense dimensions must be < 2**31 (BLAS int), got N={N} "
                         f"I={I} O={O}")
    return dt, N, I, O


cdef tuple _DENSE_FWD_NAMES = ("y", "z", "x", "W", "b")
cdef tuple _DENSE_FWD_NAMES_Z = ("z", "x", "W", "b")


cdef int _dense_forward(const floating[:, ::1] x, const floating[:, ::1] W,
                        const floating[::1] b, int code, floating[:, ::1] z,
                        floating[:, ::1] y) except -1:
    cdef int64_t N = x.shape[0], I = x.shape[1], O = W.shape[1]
    cdef Py_ssize_t s = sizeof(floating)
    cdef const void *ptr[5]
    cdef Py_ssize_t nbytes[5]
    ptr[0], ptr[1], ptr[2], ptr[3], ptr[4] = &y[0, 0], &z[0, 0], &x[0, 0], &W[0, 0], &b[0]
    nbytes[0], nbytes[1], nbytes[2], nbytes[3], nbytes[4] = (N * O * s, N * O * s, N * I * s,
                                                             I * O * s, O * s)
    if code == 0 and ptr[0] == ptr[1]:  # y is z: linear only; then z is the one output
        _disjoint("dense_forward", 1, 4, &ptr[1], &nbytes[1], _DENSE_FWD_NAMES_Z, False)
    else:
        _disjoint("dense_forward", 2, 5, ptr, nbytes, _DENSE_FWD_NAMES, False)
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
    op = "dense_forward"
    cdef int code = _act_code(act)
    dt, N, I, O = _dense_shapes(op, x, W, b, "b")
    _check(op, "x", x, dt, None, False, "x")
    _check(op, "W", W, dt, None, False, "x")
    _check(op, "b", b, dt, None, False, "x")
    _check(op, "z", z, dt, (N, O), True, "x")
    _check(op, "y", y, dt, (N, O), True, "x")
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
    _disjoint("dense_backward", 4, 9, ptr, nbytes, _DENSE_BWD_NAMES, False)
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
    op = "dense_backward"
    cdef int code = _act_code(act)
    dt, N, I, O = _dense_shapes(op, x, W, db, "db")
    _check(op, "x", x, dt, None, False, "x")
    _check(op, "W", W, dt, None, False, "x")
    _check(op, "dy", dy, dt, (N, O), False, "x")
    _check(op, "z", z, dt, (N, O), False, "x")
    _check(op, "y", y, dt, (N, O), False, "x")
    if dx is not None:
        _check(op, "dx", dx, dt, (N, I), True, "x")
    _check(op, "dW", dW, dt, (I, O), True, "x")
    _check(op, "db", db, dt, (O,), True, "x")
    if N == 0 or O == 0:
        # nothing to accumulate (empty sums); dx = dz W^T is then all zeros
        if dx is not None:
            dx.fill(0)
        return
    dz = ws.get("dense_dz", (N, O), dt) if ws is not None else _np.empty((N, O), dt)
    _check(op, "ws dense_dz", dz, dt, (N, O), True, "x")
    if dt == _F32:
        _dense_backward[cython.float](dy, x, W, z, y, code, dx, dW, db, dz)
    else:
        _dense_backward[cython.double](dy, x, W, z, y, code, dx, dW, db, dz)

