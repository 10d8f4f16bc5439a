"""Equivalence suite, LSTM family: the forward and backward kernels (with the per-step gradient
norms), every compiled backend vs the NumPy reference, float32 and float64 (harness:
``tests/_equivalence.py``; tolerances: ``tests/_tolerances.py``), and the c kernels against
finite differences (``gc.gradcheck``).

Scales (:func:`lstm_scales`): the recurrence compounds rounding over the T steps
(``compiled_recurrent`` is per step, ``factor=T``). A forward element is judged at the size of
its step's pre-activation sums, ``|x_t| @ |Wx| + |h_{t-1}| @ |Wh| + |b|`` (its batch row), plus
the cell state it carries. A gradient is a GEMM / sum of the gate gradients, which can come out
much smaller than its terms by cancellation (saturated gates): it is judged at the size of its
terms, the incoming gradient times the magnitudes it is multiplied with. Sizes are drawn to
cross the OpenMP threshold of the time loop (N*T*H >= 32768: batch split over threads).
"""

from __future__ import annotations

import numpy as np
import pytest
from _equivalence import (
    BACKEND,
    C_ONLY,
    DT,
    MODS,
    SETTINGS,
    rand,
    randn,
    read_only,
    recurrent_shapes,
    threaded_and_serial,
)
from _fd import assert_gradcheck
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import Workspace
from gradcore.backends import reference as ref

K = "compiled_recurrent"
FWD = ("hs", "cs", "gates")
GRADS = ("dx", "dWx", "dWh", "db", "dh0", "dc0")
NORMS = ("dh_norm", "dc_norm")


def lstm_inputs(rng, N, T, D, H, dt, wscale=0.5):
    return {
        "x": rand(rng, (N, T, D), dt),
        "Wx": rand(rng, (D, 4 * H), dt, wscale / max(D, 1) ** 0.5),
        "Wh": rand(rng, (H, 4 * H), dt, wscale / H**0.5 * 2),
        "b": rand(rng, 4 * H, dt, 0.5),
        "h0": rand(rng, (N, H), dt, 0.5),
        "c0": rand(rng, (N, H), dt),
    }


def lstm_run(mod, p, dhs, dhT, dcT, ws=None, acc=1.0):
    """Forward then backward of ``mod``; every output by name (gradients accumulate onto
    ``acc``)."""
    x, Wx, Wh, b, h0, c0 = (p[k] for k in ("x", "Wx", "Wh", "b", "h0", "c0"))
    N, T, _ = x.shape
    H = Wh.shape[0]
    dt = x.dtype
    hs, cs, gates = np.empty((N, T, H), dt), np.empty((N, T, H), dt), np.empty((N, T, 4 * H), dt)
    mod.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates, ws=ws)
    dx, dh0, dc0 = np.empty_like(x), np.empty_like(h0), np.empty_like(c0)
    dWx, dWh, db = np.full_like(Wx, acc), np.full_like(Wh, acc), np.full_like(b, acc)
    dh_norm, dc_norm = np.empty(T), np.empty(T)
    mod.lstm_backward(dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates, dx, dWx, dWh, db, dh0,
                      dc0, dh_norm, dc_norm, ws=ws)  # fmt: skip
    return {"hs": hs, "cs": cs, "gates": gates, "dx": dx, "dWx": dWx, "dWh": dWh, "db": db,
            "dh0": dh0, "dc0": dc0, "dh_norm": dh_norm, "dc_norm": dc_norm}  # fmt: skip


def lstm_scales(p, want, dhs, dhT, dcT, acc=1.0):
    """The error scale of every output (see the module docstring), from the inputs and the
    reference's states."""
    f = lambda a: np.abs(np.asarray(a, np.float64))  # noqa: E731
    x, Wx, Wh, b, h0, c0 = (f(p[k]) for k in ("x", "Wx", "Wh", "b", "h0", "c0"))
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs, cs = f(want["hs"]), f(want["cs"])
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    c_prev = np.concatenate([c0[:, None], cs[:, :-1]], axis=1)
    # pre-activation sums of every step, per batch row (max over the 4H gates)
    a = x @ Wx + h_prev @ Wh + b
    row = a.max(axis=2, initial=0.0)[..., None]
    cell = row + c_prev + cs
    # the incoming gradient: every dL/dh_t, dL/dc_t is a sum of the given ones through gates
    # and weights of size <= 1 (per step; the factor T covers the steps)
    G = max(float(f(dhs).max(initial=0.0)), 0.0)
    G += float(f(dhT).max(initial=0.0)) if dhT is not None else 0.0
    G += float(f(dcT).max(initial=0.0)) if dcT is not None else 0.0
    G *= 1.0 + float(Wh.sum(axis=1).max(initial=0.0))  # dh_{t-1} = da_t Wh^T
    acc = abs(acc)
    return {
        "gates": row,
        "cs": cell,
        "hs": cell,
        "dx": G * Wx.sum(axis=1),  # (D,), broadcast over (N, T, D)
        "dWx": G * x.sum(axis=(0, 1))[:, None] + acc,
        "dWh": G * h_prev.sum(axis=(0, 1))[:, None] + acc,
        "db": G * N * T + acc,
        "dh0": G * Wh.sum(axis=1)[None, :],
        "dc0": G + 0 * c0,
        "dh_norm": G * np.sqrt(N * H) + np.zeros(T),
        "dc_norm": G * np.sqrt(N * H) + np.zeros(T),
    }


def check_lstm(got, want, p, dhs, dhT, dcT, acc=1.0, keys=None, factor=None):
    T = p["x"].shape[1]
    s = lstm_scales(p, want, dhs, dhT, dcT, acc)
    dt = p["x"].dtype
    for k in keys or want:
        assert got[k].dtype == want[k].dtype, k
        # the norms are float64 whatever the data dtype; they carry the data's rounding
        close(got[k], want[k], K, dt, scale=s[k], factor=factor or T, err_msg=k)


@BACKEND
@DT
@SETTINGS
@given(
    dims=st.tuples(st.integers(0, 4), st.integers(1, 6), st.integers(0, 5), st.integers(1, 5)),
    final=st.booleans(),
    data=st.data(),
)
def test_lstm(name, dt, dims, final, data):
    N, T, D, H = dims
    p = {
        "x": randn(data, (N, T, D), dt, lo=-1, hi=0),
        "Wx": randn(data, (D, 4 * H), dt, lo=-1, hi=0),
        "Wh": randn(data, (H, 4 * H), dt, lo=-1, hi=-1) * dt(5),  # spectral size ~0.5-1
        "b": randn(data, (4 * H,), dt, lo=-1, hi=0),
        "h0": randn(data, (N, H), dt),
        "c0": randn(data, (N, H), dt),
    }
    dhs = randn(data, (N, T, H), dt)
    dhT = randn(data, (N, H), dt) if final else None
    dcT = randn(data, (N, H), dt) if final else None
    acc = randn(data, (), dt)
    got = lstm_run(MODS[name], p, dhs, dhT, dcT, acc=acc)
    want = lstm_run(ref, p, dhs, dhT, dcT, acc=acc)
    check_lstm(got, want, p, dhs, dhT, dcT, acc)


@st.composite
def lstm_shapes(draw):
    N, T, D, H = draw(recurrent_shapes(min_d=1))
    return N, T, D, H, draw(st.integers(0, 2**31)), draw(st.booleans()), draw(st.booleans())


@BACKEND
@DT
@given(shape=lstm_shapes())
def test_lstm_large_and_threaded(name, dt, shape):
    N, T, D, H, seed, with_dhT, with_dcT = shape
    rng = np.random.default_rng(seed)
    p = lstm_inputs(rng, N, T, D, H, dt)
    dhs = rand(rng, (N, T, H), dt)
    dhT = rand(rng, (N, H), dt) if with_dhT else None
    dcT = rand(rng, (N, H), dt) if with_dcT else None
    got = lstm_run(MODS[name], p, dhs, dhT, dcT, ws=Workspace() if seed % 2 else None)
    want = lstm_run(ref, p, dhs, dhT, dcT)
    check_lstm(got, want, p, dhs, dhT, dcT)


@BACKEND
@DT
def test_lstm_norms_float64_with_float32_data(name, dt, rng):
    """dh_norm/dc_norm are float64 whatever the data dtype; with ws the result is the same."""
    N, T, D, H = 3, 5, 2, 4
    zeros = np.zeros((N, H), dt)
    p = {"x": rng.standard_normal((N, T, D)).astype(dt),
         "Wx": (0.4 * rng.standard_normal((D, 4 * H))).astype(dt),
         "Wh": (0.3 * rng.standard_normal((H, 4 * H))).astype(dt),
         "b": np.zeros(4 * H, dt), "h0": zeros, "c0": zeros.copy()}  # fmt: skip
    dhs = np.ones((N, T, H), dt)
    got = lstm_run(MODS[name], p, dhs, None, None, ws=Workspace(), acc=0.0)
    want = lstm_run(ref, p, dhs, None, None, ws=Workspace(), acc=0.0)
    assert got["dh_norm"].dtype == got["dc_norm"].dtype == np.float64
    check_lstm(got, want, p, dhs, None, None, acc=0.0)


@BACKEND
@DT
def test_lstm_workspace_reuse_and_edge_sizes(name, dt, rng):
    ws = Workspace()
    for N, T, D, H in [(1, 1, 1, 1), (3, 5, 2, 4), (2, 1, 3, 1), (3, 5, 2, 4)]:
        p = lstm_inputs(rng, N, T, D, H, dt)
        dhs = rand(rng, (N, T, H), dt)
        got = lstm_run(MODS[name], p, dhs, None, None, ws=ws)
        want = lstm_run(ref, p, dhs, None, None)
        check_lstm(got, want, p, dhs, None, None)
    if name == "c":
        assert ws.nbytes > 0  # the c kernels keep their scratch in the workspace


@BACKEND
def test_lstm_zero_batch(name):
    p = lstm_inputs(np.random.default_rng(0), 0, 3, 2, 4, np.dtype(np.float64))
    out = lstm_run(MODS[name], p, np.zeros((0, 3, 4)), None, None, acc=2.0)
    assert (out["dWx"] == 2).all() and (out["db"] == 2).all()
    assert (out["dh_norm"] == 0).all() and (out["dc_norm"] == 0).all()


@BACKEND
def test_lstm_finite_differences_through_the_backend(name):
    """gc.gradcheck of the kernels as a function of (x, Wx, Wh, b, h0, c0) with the output
    (hs, h_T, c_T): the backward gets dhs, dhT and dcT (float64)."""
    be = MODS[name]
    rng = np.random.default_rng(1234)
    N, T, D, H = 2, 4, 3, 3
    p = lstm_inputs(rng, N, T, D, H, np.dtype(np.float64), wscale=1.0)

    def fn(x, Wx, Wh, b, h0, c0):
        hs, cs, g = np.empty((N, T, H)), np.empty((N, T, H)), np.empty((N, T, 4 * H))
        be.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, g)
        y = np.concatenate([hs.ravel(), hs[:, -1].ravel(), cs[:, -1].ravel()])

        def vjp(P):
            k = N * T * H
            dhs, dhT, dcT = P[:k].reshape(N, T, H), P[k : k + N * H], P[k + N * H :]
            out = lstm_run(be, dict(x=x, Wx=Wx, Wh=Wh, b=b, h0=h0, c0=c0), dhs,
                           dhT.reshape(N, H), dcT.reshape(N, H), acc=0.0)  # fmt: skip
            return tuple(out[k] for k in GRADS)

        return y, vjp

    names = ("x", "Wx", "Wh", "b", "h0", "c0")
    assert_gradcheck(fn, tuple(p[k] for k in names))


@BACKEND
def test_lstm_norms_are_total_gradients(name):
    """With T = 1 and no dhT: dL/dh_0 = dhs[:, 0]; dL/dc_0 = dcT + dh o (1 - tanh^2 c)."""
    rng = np.random.default_rng(5)
    N, T, D, H = 3, 1, 2, 4
    p = lstm_inputs(rng, N, T, D, H, np.dtype(np.float64))
    dhs, dcT = rand(rng, (N, T, H), np.float64), rand(rng, (N, H), np.float64)
    out = lstm_run(MODS[name], p, dhs, None, dcT)
    o, c = out["gates"][:, 0, 3 * H :], out["cs"][:, 0]
    dc = dcT + dhs[:, 0] * o * (1 - np.tanh(c) ** 2)
    np.testing.assert_allclose(out["dh_norm"][0], np.linalg.norm(dhs[:, 0]), rtol=1e-14)
    np.testing.assert_allclose(out["dc_norm"][0], np.linalg.norm(dc), rtol=1e-14)


@BACKEND
def test_lstm_read_only_inputs_accepted(name):
    rng = np.random.default_rng(3)
    p = {k: read_only(v) for k, v in lstm_inputs(rng, 2, 3, 2, 2, np.dtype(np.float64)).items()}
    dhs = read_only(np.ones((2, 3, 2)))
    want = lstm_run(ref, p, dhs, None, None)
    got = lstm_run(MODS[name], p, dhs, None, None)
    check_lstm(got, want, p, dhs, None, None)


@BACKEND
@DT
def test_lstm_saturated_gates_match_reference(name, dt, rng):
    """Pre-activations of +-100 and more: sigmoid/tanh saturate, exp(-|a|) underflows."""
    p = lstm_inputs(rng, 3, 4, 3, 5, dt)
    p["Wx"] = (p["Wx"] * 200).astype(dt)
    p["b"][::3] = dt(-120)
    dhs = rand(rng, (3, 4, 5), dt)
    got = lstm_run(MODS[name], p, dhs, None, None)
    want = lstm_run(ref, p, dhs, None, None)
    for k in want:
        assert np.isfinite(got[k]).all(), k
    check_lstm(got, want, p, dhs, None, None)


@BACKEND
@DT
def test_lstm_nonfinite_inputs_propagate_like_reference(name, dt, rng):
    """+-inf pre-activations saturate the gates, NaN propagates; no crash, same as the reference."""
    p = lstm_inputs(rng, 3, 4, 1, 3, dt)
    p["x"][0, 1, 0] = np.inf
    p["x"][1, 2, 0] = -np.inf
    p["x"][2, 0, 0] = np.nan
    dhs = rand(rng, (3, 4, 3), dt)
    with np.errstate(invalid="ignore", over="ignore"):
        want = lstm_run(ref, p, dhs, None, None)
    got = lstm_run(MODS[name], p, dhs, None, None)
    keys = ("hs", "cs", "gates", "dh_norm", "dc_norm", "dh0", "dc0")
    for k in keys:
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want[k]), err_msg=k)
    # the finite elements, at the scales of the finite inputs (non-finite ones as 0) plus 1:
    # a gate saturated by an infinite input is bounded by 1, and so are h and the step of c
    fin = {k: np.where(np.isfinite(want[k]), want[k], 0) for k in want}
    q = dict(p, x=np.where(np.isfinite(p["x"]), p["x"], 0))
    s = lstm_scales(q, fin, dhs, None, None)
    T = p["x"].shape[1]
    for k in keys:
        ok = np.isfinite(want[k])
        close(got[k][ok], want[k][ok], K, dt, scale=(s[k] + (k in FWD)) * np.ones(ok.shape)[ok]
              if np.ndim(s[k]) == 0 else np.broadcast_to(s[k] + (k in FWD), ok.shape)[ok],
              factor=T, err_msg=k)  # fmt: skip


# ------------------------------------------------------------------------- c: input handling


@C_ONLY
def test_c_lstm_bad_inputs_raise():
    clstm = MODS["c"]
    rng = np.random.default_rng(4)
    N, T, D, H = 2, 3, 2, 4
    p = lstm_inputs(rng, N, T, D, H, np.dtype(np.float64))
    hs, cs, g = np.empty((N, T, H)), np.empty((N, T, H)), np.empty((N, T, 4 * H))
    base = [p["x"], p["Wx"], p["Wh"], p["b"], p["h0"], p["c0"], hs, cs, g]

    def fwd(i, v, exc, match):
        a = list(base)
        a[i] = v
        with pytest.raises(exc, match=match):
            clstm.lstm_forward(*a)

    # content, not phrasing: the argument, the expected and the given (either wording)
    fwd(1, np.ones((D, 4 * H + 1)), ValueError, r"Wx.*(\(2, 17\).*\(2, 16\)|\(2, 16\).*\(2, 17\))")
    fwd(4, np.ones((N, H), np.float32), TypeError, r"h0 .*float32")
    fwd(0, np.ones((N, T)), ValueError, "x must be 3-d")
    fwd(0, np.ones((N, T, 2 * D))[:, :, ::2], ValueError, "x must be C-contiguous")
    fwd(0, np.ones((N, 0, D)), ValueError, "T must be >= 1")
    fwd(8, g.reshape(-1)[: N * T * 4 * H].reshape(N, T, 4 * H)[:, ::-1], ValueError,
        "gates must be C-contiguous")  # fmt: skip
    a = list(base)
    a[6] = np.empty((N, T, H))
    a[7] = a[6]  # cs aliases hs
    alias = r"(cs .*share.* memory with hs|hs .*share.* memory with cs)"
    with pytest.raises(ValueError, match=alias):
        clstm.lstm_forward(*a)
    clstm.lstm_forward(*base)
    dh0, dc0 = np.empty((N, H)), np.empty((N, H))
    bw = [np.ones((N, T, H)), None, None, p["x"], p["Wx"], p["Wh"], p["h0"], p["c0"], hs, cs, g,
          np.empty_like(p["x"]), np.zeros_like(p["Wx"]), np.zeros_like(p["Wh"]),
          np.zeros_like(p["b"]), dh0, dc0, np.empty(T), np.empty(T)]  # fmt: skip

    def bwd(i, v, exc, match):
        a = list(bw)
        a[i] = v
        with pytest.raises(exc, match=match):
            clstm.lstm_backward(*a)

    bwd(1, np.ones((N, H + 1)), ValueError, r"dhT.*(\(2, 5\).*\(2, 4\)|\(2, 4\).*\(2, 5\))")
    bwd(2, np.ones((N, H), np.float32), TypeError, r"dcT .*float32")
    bwd(17, np.empty(T, np.float32), TypeError, r"dh_norm .*(float32.*float64|float64.*float32)")
    bwd(18, np.empty(T + 1), ValueError, r"dc_norm .*shape")
    bwd(15, p["h0"], ValueError, r"dh0 .*share.* memory with h0")
    bwd(11, np.empty((N, T, D + 1)), ValueError, r"dx .*shape")
    ro = np.zeros_like(p["Wh"])
    ro.flags.writeable = False
    bwd(13, ro, ValueError, r"dWh .*writeable")
    clstm.lstm_backward(*bw)


@C_ONLY
@DT
def test_c_threaded_and_serial_paths_agree(dt, rng):
    """Above the thresholds the kernels split the batch over threads; the serial path (one
    thread: one chunk) must give the same results up to summation order."""
    p = lstm_inputs(rng, 40, 20, 5, 64, dt)
    dhs = rand(rng, (40, 20, 64), dt)
    runs = threaded_and_serial(lambda: lstm_run(MODS["c"], p, dhs, None, None))
    check_lstm(runs[0], runs[1], p, dhs, None, None)
