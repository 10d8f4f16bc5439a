"""The NumPy reference LSTM kernels against float64 finite differences.

Two independent checks of ``lstm_backward``:
- ``gc.gradcheck`` (central differences of a random projection of the outputs (hs, hT, cT))
  w.r.t. every input;
- the per-step norms ``dh_norm[t]``, ``dc_norm[t]`` against finite differences of the loss
  w.r.t. additive perturbations ``e_h[t]``, ``e_c[t]`` injected into an independent forward
  (``c_t <- c_t + e_c[t]`` before ``h_t`` is formed, ``h_t <- h_t + e_h[t]``): dL/de_h[t] is the
  total gradient at h_t, dL/de_c[t] the total gradient at c_t (including the path via h_t).
"""

import numpy as np
import pytest
from _fd import assert_gradcheck, op
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref

# --------------------------------------------------------------------------- helpers


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # an independent, overflow-free formula


def _independent_forward(x, Wx, Wh, b, h0, c0, e_h=None, e_c=None):
    """Textbook LSTM written separately from the kernel, with optional injection points."""
    T = x.shape[1]
    H = Wh.shape[0]
    h, c = h0, c0
    hs, cs = [], []
    for t in range(T):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, g, o = (a[:, k * H : (k + 1) * H] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        if e_c is not None:
            c = c + e_c[t]
        h = _sigmoid(o) * np.tanh(c)
        if e_h is not None:
            h = h + e_h[t]
        hs.append(h)
        cs.append(c)
    return np.stack(hs, axis=1), np.stack(cs, axis=1)


def _forward(x, Wx, Wh, b, h0, c0):
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs = np.empty((N, T, H), x.dtype)
    cs = np.empty((N, T, H), x.dtype)
    gates = np.empty((N, T, 4 * H), x.dtype)
    ref.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates)
    return hs, cs, gates


def _backward(dhs, dhT, dcT, x, Wx, Wh, b, h0, c0, acc=None, fill=0.0):
    """Run the kernel; ``acc`` = initial (dWx, dWh, db), ``fill`` = initial overwrite outputs."""
    N, T, D = x.shape
    H = Wh.shape[0]
    hs, cs, gates = _forward(x, Wx, Wh, b, h0, c0)
    dt = x.dtype
    dx = np.full((N, T, D), fill, dt)
    dh0 = np.full((N, H), fill, dt)
    dc0 = np.full((N, H), fill, dt)
    if acc is None:
        dWx, dWh, db = np.zeros((D, 4 * H), dt), np.zeros((H, 4 * H), dt), np.zeros(4 * H, dt)
    else:
        dWx, dWh, db = (a.copy() for a in acc)
    dh_norm = np.full(T, np.nan)
    dc_norm = np.full(T, np.nan)
    ref.lstm_backward(
        dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates,
        dx, dWx, dWh, db, dh0, dc0, dh_norm, dc_norm,
    )  # fmt: skip
    return dict(x=dx, Wx=dWx, Wh=dWh, b=db, h0=dh0, c0=dc0, dh_norm=dh_norm, dc_norm=dc_norm)


def _central_diff(f, arr, eps=1e-6):
    """d f / d arr by central differences, perturbing ``arr`` in place one element at a time.

    Kept (not gc.gradcheck) for the per-step norms: those are checked against the *norms* of
    total gradients at injection points of an independent forward, quantities the kernels'
    backward does not return as a gradient (gradcheck compares a vjp with differences)."""
    grad = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        fp = f()
        flat[k] = old - eps
        fm = f()
        flat[k] = old
        gflat[k] = (fp - fm) / (2 * eps)
    return grad


def _problem(rng, N, T, D, H, scale, dtype=np.float64):
    x = rng.standard_normal((N, T, D)) * scale
    Wx = rng.standard_normal((D, 4 * H)) * scale / np.sqrt(D)
    Wh = rng.standard_normal((H, 4 * H)) * scale / np.sqrt(H)
    b = rng.standard_normal(4 * H) * scale
    h0 = rng.standard_normal((N, H)) * 0.5
    c0 = rng.standard_normal((N, H)) * scale
    return [a.astype(dtype) for a in (x, Wx, Wh, b, h0, c0)]


shapes = st.tuples(
    st.integers(1, 3),  # N
    st.integers(1, 8),  # T
    st.integers(1, 4),  # D
    st.integers(1, 4),  # H
)
scales = st.sampled_from([0.1, 0.5, 1.0, 2.5])
lstm_cases = given(
    shape=shapes,
    scale=scales,
    use_dhT=st.booleans(),
    use_dcT=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)


# --------------------------------------------------------------------------- forward


@given(shape=shapes, scale=scales, seed=st.integers(0, 2**32 - 1))
def test_forward_matches_independent_formula(shape, scale, seed):
    rng = np.random.default_rng(seed)
    N, T, D, H = shape
    x, Wx, Wh, b, h0, c0 = _problem(rng, N, T, D, H, scale)
    hs, cs, gates = _forward(x, Wx, Wh, b, h0, c0)
    hs_ref, cs_ref = _independent_forward(x, Wx, Wh, b, h0, c0)
    np.testing.assert_allclose(hs, hs_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cs, cs_ref, rtol=1e-12, atol=1e-14)
    # activated gates: i, f, o in (0, 1), g in (-1, 1); c_t = f c_{t-1} + i g
    i, f, g, o = (gates[..., k * H : (k + 1) * H] for k in range(4))
    c_prev = np.concatenate([c0[:, None], cs[:, :-1]], axis=1)
    np.testing.assert_allclose(cs, f * c_prev + i * g, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(hs, o * np.tanh(cs), rtol=1e-13, atol=1e-15)


def test_forward_saturated_gates_no_overflow_warning(rng):
    # |a| ~ 1e4: a naive 1/(1+exp(-a)) overflows (a warning is an error under pytest config)
    N, T, D, H = 2, 3, 2, 2
    x, Wx, Wh, b, h0, c0 = _problem(rng, N, T, D, H, 1.0)
    Wx = Wx * 1e4
    for dtype in (np.float32, np.float64):
        args = [a.astype(dtype) for a in (x, Wx, Wh, b, h0, c0)]
        hs, _, gates = _forward(*args)
        assert np.all(np.isfinite(gates)) and np.all(np.isfinite(hs))
        sig = np.concatenate([gates[..., :H], gates[..., H : 2 * H], gates[..., 3 * H :]], -1)
        assert np.all((sig >= 0) & (sig <= 1))
        assert np.any(sig == 0.0) and np.any(sig == 1.0)  # saturated both ways


# --------------------------------------------------------------------------- backward vs FD


@lstm_cases
def test_backward_matches_finite_differences(shape, scale, use_dhT, use_dcT, seed):
    """gc.gradcheck of the kernels as a function of (x, Wx, Wh, b, h0, c0) whose output is
    (hs, and h_T, c_T when used): the backward gets dhs, dhT, dcT from gradcheck's projection."""
    rng = np.random.default_rng(seed)
    N, T, D, H = shape
    inputs = _problem(rng, N, T, D, H, scale)
    k = N * T * H

    def forward(*args):
        hs, cs, _ = _forward(*args)
        parts = [hs.ravel()] + [hs[:, -1].ravel()] * use_dhT + [cs[:, -1].ravel()] * use_dcT
        return np.concatenate(parts)

    def backward(dy, *args):
        dhs = dy[:k].reshape(N, T, H)
        rest = iter(np.split(dy[k:], int(use_dhT) + int(use_dcT)) if dy.size > k else [])
        dhT = next(rest).reshape(N, H) if use_dhT else None
        dcT = next(rest).reshape(N, H) if use_dcT else None
        got = _backward(dhs, dhT, dcT, *args)
        return tuple(got[n] for n in ("x", "Wx", "Wh", "b", "h0", "c0"))

    assert_gradcheck(op(forward, backward), tuple(inputs))


@lstm_cases
def test_per_step_norms_match_injected_perturbations(shape, scale, use_dhT, use_dcT, seed):
    rng = np.random.default_rng(seed)
    N, T, D, H = shape
    x, Wx, Wh, b, h0, c0 = _problem(rng, N, T, D, H, scale)
    R = rng.standard_normal((N, T, H))
    R[:, rng.random(T) < 0.3] = 0.0  # some steps receive no output gradient
    RhT = rng.standard_normal((N, H)) if use_dhT else None
    RcT = rng.standard_normal((N, H)) if use_dcT else None
    e_h = np.zeros((T, N, H))
    e_c = np.zeros((T, N, H))

    def loss():
        hs, cs = _independent_forward(x, Wx, Wh, b, h0, c0, e_h, e_c)
        L = np.sum(R * hs)
        if RhT is not None:
            L += np.sum(RhT * hs[:, -1])
        if RcT is not None:
            L += np.sum(RcT * cs[:, -1])
        return L

    dL_dh = _central_diff(loss, e_h)  # [T, N, H]: total gradient at each h_t
    dL_dc = _central_diff(loss, e_c)
    got = _backward(R, RhT, RcT, x, Wx, Wh, b, h0, c0)
    assert got["dh_norm"].dtype == np.float64 and got["dc_norm"].dtype == np.float64
    np.testing.assert_allclose(
        got["dh_norm"], np.linalg.norm(dL_dh.reshape(T, -1), axis=1), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        got["dc_norm"], np.linalg.norm(dL_dc.reshape(T, -1), axis=1), rtol=1e-6, atol=1e-8
    )


def test_last_step_norms_by_hand(rng):
    # T = 1, dcT = None: dL/dh_0 = dhs_0 + dhT and dL/dc_0 = dL/dh_0 * o * (1 - tanh²(c_0)).
    N, T, D, H = 2, 1, 3, 2
    x, Wx, Wh, b, h0, c0 = _problem(rng, N, T, D, H, 1.0)
    dhs = rng.standard_normal((N, T, H))
    dhT = rng.standard_normal((N, H))
    got = _backward(dhs, dhT, None, x, Wx, Wh, b, h0, c0)
    _, cs, gates = _forward(x, Wx, Wh, b, h0, c0)
    dh = dhs[:, 0] + dhT
    dc = dh * gates[:, 0, 3 * H :] * (1 - np.tanh(cs[:, 0]) ** 2)
    np.testing.assert_allclose(got["dh_norm"], [np.linalg.norm(dh)], rtol=1e-14)
    np.testing.assert_allclose(got["dc_norm"], [np.linalg.norm(dc)], rtol=1e-14)


# --------------------------------------------------------------------------- out semantics


def test_accumulate_and_overwrite_semantics(rng):
    N, T, D, H = 2, 4, 3, 2
    inputs = _problem(rng, N, T, D, H, 1.0)
    dhs = rng.standard_normal((N, T, H))
    dhT, dcT = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    fresh = _backward(dhs, dhT, dcT, *inputs)
    acc = (
        rng.standard_normal((D, 4 * H)),
        rng.standard_normal((H, 4 * H)),
        rng.standard_normal(4 * H),
    )
    again = _backward(dhs, dhT, dcT, *inputs, acc=acc, fill=np.nan)
    # parameter gradients accumulate
    for name, a0 in zip(["Wx", "Wh", "b"], acc, strict=True):
        np.testing.assert_allclose(again[name], a0 + fresh[name], rtol=1e-14, atol=1e-15)
    # input / state gradients and the norms are overwritten (the NaN fill is gone)
    for name in ["x", "h0", "c0", "dh_norm", "dc_norm"]:
        np.testing.assert_array_equal(again[name], fresh[name])


def test_inputs_are_not_modified(rng):
    N, T, D, H = 2, 3, 2, 3
    inputs = _problem(rng, N, T, D, H, 1.0)
    dhs = rng.standard_normal((N, T, H))
    dhT, dcT = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    copies = [a.copy() for a in (*inputs, dhs, dhT, dcT)]
    _backward(dhs, dhT, dcT, *inputs)
    for a, c in zip((*inputs, dhs, dhT, dcT), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_float32_matches_float64(rng):
    N, T, D, H = 3, 5, 4, 3
    in64 = _problem(rng, N, T, D, H, 1.0)
    in32 = [a.astype(np.float32) for a in in64]
    dhs = rng.standard_normal((N, T, H))
    dhT = rng.standard_normal((N, H))
    hs64, cs64, _ = _forward(*in64)
    hs32, cs32, g32 = _forward(*in32)
    assert hs32.dtype == cs32.dtype == g32.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cs32, cs64, rtol=1e-5, atol=1e-6)
    g64 = _backward(dhs, dhT, None, *in64)
    g32 = _backward(dhs.astype(np.float32), dhT.astype(np.float32), None, *in32)
    for name in g64:
        want_dtype = np.float64 if name.endswith("norm") else np.float32
        assert g32[name].dtype == want_dtype
        np.testing.assert_allclose(g32[name], g64[name], rtol=1e-4, atol=1e-5, err_msg=name)


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_raise(rng):
    N, T, D, H = 2, 3, 2, 2
    x, Wx, Wh, b, h0, c0 = _problem(rng, N, T, D, H, 1.0)
    hs, cs, gates = _forward(x, Wx, Wh, b, h0, c0)
    with pytest.raises(ValueError, match="T must be >= 1"):
        ref.lstm_forward(x[:, :0], Wx, Wh, b, h0, c0, hs[:, :0], cs[:, :0], gates[:, :0])
    with pytest.raises(TypeError, match="dtype"):
        ref.lstm_forward(x, Wx.astype(np.float32), Wh, b, h0, c0, hs, cs, gates)
    with pytest.raises(ValueError, match="shape"):
        ref.lstm_forward(x, Wx, Wh, b[:-1], h0, c0, hs, cs, gates)
    with pytest.raises(TypeError):
        ref.lstm_forward(x.astype(np.int64), Wx, Wh, b, h0, c0, hs, cs, gates)
    # norms must be float64 even for float32 data
    x32 = [a.astype(np.float32) for a in (x, Wx, Wh, h0, c0, hs, cs, gates)]
    x_, Wx_, Wh_, h0_, c0_, hs_, cs_, gates_ = x32
    with pytest.raises(TypeError, match="dh_norm"):
        ref.lstm_backward(
            hs_, None, None, x_, Wx_, Wh_, h0_, c0_, hs_, cs_, gates_,
            np.empty_like(x_), np.zeros_like(Wx_), np.zeros_like(Wh_),
            np.zeros(4 * H, np.float32), np.empty_like(h0_), np.empty_like(c0_),
            np.empty(T, np.float32), np.empty(T, np.float64),
        )  # fmt: skip
