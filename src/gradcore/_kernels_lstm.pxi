# Bindings of the lstm family (kernels/lstm.c): a batch-first sequence, forward and backward
# through time. Contract: docs/kernels.md; checks: _kernels_checks.pxi.

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


cdef int _lstm_dims(str op, object x, object Wh, int64_t *dims) except -1:
    """(N, T, D, H) from x[N,T,D] and Wh[H,4H]; T >= 1, H >= 1; GEMM sizes < 2**31."""
    _check_ndim(op, "x", x, 3, "[N, T, D]")
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
    if dt == _F32:
        return gc_lstm_wpack_size_f32(H, backward)
    return gc_lstm_wpack_size_f64(H, backward)


cdef int64_t _lstm_part_size(object dt, int64_t D, int64_t H, int64_t nwork):
    if dt == _F32:
        return gc_lstm_part_size_f32(D, H, nwork)
    return gc_lstm_part_size_f64(D, H, nwork)


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


cdef tuple _LSTM_FWD_NAMES = ("hs", "cs", "gates", "x", "Wx", "Wh", "b", "h0", "c0")


def lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates, ws=None):
    """LSTM over a batch-first sequence (gate order i, f, g, o, one bias); docs/kernels.md.

    ``x[N,T,D]``, ``Wx[D,4H]``, ``Wh[H,4H]``, ``b[4H]``, ``h0[N,H]``, ``c0[N,H]``; writes
    ``hs[N,T,H]``, ``cs[N,T,H]``, ``gates[N,T,4H]`` (activated). Scratch: the packed copy of
    ``Wh`` (name ``lstm_wpack``) from ``ws`` when given, else allocated.
    """
    op = "lstm_forward"
    dt = _float_dtype(op, "x", x)
    cdef int64_t dims[4]
    _lstm_dims(op, x, Wh, dims)
    N, T, D, H = dims[0], dims[1], dims[2], dims[3]
    _check(op, "x", x, dt, (N, T, D), False, "x")
    _check(op, "Wx", Wx, dt, (D, 4 * H), False, "x")
    _check(op, "Wh", Wh, dt, (H, 4 * H), False, "x")
    _check(op, "b", b, dt, (4 * H,), False, "x")
    _check(op, "h0", h0, dt, (N, H), False, "x")
    _check(op, "c0", c0, dt, (N, H), False, "x")
    _check(op, "hs", hs, dt, (N, T, H), True, "x")
    _check(op, "cs", cs, dt, (N, T, H), True, "x")
    _check(op, "gates", gates, dt, (N, T, 4 * H), True, "x")
    _disjoint_arrays(op, 3, (hs, cs, gates, x, Wx, Wh, b, h0, c0), _LSTM_FWD_NAMES)
    if N == 0:
        return
    wpack = _scratch(ws, "lstm_wpack", (_lstm_wpack_size(dt, H, 0),), dt)
    if dt == _F32:
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


cdef tuple _LSTM_BWD_NAMES = ("dx", "dWx", "dWh", "db", "dh0", "dc0", "dh_norm", "dc_norm", "dhs",
                              "dhT", "dcT", "x", "Wx", "Wh", "h0", "c0", "hs", "cs", "gates")


def lstm_backward(dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0, dc0,
                  dh_norm, dc_norm, ws=None):
    """Backpropagation through time for :func:`lstm_forward`; docs/kernels.md.

    ``dx``, ``dh0``, ``dc0`` overwritten; ``dWx``, ``dWh``, ``db`` accumulate; ``dh_norm[T]``,
    ``dc_norm[T]`` (float64) receive the Frobenius norms of the total dL/dh_t and dL/dc_t.
    Scratch ``da[N,T,4H]``, ``hprev[N,T,H]``, the per-thread norm partials, the packed ``Wh^T``
    and the per-thread partial weight gradients (names ``lstm_da``, ``lstm_hprev``,
    ``lstm_norms``, ``lstm_wpackT``, ``lstm_wpart``) come from ``ws`` when given, else are
    allocated.
    """
    op = "lstm_backward"
    dt = _float_dtype(op, "x", x)
    cdef int64_t dims[4]
    _lstm_dims(op, x, Wh, dims)
    N, T, D, H = dims[0], dims[1], dims[2], dims[3]
    _check(op, "dhs", dhs, dt, (N, T, H), False, "x")
    if dhT is not None:
        _check(op, "dhT", dhT, dt, (N, H), False, "x")
    if dcT is not None:
        _check(op, "dcT", dcT, dt, (N, H), False, "x")
    _check(op, "x", x, dt, (N, T, D), False, "x")
    _check(op, "Wx", Wx, dt, (D, 4 * H), False, "x")
    _check(op, "Wh", Wh, dt, (H, 4 * H), False, "x")
    _check(op, "h0", h0, dt, (N, H), False, "x")
    _check(op, "c0", c0, dt, (N, H), False, "x")
    _check(op, "hs", hs, dt, (N, T, H), False, "x")
    _check(op, "cs", cs, dt, (N, T, H), False, "x")
    _check(op, "gates", gates, dt, (N, T, 4 * H), False, "x")
    _check(op, "dx", dx, dt, (N, T, D), True, "x")
    _check(op, "dWx", dWx, dt, (D, 4 * H), True, "x")
    _check(op, "dWh", dWh, dt, (H, 4 * H), True, "x")
    _check(op, "db", db, dt, (4 * H,), True, "x")
    _check(op, "dh0", dh0, dt, (N, H), True, "x")
    _check(op, "dc0", dc0, dt, (N, H), True, "x")
    _check(op, "dh_norm", dh_norm, _F64, (T,), True, None)
    _check(op, "dc_norm", dc_norm, _F64, (T,), True, None)
    _disjoint_arrays(op, 8, (dx, dWx, dWh, db, dh0, dc0, dh_norm, dc_norm, dhs, dhT, dcT, x, Wx,
                             Wh, h0, c0, hs, cs, gates), _LSTM_BWD_NAMES)
    if N == 0:
        dh_norm[...] = 0.0
        dc_norm[...] = 0.0
        return
    da = _scratch(ws, "lstm_da", (N, T, 4 * H), dt)
    hprev = _scratch(ws, "lstm_hprev", (N, T, H), dt)
    cdef int64_t nwork = _nwork()
    nrm = _scratch(ws, "lstm_norms", (nwork * 2 * T,), _F64)
    wpack = _scratch(ws, "lstm_wpackT", (_lstm_wpack_size(dt, H, 1),), dt)
    part = _scratch(ws, "lstm_wpart", (_lstm_part_size(dt, D, H, nwork),), dt)
    if dt == _F32:
        _lstm_bwd[float](dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0,
                         dc0, dh_norm, dc_norm, da, hprev, wpack, part, nrm, nwork)
    else:
        _lstm_bwd[double](dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db,
                          dh0, dc0, dh_norm, dc_norm, da, hprev, wpack, part, nrm, nwork)
