# Bindings of the rnn family (kernels/rnn.c): a plain tanh RNN over a batch-first sequence,
# forward and backward through time. Contract: docs/kernels.md. Built like the LSTM's binding.
#
# Every argument check goes through _kernels_checks.pxi's validators (_float_dtype, _check,
# _disjoint_arrays), with the wording "{op}: {name} must be {expected}, got {given}".

cdef extern from "gradcore/rnn.h" nogil:
    int gc_rnn_forward_f32(const float *x, int64_t N, int64_t T, int64_t D, int64_t H,
                           const float *Wx, const float *Wh, const float *b, const float *h0,
                           float *hs, float *wpack, int64_t nwork)
    int gc_rnn_forward_f64(const double *x, int64_t N, int64_t T, int64_t D, int64_t H,
                           const double *Wx, const double *Wh, const double *b,
                           const double *h0, double *hs, double *wpack, int64_t nwork)
    int gc_rnn_backward_f32(const float *dhs, const float *dhT, const float *x, int64_t N,
                            int64_t T, int64_t D, int64_t H, const float *Wx, const float *Wh,
                            const float *h0, const float *hs, float *dx, float *dWx,
                            float *dWh, float *db, float *dh0, double *dh_norm, float *da,
                            float *hprev, float *wpack, float *part, double *nrm,
                            int64_t nwork)
    int gc_rnn_backward_f64(const double *dhs, const double *dhT, const double *x, int64_t N,
                            int64_t T, int64_t D, int64_t H, const double *Wx,
                            const double *Wh, const double *h0, const double *hs, double *dx,
                            double *dWx, double *dWh, double *db, double *dh0,
                            double *dh_norm, double *da, double *hprev, double *wpack,
                            double *part, double *nrm, int64_t nwork)
    int64_t gc_rnn_wpack_size_f32(int64_t H)
    int64_t gc_rnn_wpack_size_f64(int64_t H)
    int64_t gc_rnn_part_size_f32(int64_t D, int64_t H, int64_t nwork)
    int64_t gc_rnn_part_size_f64(int64_t D, int64_t H, int64_t nwork)


cdef inline int _rnn_check(str op, str name, object a, object dt, tuple shape,
                           bint out) except -1:
    """ndarray of dtype ``dt`` (x's, or float64 for dh_norm) and ``shape``, C-contiguous,
    writeable if an output."""
    return _check(op, name, a, dt, shape, out, None if name == "dh_norm" else "x")


cdef inline int _rnn_disjoint(str op, list outs, list ins) except -1:
    """No output shares memory with another output or with an input (``(name, array)`` pairs;
    None entries are absent arguments)."""
    pairs = outs + ins
    return _disjoint_arrays(op, len(outs), tuple(a for _, a in pairs),
                            tuple(n for n, _ in pairs))


cdef int _rnn_dims(str op, object x, object Wh, int64_t *dims) except -1:
    """(N, T, D, H) from x[N,T,D] and Wh[H,H]; T >= 1, H >= 1; GEMM sizes < 2**31. Returns
    after checking x's dtype (float32/float64)."""
    _float_dtype(op, "x", x)
    if x.ndim != 3:
        raise ValueError(f"{op}: x must be 3-d [N, T, D], got shape {x.shape}")
    if not isinstance(Wh, _np.ndarray) or Wh.ndim != 2:
        raise ValueError(f"{op}: Wh must be a 2-d numpy array [H, H], got "
                         f"{getattr(Wh, 'shape', type(Wh).__name__)}")
    N, T, D = x.shape
    H = Wh.shape[0]
    if T < 1:
        raise ValueError(f"{op}: sequence length T must be >= 1, got x.shape={x.shape}")
    if H < 1:
        raise ValueError(f"{op}: hidden size H must be >= 1, got Wh.shape={Wh.shape}")
    if max(N * T, H, D) >= 2**31:
        raise ValueError(f"{op}: sizes too large for the GEMM (N*T, H, D must be < 2**31)")
    dims[0] = N
    dims[1] = T
    dims[2] = D
    dims[3] = H
    return 0


cdef int _rnn_fwd(const floating[:, :, ::1] x, const floating[:, ::1] Wx,
                  const floating[:, ::1] Wh, const floating[::1] b, const floating[:, ::1] h0,
                  floating[:, :, ::1] hs, floating[::1] wpack) except -1:
    cdef int64_t N = x.shape[0], T = x.shape[1], D = x.shape[2], H = Wh.shape[0]
    cdef int64_t nwork = _nwork()
    cdef int rc
    cdef floating dummy = 0
    # D == 0: x and Wx have no element 0; the kernel reads nothing through them (K = 0)
    cdef const floating *px = &x[0, 0, 0] if D > 0 else &dummy
    cdef const floating *pWx = &Wx[0, 0] if D > 0 else &dummy
    with nogil:
        if floating is float:
            rc = gc_rnn_forward_f32(px, N, T, D, H, pWx, &Wh[0, 0], &b[0], &h0[0, 0],
                                    &hs[0, 0, 0], &wpack[0], nwork)
        else:
            rc = gc_rnn_forward_f64(px, N, T, D, H, pWx, &Wh[0, 0], &b[0], &h0[0, 0],
                                    &hs[0, 0, 0], &wpack[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"rnn_forward: bad sizes N={N}, T={T}, D={D}, H={H}")
    return 0


def rnn_forward(x, Wx, Wh, b, h0, hs, ws=None):
    """Plain tanh RNN over a batch-first sequence (one bias); docs/kernels.md.

    ``x[N,T,D]``, ``Wx[D,H]``, ``Wh[H,H]``, ``b[H]``, ``h0[N,H]``; writes ``hs[N,T,H]``,
    ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``. Scratch: the packed copy of ``Wh`` (name
    ``rnn_wpack``) from ``ws`` when given, else allocated.
    """
    op = "rnn_forward"
    cdef int64_t dims[4]
    _rnn_dims(op, x, Wh, dims)
    N, T, D, H = dims[0], dims[1], dims[2], dims[3]
    dt = x.dtype
    _rnn_check(op, "x", x, dt, (N, T, D), False)
    _rnn_check(op, "Wx", Wx, dt, (D, H), False)
    _rnn_check(op, "Wh", Wh, dt, (H, H), False)
    _rnn_check(op, "b", b, dt, (H,), False)
    _rnn_check(op, "h0", h0, dt, (N, H), False)
    _rnn_check(op, "hs", hs, dt, (N, T, H), True)
    _rnn_disjoint(op, [("hs", hs)],
                  [("x", x), ("Wx", Wx), ("Wh", Wh), ("b", b), ("h0", h0)])
    if N == 0:
        return
    wpack = _scratch(ws, "rnn_wpack", (_rnn_wpack_size(dt, H),), dt)
    if dt == _F32:
        _rnn_fwd[float](x, Wx, Wh, b, h0, hs, wpack)
    else:
        _rnn_fwd[double](x, Wx, Wh, b, h0, hs, wpack)


cdef int64_t _rnn_wpack_size(object dt, int64_t H):
    return gc_rnn_wpack_size_f32(H) if dt == _F32 else gc_rnn_wpack_size_f64(H)


cdef int64_t _rnn_part_size(object dt, int64_t D, int64_t H, int64_t nwork):
    return gc_rnn_part_size_f32(D, H, nwork) if dt == _F32 else gc_rnn_part_size_f64(D, H, nwork)


cdef int _rnn_bwd(const floating[:, :, ::1] dhs, object dhT_, const floating[:, :, ::1] x,
                  const floating[:, ::1] Wx, const floating[:, ::1] Wh,
                  const floating[:, ::1] h0, const floating[:, :, ::1] hs,
                  floating[:, :, ::1] dx, floating[:, ::1] dWx, floating[:, ::1] dWh,
                  floating[::1] db, floating[:, ::1] dh0, double[::1] dh_norm,
                  floating[:, :, ::1] da, floating[:, :, ::1] hprev, floating[::1] wpack,
                  floating[::1] part, double[::1] nrm, int64_t nwork) except -1:
    cdef int64_t N = x.shape[0], T = x.shape[1], D = x.shape[2], H = Wh.shape[0]
    cdef const floating[:, ::1] dhT
    cdef const floating *pdhT = NULL
    if dhT_ is not None:
        dhT = dhT_
        pdhT = &dhT[0, 0]
    cdef floating dummy = 0
    cdef floating dummy_out = 0
    cdef const floating *px = &x[0, 0, 0] if D > 0 else &dummy
    cdef const floating *pWx = &Wx[0, 0] if D > 0 else &dummy
    cdef floating *pdx = &dx[0, 0, 0] if D > 0 else &dummy_out
    cdef floating *pdWx = &dWx[0, 0] if D > 0 else &dummy_out
    cdef int rc
    with nogil:
        if floating is float:
            rc = gc_rnn_backward_f32(&dhs[0, 0, 0], pdhT, px, N, T, D, H, pWx, &Wh[0, 0],
                                     &h0[0, 0], &hs[0, 0, 0], pdx, pdWx, &dWh[0, 0], &db[0],
                                     &dh0[0, 0], &dh_norm[0], &da[0, 0, 0], &hprev[0, 0, 0],
                                     &wpack[0], &part[0], &nrm[0], nwork)
        else:
            rc = gc_rnn_backward_f64(&dhs[0, 0, 0], pdhT, px, N, T, D, H, pWx, &Wh[0, 0],
                                     &h0[0, 0], &hs[0, 0, 0], pdx, pdWx, &dWh[0, 0], &db[0],
                                     &dh0[0, 0], &dh_norm[0], &da[0, 0, 0], &hprev[0, 0, 0],
                                     &wpack[0], &part[0], &nrm[0], nwork)
    if rc != GC_OK:
        raise ValueError(f"rnn_backward: bad sizes N={N}, T={T}, D={D}, H={H}")
    return 0


def rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm, ws=None):
    """Backpropagation through time for :func:`rnn_forward`; docs/kernels.md.

    ``dx``, ``dh0`` overwritten; ``dWx``, ``dWh``, ``db`` accumulate; ``dh_norm[T]`` (float64)
    receives the Frobenius norms of the total dL/dh_t (the gradient through time). Scratch
    ``da[N,T,H]``, ``hprev[N,T,H]``, the per-thread norm partials, the packed ``Wh^T`` and the
    per-thread partial weight gradients (names ``rnn_da``, ``rnn_hprev``, ``rnn_norms``,
    ``rnn_wpackT``, ``rnn_wpart``) come from ``ws`` when given, else are allocated.
    """
    op = "rnn_backward"
    cdef int64_t dims[4]
    _rnn_dims(op, x, Wh, dims)
    N, T, D, H = dims[0], dims[1], dims[2], dims[3]
    dt = x.dtype
    _rnn_check(op, "dhs", dhs, dt, (N, T, H), False)
    if dhT is not None:
        _rnn_check(op, "dhT", dhT, dt, (N, H), False)
    _rnn_check(op, "x", x, dt, (N, T, D), False)
    _rnn_check(op, "Wx", Wx, dt, (D, H), False)
    _rnn_check(op, "Wh", Wh, dt, (H, H), False)
    _rnn_check(op, "h0", h0, dt, (N, H), False)
    _rnn_check(op, "hs", hs, dt, (N, T, H), False)
    _rnn_check(op, "dx", dx, dt, (N, T, D), True)
    _rnn_check(op, "dWx", dWx, dt, (D, H), True)
    _rnn_check(op, "dWh", dWh, dt, (H, H), True)
    _rnn_check(op, "db", db, dt, (H,), True)
    _rnn_check(op, "dh0", dh0, dt, (N, H), True)
    _rnn_check(op, "dh_norm", dh_norm, _F64, (T,), True)
    _rnn_disjoint(op, [("dx", dx), ("dWx", dWx), ("dWh", dWh), ("db", db), ("dh0", dh0),
                       ("dh_norm", dh_norm)],
                  [("dhs", dhs), ("dhT", dhT), ("x", x), ("Wx", Wx), ("Wh", Wh), ("h0", h0),
                   ("hs", hs)])
    if N == 0:
        dh_norm[...] = 0.0
        return
    da = _scratch(ws, "rnn_da", (N, T, H), dt)
    hprev = _scratch(ws, "rnn_hprev", (N, T, H), dt)
    cdef int64_t nwork = _nwork()
    nrm = _scratch(ws, "rnn_norms", (nwork * T,), _F64)
    wpack = _scratch(ws, "rnn_wpackT", (_rnn_wpack_size(dt, H),), dt)
    part = _scratch(ws, "rnn_wpart", (_rnn_part_size(dt, D, H, nwork),), dt)
    if dt == _F32:
        _rnn_bwd[float](dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm, da, hprev,
                        wpack, part, nrm, nwork)
    else:
        _rnn_bwd[double](dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm, da,
                         hprev, wpack, part, nrm, nwork)
