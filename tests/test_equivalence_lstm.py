"""The C batchnorm / layernorm / lstm kernels (gradcore.backends.c) against the NumPy reference.

Tolerances are keyed by dtype and relative to the magnitude of the compared array
(``|a - r| <= RTOL * (|r| + max|r|)``): the elementwise normalisations subtract nearly equal
numbers where the output crosses zero, so a pure elementwise relative bound would test the
rounding of the data rather than the kernels. Sizes are drawn to cross the OpenMP thresholds
(BN/LN: N*C >= 65536 elements; LSTM time loop: N*T*H >= 32768).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import Workspace
from gradcore.backends.reference import batchnorm as rbn
from gradcore.backends.reference import layernorm as rln
from gradcore.backends.reference import lstm as rlstm

_kernels = pytest.importorskip("gradcore._kernels")
from gradcore.backends.c import batchnorm as cbn  # noqa: E402
from gradcore.backends.c import layernorm as cln  # noqa: E402
from gradcore.backends.c import lstm as clstm  # noqa: E402

DTYPES = [np.float32, np.float64]
# float32: a few ulps per op of the elementwise math in float32 (the reference computes BN/LN
# in float64 and rounds once) plus different summation orders; float64: summation order only.
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
# The LSTM recurrence compounds float32 rounding over the steps (T <= 12 here) and through
# the GEMMs' different summation order (OpenBLAS vs NumPy's BLAS): 3e-5 measured headroom.
RTOL_LSTM = {np.dtype(np.float32): 3e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, desired, rtol, name="", scale=None):
    desired = np.asarray(desired)
    if scale is None:
        scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=name)


def _data(rng, shape, dtype, loc=0.0, scale=1.0):
    return (loc + scale * rng.standard_normal(shape)).astype(dtype)


# --------------------------------------------------------------------------- batchnorm


@st.composite
def bn_shapes(draw, min_n=2):
    big = draw(st.booleans())
    if big:  # above GC_PARALLEL_MIN elements: row chunks on threads
        N = draw(st.integers(256, 700))
        C = draw(st.integers(100, 260))
    else:
        N = draw(st.integers(min_n, 40))
        C = draw(st.integers(1, 40))
    return N, C, draw(st.integers(0, 2**31)), draw(st.sampled_from([0.0, 3.0, 100.0]))


def _bn_run(mod, x, gamma, beta, rm, rv, dy, steps=1):
    C = x.shape[1]
    dt = x.dtype
    rm, rv = rm.copy(), rv.copy()
    y, mean, inv_std = np.empty_like(x), np.empty(C, dt), np.empty(C, dt)
    for _ in range(steps):
        mod.batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1, 1e-5, y, mean, inv_std)
    dx = np.empty_like(x)
    dgamma, dbeta = np.full(C, 0.5, dt), np.full(C, -0.25, dt)  # accumulate onto these
    mod.batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
    ye = np.empty_like(x)
    mod.batchnorm_forward_eval(x, gamma, beta, rm, rv, 1e-5, ye)
    return {
        "y": y,
        "mean": mean,
        "inv_std": inv_std,
        "running_mean": rm,
        "running_var": rv,
        "dx": dx,
        "dgamma": dgamma,
        "dbeta": dbeta,
        "y_eval": ye,
    }


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=bn_shapes())
def test_batchnorm_matches_reference(dtype, shape):
    N, C, seed, loc = shape
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    x = _data(rng, (N, C), dt, loc, 2.0)
    gamma, beta = _data(rng, C, dt), _data(rng, C, dt)
    rm, rv = _data(rng, C, dt), np.abs(_data(rng, C, dt)) + 0.5
    dy = _data(rng, (N, C), dt)
    got = _bn_run(cbn, x, gamma, beta, rm, rv, dy)
    want = _bn_run(rbn, x, gamma, beta, rm, rv, dy)
    # dx = gamma inv_std / N (N dy - sum dy - xhat sum dy xhat) cancels: with N = 2 it is ~1e-4
    # of its terms for ANY rounding of the inputs, so it is compared at the size of its terms.
    dx_scale = float(np.max(np.abs(want["inv_std"] * gamma * dy)))
    for k in want:
        assert got[k].dtype == dt
        assert_close(got[k], want[k], RTOL[dt], k, dx_scale if k == "dx" else None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 1), (3, 5), (512, 200), (300, 1)])
def test_batchnorm_running_stats_over_steps(dtype, shape, rng):
    dt = np.dtype(dtype)
    N, C = shape
    states = {}
    for name, mod in (("c", cbn), ("ref", rbn)):
        r = np.random.default_rng(7)
        rm, rv = np.zeros(C, dt), np.ones(C, dt)
        gamma, beta = np.ones(C, dt), np.zeros(C, dt)
        y, mean, istd = np.empty((N, C), dt), np.empty(C, dt), np.empty(C, dt)
        for step in range(5):
            x = _data(r, (N, C), dt, loc=step, scale=1.0 + step)
            mod.batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1, 1e-5, y, mean, istd)
        states[name] = (rm, rv, y)
    for a, b, nm in zip(
        states["c"], states["ref"], ("running_mean", "running_var", "y"), strict=True
    ):
        assert_close(a, b, RTOL[dt], nm)


def test_batchnorm_zero_rows_backward_and_eval():
    x = np.zeros((0, 3))
    dg, db = np.ones(3), np.ones(3)
    cbn.batchnorm_backward(x, x, np.ones(3), np.zeros(3), np.ones(3), np.empty((0, 3)), dg, db)
    assert (dg == 1).all() and (db == 1).all()
    cbn.batchnorm_forward_eval(
        x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 1e-5, np.empty((0, 3))
    )


# --------------------------------------------------------------------------- layernorm


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=bn_shapes(min_n=0))
def test_layernorm_matches_reference(dtype, shape):
    N, C, seed, loc = shape
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    x = _data(rng, (N, C), dt, loc, 2.0)
    gamma, beta = _data(rng, C, dt), _data(rng, C, dt)
    dy = _data(rng, (N, C), dt)
    out = {}
    for name, mod in (("c", cln), ("ref", rln)):
        y, mean, istd = np.empty_like(x), np.empty(N, dt), np.empty(N, dt)
        mod.layernorm_forward(x, gamma, beta, 1e-5, y, mean, istd)
        dx, dg, db = np.empty_like(x), np.full(C, 0.5, dt), np.full(C, -1.0, dt)
        mod.layernorm_backward(dy, x, gamma, mean, istd, dx, dg, db)
        out[name] = {"y": y, "mean": mean, "inv_std": istd, "dx": dx, "dgamma": dg, "dbeta": db}
    # dx cancels like BatchNorm's (C = 1: exactly 0 up to rounding): compare at its terms' size
    dx_scale = float(np.max(np.abs(out["ref"]["inv_std"][:, None] * gamma * dy), initial=0.0))
    for k in out["ref"]:
        assert out["c"][k].dtype == dt
        assert_close(out["c"][k], out["ref"][k], RTOL[dt], k, dx_scale if k == "dx" else None)


# --------------------------------------------------------------------------- lstm


def _lstm_inputs(rng, N, T, D, H, dt, wscale=0.5):
    return {
        "x": _data(rng, (N, T, D), dt),
        "Wx": _data(rng, (D, 4 * H), dt, scale=wscale / max(D, 1) ** 0.5),
        "Wh": _data(rng, (H, 4 * H), dt, scale=wscale / H**0.5 * 2),
        "b": _data(rng, 4 * H, dt, scale=0.5),
        "h0": _data(rng, (N, H), dt, scale=0.5),
        "c0": _data(rng, (N, H), dt),
    }


def _lstm_run(mod, p, dhs, dhT, dcT, ws=None, acc=1.0):
    x, Wx, Wh, b, h0, c0 = (p[k] for k in ("x", "Wx", "Wh", "b", "h0", "c0"))
    N, T, _ = x.shape
    H = Wh.shape[0]
    dt = x.dtype
    hs, cs, gates = np.empty((N, T, H), dt), np.empty((N, T, H), dt), np.empty((N, T, 4 * H), dt)
    mod.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates, ws=ws)
    dx, dh0, dc0 = np.empty_like(x), np.empty_like(h0), np.empty_like(c0)
    dWx, dWh, db = np.full_like(Wx, acc), np.full_like(Wh, acc), np.full_like(b, acc)
    dh_norm, dc_norm = np.empty(T), np.empty(T)
    mod.lstm_backward(
        dhs,
        dhT,
        dcT,
        x,
        Wx,
        Wh,
        h0,
        c0,
        hs,
        cs,
        gates,
        dx,
        dWx,
        dWh,
        db,
        dh0,
        dc0,
        dh_norm,
        dc_norm,
        ws=ws,
    )
    return {
        "hs": hs,
        "cs": cs,
        "gates": gates,
        "dx": dx,
        "dWx": dWx,
        "dWh": dWh,
        "db": db,
        "dh0": dh0,
        "dc0": dc0,
        "dh_norm": dh_norm,
        "dc_norm": dc_norm,
    }


@st.composite
def lstm_shapes(draw):
    kind = draw(st.sampled_from(["small", "small", "long", "wide"]))
    if kind == "long":  # N*T*H >= 32768: the time loop runs on threads (batch split)
        N, H = draw(st.integers(32, 40)), draw(st.integers(64, 72))
        T, D = draw(st.integers(16, 18)), draw(st.integers(1, 8))
    elif kind == "wide":  # the same with T = 1 and a large batch
        N, H = draw(st.integers(512, 600)), draw(st.integers(64, 70))
        T, D = 1, draw(st.integers(1, 8))
    else:
        N, H = draw(st.integers(1, 6)), draw(st.integers(1, 9))
        T, D = draw(st.integers(1, 12)), draw(st.integers(1, 7))
    return N, T, D, H, draw(st.integers(0, 2**31)), draw(st.booleans()), draw(st.booleans())


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=lstm_shapes())
def test_lstm_matches_reference(dtype, shape):
    N, T, D, H, seed, with_dhT, with_dcT = shape
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    p = _lstm_inputs(rng, N, T, D, H, dt)
    dhs = _data(rng, (N, T, H), dt)
    dhT = _data(rng, (N, H), dt) if with_dhT else None
    dcT = _data(rng, (N, H), dt) if with_dcT else None
    got = _lstm_run(clstm, p, dhs, dhT, dcT, ws=Workspace() if seed % 2 else None)
    want = _lstm_run(rlstm, p, dhs, dhT, dcT)
    for k in want:
        assert got[k].dtype == want[k].dtype
        assert_close(got[k], want[k], RTOL_LSTM[dt], k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_workspace_reuse_and_edge_sizes(dtype, rng):
    dt = np.dtype(dtype)
    ws = Workspace()
    for N, T, D, H in [(1, 1, 1, 1), (3, 5, 2, 4), (2, 1, 3, 1), (3, 5, 2, 4)]:
        p = _lstm_inputs(rng, N, T, D, H, dt)
        dhs = _data(rng, (N, T, H), dt)
        got = _lstm_run(clstm, p, dhs, None, None, ws=ws)
        want = _lstm_run(rlstm, p, dhs, None, None)
        for k in want:
            assert_close(got[k], want[k], RTOL_LSTM[dt], k)
    assert ws.nbytes > 0


def test_lstm_zero_batch():
    p = _lstm_inputs(np.random.default_rng(0), 0, 3, 2, 4, np.dtype(np.float64))
    out = _lstm_run(clstm, p, np.zeros((0, 3, 4)), None, None, acc=2.0)
    assert (out["dWx"] == 2).all() and (out["db"] == 2).all()
    assert (out["dh_norm"] == 0).all() and (out["dc_norm"] == 0).all()


def test_lstm_finite_differences_through_c_path():
    """L = <R, hs> + <r_h, h_T> + <r_c, c_T>: dhs = R, dhT = r_h, dcT = r_c (float64)."""
    rng = np.random.default_rng(1234)
    N, T, D, H = 2, 4, 3, 3
    dt = np.dtype(np.float64)
    p = _lstm_inputs(rng, N, T, D, H, dt, wscale=1.0)
    R, rh, rc = _data(rng, (N, T, H), dt), _data(rng, (N, H), dt), _data(rng, (N, H), dt)

    def loss(q):
        hs, cs, g = np.empty((N, T, H)), np.empty((N, T, H)), np.empty((N, T, 4 * H))
        clstm.lstm_forward(q["x"], q["Wx"], q["Wh"], q["b"], q["h0"], q["c0"], hs, cs, g)
        return np.sum(R * hs) + np.sum(rh * hs[:, -1]) + np.sum(rc * cs[:, -1])

    grads = _lstm_run(clstm, p, R, rh, rc, acc=0.0)
    names = {"x": "dx", "Wx": "dWx", "Wh": "dWh", "b": "db", "h0": "dh0", "c0": "dc0"}
    h = 1e-6
    for k, gk in names.items():
        fd = np.empty_like(p[k])
        for idx in np.ndindex(p[k].shape):
            q = {n: a.copy() for n, a in p.items()}
            q[k][idx] += h
            lp = loss(q)
            q[k][idx] -= 2 * h
            fd[idx] = (lp - loss(q)) / (2 * h)
        # central differences: O(h^2) truncation + O(eps/h) rounding, ~1e-9 here
        np.testing.assert_allclose(grads[gk], fd, rtol=1e-6, atol=1e-8, err_msg=k)


def test_lstm_norms_are_total_gradients():
    """With T = 1 and no dhT: dL/dh_0 = dhs[:, 0]; dL/dc_0 = dcT + dh o (1 - tanh^2 c)."""
    rng = np.random.default_rng(5)
    N, T, D, H = 3, 1, 2, 4
    p = _lstm_inputs(rng, N, T, D, H, np.dtype(np.float64))
    dhs, dcT = _data(rng, (N, T, H), np.float64), _data(rng, (N, H), np.float64)
    out = _lstm_run(clstm, p, dhs, None, dcT)
    o, c = out["gates"][:, 0, 3 * H :], out["cs"][:, 0]
    dc = dcT + dhs[:, 0] * o * (1 - np.tanh(c) ** 2)
    np.testing.assert_allclose(out["dh_norm"][0], np.linalg.norm(dhs[:, 0]), rtol=1e-14)
    np.testing.assert_allclose(out["dc_norm"][0], np.linalg.norm(dc), rtol=1e-14)


# --------------------------------------------------------------------------- bad inputs


def _bn_args(N=4, C=3, dt=np.float64):
    return [
        np.ones((N, C), dt),
        np.ones(C, dt),
        np.zeros(C, dt),
        np.zeros(C, dt),
        np.ones(C, dt),
        0.1,
        1e-5,
        np.empty((N, C), dt),
        np.empty(C, dt),
        np.empty(C, dt),
    ]


def test_batchnorm_bad_inputs_raise():
    with pytest.raises(ValueError, match="more than 1 value"):
        cbn.batchnorm_forward_train(*_bn_args(N=1))
    a = _bn_args()
    a[1] = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="gamma has dtype float32, expected float64"):
        cbn.batchnorm_forward_train(*a)
    a = _bn_args()
    a[2] = np.zeros(4)
    with pytest.raises(ValueError, match=r"beta has shape \(4,\), expected \(3,\)"):
        cbn.batchnorm_forward_train(*a)
    a = _bn_args()
    a[0] = np.ones((4, 6))[:, ::2]
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        cbn.batchnorm_forward_train(*a)
    a = _bn_args()
    a[0] = np.ones((4, 3), np.int64)
    with pytest.raises(TypeError, match="x has dtype int64"):
        cbn.batchnorm_forward_train(*a)
    a = _bn_args()
    a[7] = a[0]  # y aliases x
    with pytest.raises(ValueError, match="y shares memory with x"):
        cbn.batchnorm_forward_train(*a)
    a = _bn_args()
    a[3].flags.writeable = False
    with pytest.raises(ValueError, match="running_mean is an output"):
        cbn.batchnorm_forward_train(*a)
    a = _bn_args()
    a[0] = [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError, match=r"x must be a numpy\.ndarray"):
        cbn.batchnorm_forward_train(*a)
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="dx has shape"):
        cbn.batchnorm_backward(
            x, x, np.ones(3), np.zeros(3), np.ones(3), np.empty((3, 3)), np.zeros(3), np.zeros(3)
        )
    with pytest.raises(ValueError, match="x must be 2-d"):
        cbn.batchnorm_forward_eval(
            np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 1e-5, np.empty(3)
        )


def test_layernorm_bad_inputs_raise():
    x = np.ones((4, 3), np.float32)
    g = np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"mean has shape \(3,\), expected \(4,\)"):
        cln.layernorm_forward(
            x, g, g, 1e-5, np.empty_like(x), np.empty(3, np.float32), np.empty(4, np.float32)
        )
    with pytest.raises(ValueError, match="at least one feature"):
        cln.layernorm_forward(
            np.ones((4, 0)), np.ones(0), np.ones(0), 1e-5, np.ones((4, 0)), np.empty(4), np.empty(4)
        )
    with pytest.raises(TypeError, match="expected float32"):
        cln.layernorm_backward(
            x,
            x,
            g,
            np.zeros(4, np.float32),
            np.ones(4, np.float32),
            np.empty((4, 3)),
            g.copy(),
            g.copy(),
        )


def test_read_only_inputs_accepted():
    rng = np.random.default_rng(3)
    a = _bn_args(N=6, C=5)
    a[0] = rng.standard_normal((6, 5))
    for i in (0, 1, 2):
        a[i].flags.writeable = False
    cbn.batchnorm_forward_train(*a)
    p = _lstm_inputs(rng, 2, 3, 2, 2, np.dtype(np.float64))
    for v in p.values():
        v.flags.writeable = False
    dhs = np.ones((2, 3, 2))
    dhs.flags.writeable = False
    want = _lstm_run(rlstm, p, dhs, None, None)
    got = _lstm_run(clstm, p, dhs, None, None)
    for k in want:
        assert_close(got[k], want[k], 1e-12, k)


def test_lstm_bad_inputs_raise():
    rng = np.random.default_rng(4)
    N, T, D, H = 2, 3, 2, 4
    p = _lstm_inputs(rng, N, T, D, H, np.dtype(np.float64))
    hs, cs, g = np.empty((N, T, H)), np.empty((N, T, H)), np.empty((N, T, 4 * H))
    base = [p["x"], p["Wx"], p["Wh"], p["b"], p["h0"], p["c0"], hs, cs, g]

    def fwd(i, v, exc, match):
        a = list(base)
        a[i] = v
        with pytest.raises(exc, match=match):
            clstm.lstm_forward(*a)

    fwd(1, np.ones((D, 4 * H + 1)), ValueError, r"Wx has shape \(2, 17\), expected \(2, 16\)")
    fwd(4, np.ones((N, H), np.float32), TypeError, "h0 has dtype float32")
    fwd(0, np.ones((N, T)), ValueError, "x must be 3-d")
    fwd(0, np.ones((N, T, 2 * D))[:, :, ::2], ValueError, "x must be C-contiguous")
    fwd(0, np.ones((N, 0, D)), ValueError, "T must be >= 1")
    fwd(
        8,
        g.reshape(-1)[: N * T * 4 * H].reshape(N, T, 4 * H)[:, ::-1],
        ValueError,
        "gates must be C-contiguous",
    )
    a = list(base)
    a[6] = np.empty((N, T, H))
    a[7] = a[6]  # cs aliases hs
    with pytest.raises(ValueError, match=r"cs shares memory with hs|hs shares memory with cs"):
        clstm.lstm_forward(*a)
    clstm.lstm_forward(*base)
    dh0, dc0 = np.empty((N, H)), np.empty((N, H))
    bw = [
        np.ones((N, T, H)),
        None,
        None,
        p["x"],
        p["Wx"],
        p["Wh"],
        p["h0"],
        p["c0"],
        hs,
        cs,
        g,
        np.empty_like(p["x"]),
        np.zeros_like(p["Wx"]),
        np.zeros_like(p["Wh"]),
        np.zeros_like(p["b"]),
        dh0,
        dc0,
        np.empty(T),
        np.empty(T),
    ]

    def bwd(i, v, exc, match):
        a = list(bw)
        a[i] = v
        with pytest.raises(exc, match=match):
            clstm.lstm_backward(*a)

    bwd(1, np.ones((N, H + 1)), ValueError, r"dhT has shape \(2, 5\), expected \(2, 4\)")
    bwd(2, np.ones((N, H), np.float32), TypeError, "dcT has dtype float32")
    bwd(17, np.empty(T, np.float32), TypeError, "dh_norm has dtype float32, expected float64")
    bwd(18, np.empty(T + 1), ValueError, "dc_norm has shape")
    bwd(15, p["h0"], ValueError, "dh0 shares memory with h0")
    bwd(11, np.empty((N, T, D + 1)), ValueError, "dx has shape")
    ro = np.zeros_like(p["Wh"])
    ro.flags.writeable = False
    bwd(13, ro, ValueError, "dWh is an output and must be writeable")
    clstm.lstm_backward(*bw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_threaded_and_serial_paths_agree(dtype, rng):
    """Above the thresholds the kernels split rows/batch over threads; the serial path (one
    thread: one chunk) must give the same results up to summation order."""
    dt = np.dtype(dtype)
    x, dy = _data(rng, (600, 150), dt, 1.0, 3.0), _data(rng, (600, 150), dt)
    gamma, beta = _data(rng, 150, dt), _data(rng, 150, dt)
    p = _lstm_inputs(rng, 40, 20, 5, 64, dt)
    dhs = _data(rng, (40, 20, 64), dt)
    runs = []
    for threads in (None, 1):
        n = _kernels.max_threads()
        if threads:
            _kernels.set_num_threads(threads)
        try:
            bn = _bn_run(cbn, x, gamma, beta, np.zeros(150, dt), np.ones(150, dt), dy)
            ls = _lstm_run(clstm, p, dhs, None, None)
        finally:
            _kernels.set_num_threads(n)
        runs.append({**{"bn_" + k: v for k, v in bn.items()}, **ls})
    for k in runs[0]:
        assert_close(runs[0][k], runs[1][k], RTOL_LSTM[dt], k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_saturated_gates_match_reference(dtype, rng):
    """Pre-activations of +-100 and more: sigmoid/tanh saturate, exp(-|a|) underflows."""
    dt = np.dtype(dtype)
    p = _lstm_inputs(rng, 3, 4, 3, 5, dt)
    p["Wx"] = (p["Wx"] * 200).astype(dt)
    p["b"][::3] = dt.type(-120)
    dhs = _data(rng, (3, 4, 5), dt)
    got = _lstm_run(clstm, p, dhs, None, None)
    want = _lstm_run(rlstm, p, dhs, None, None)
    for k in want:
        assert np.isfinite(got[k]).all(), k
        assert_close(got[k], want[k], RTOL_LSTM[dt], k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_nonfinite_inputs_propagate_like_reference(dtype, rng):
    """+-inf pre-activations saturate the gates, NaN propagates; no crash, same as the reference."""
    dt = np.dtype(dtype)
    p = _lstm_inputs(rng, 3, 4, 1, 3, dt)
    p["x"][0, 1, 0] = np.inf
    p["x"][1, 2, 0] = -np.inf
    p["x"][2, 0, 0] = np.nan
    dhs = _data(rng, (3, 4, 3), dt)
    with np.errstate(invalid="ignore", over="ignore"):
        want = _lstm_run(rlstm, p, dhs, None, None)
    got = _lstm_run(clstm, p, dhs, None, None)
    for k in ("hs", "cs", "gates", "dh_norm", "dc_norm", "dh0", "dc0"):
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want[k]), err_msg=k)
        fin = np.isfinite(want[k])
        assert_close(got[k][fin], want[k][fin], RTOL_LSTM[dt], k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("outlier", [1e2, 1e4, 1e6])
@pytest.mark.parametrize("shape", [(512, 4), (600, 150), (37, 3)])
def test_batchnorm_statistics_robust_to_outlier_rows(dtype, outlier, shape, rng):
    """An outlier in the first row (or any row) must not cost accuracy in the variance."""
    dt = np.dtype(dtype)
    N, C = shape
    x = _data(rng, (N, C), dt)
    x[0] = outlier
    x[N // 2, 0] = -outlier
    gamma, beta = np.ones(C, dt), np.zeros(C, dt)
    dy = _data(rng, (N, C), dt)
    got = _bn_run(cbn, x, gamma, beta, np.zeros(C, dt), np.ones(C, dt), dy)
    want = _bn_run(rbn, x, gamma, beta, np.zeros(C, dt), np.ones(C, dt), dy)
    for k in ("mean", "inv_std", "running_mean", "running_var", "y"):
        assert_close(got[k], want[k], RTOL[dt], k)
