"""The C rnn kernels (gradcore.backends.c, kernels/rnn.c) against the NumPy reference, and the
binding's argument checks (contiguity, dtypes, shapes, overlaps). Run under the sanitizers by
tools/sanitize.sh (it takes every tests/test_c_*.py).

Tolerances as the LSTM's (tests/test_c_bn_ln_lstm.py), relative to the magnitude of the
compared array (``|a - r| <= RTOL * (|r| + max|r|)``). Sizes are drawn to cross the OpenMP
threshold of the time loop (N*T*H >= 32768: the batch is split over threads).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import Workspace
from gradcore.backends.reference import rnn as rrnn

_kernels = pytest.importorskip("gradcore._kernels")
from gradcore.backends.c import rnn as crnn  # noqa: E402

DTYPES = [np.float32, np.float64]
# The recurrence compounds float32 rounding over the steps (T <= 18 here) and through the
# GEMMs' different summation order (OpenBLAS vs NumPy's BLAS), and gc_tanh is not NumPy's
# tanh (a few ulps): the LSTM's 3e-5 holds with headroom (weights of norm ~1, not chaotic).
RTOL_RNN = {np.dtype(np.float32): 3e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, desired, rtol, name="", scale=None):
    desired = np.asarray(desired)
    if scale is None:
        scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=name)


def _data(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def _inputs(rng, N, T, D, H, dt):
    return {
        "x": _data(rng, (N, T, D), dt),
        "Wx": _data(rng, (D, H), dt, 1 / np.sqrt(max(D, 1))),
        "Wh": _data(rng, (H, H), dt, 0.9 / np.sqrt(H)),
        "b": _data(rng, H, dt, 0.5),
        "h0": _data(rng, (N, H), dt, 0.5),
    }


def _run(mod, p, dhs, dhT, ws=None, acc=1.0):
    x, Wx, Wh, b, h0 = (p[k] for k in ("x", "Wx", "Wh", "b", "h0"))
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs = np.empty((N, T, H), x.dtype)
    mod.rnn_forward(x, Wx, Wh, b, h0, hs, ws=ws)
    dx, dh0 = np.empty_like(x), np.empty_like(h0)
    dWx, dWh, db = np.full_like(Wx, acc), np.full_like(Wh, acc), np.full_like(b, acc)
    dh_norm = np.empty(T)
    mod.rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm, ws=ws)
    return {"hs": hs, "dx": dx, "dWx": dWx, "dWh": dWh, "db": db, "dh0": dh0, "dh_norm": dh_norm}


@st.composite
def rnn_shapes(draw):
    kind = draw(st.sampled_from(["small", "small", "long", "wide"]))
    if kind == "long":  # N*T*H >= 32768: the time loop runs on threads (batch split)
        N, H = draw(st.integers(32, 40)), draw(st.integers(64, 72))
        T, D = draw(st.integers(16, 18)), draw(st.integers(0, 8))
    elif kind == "wide":  # the same with T = 1 and a large batch
        N, H = draw(st.integers(512, 600)), draw(st.integers(64, 70))
        T, D = 1, draw(st.integers(1, 8))
    else:
        N, H = draw(st.integers(1, 6)), draw(st.integers(1, 9))
        T, D = draw(st.integers(1, 12)), draw(st.integers(0, 7))
    return N, T, D, H, draw(st.integers(0, 2**31)), draw(st.booleans())


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=rnn_shapes())
def test_rnn_matches_reference(dtype, shape):
    N, T, D, H, seed, with_dhT = shape
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    p = _inputs(rng, N, T, D, H, dt)
    dhs = _data(rng, (N, T, H), dt)
    dhT = _data(rng, (N, H), dt) if with_dhT else None
    got = _run(crnn, p, dhs, dhT, ws=Workspace() if seed % 2 else None)
    want = _run(rrnn, p, dhs, dhT)
    for k in want:
        assert got[k].dtype == want[k].dtype
        assert_close(got[k], want[k], RTOL_RNN[dt], k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_workspace_reuse_and_edge_sizes(dtype, rng):
    dt = np.dtype(dtype)
    ws = Workspace()
    for N, T, D, H in [(1, 1, 1, 1), (3, 5, 2, 4), (2, 1, 3, 1), (2, 3, 0, 2), (3, 5, 2, 4)]:
        p = _inputs(rng, N, T, D, H, dt)
        dhs = _data(rng, (N, T, H), dt)
        got = _run(crnn, p, dhs, None, ws=ws)
        want = _run(rrnn, p, dhs, None)
        for k in want:
            assert_close(got[k], want[k], RTOL_RNN[dt], k)
    assert ws.nbytes > 0


def test_rnn_zero_batch():
    p = _inputs(np.random.default_rng(0), 0, 3, 2, 4, np.dtype(np.float64))
    got = _run(crnn, p, np.zeros((0, 3, 4)), None, acc=0.0)
    np.testing.assert_array_equal(got["dh_norm"], 0.0)
    assert not got["dWh"].any() and not got["db"].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_threaded_and_serial_paths_agree_and_are_deterministic(dtype, rng):
    """Above the threshold the batch is split over threads; one thread (one chunk) must give
    the same results up to summation order, and a repeated call the same bits."""
    dt = np.dtype(dtype)
    p = _inputs(rng, 40, 20, 5, 64, dt)
    dhs = _data(rng, (40, 20, 64), dt)
    runs = []
    n = _kernels.max_threads()
    for threads in (None, 1):
        if threads:
            _kernels.set_num_threads(threads)
        try:
            runs.append(_run(crnn, p, dhs, None))
        finally:
            _kernels.set_num_threads(n)
    again = _run(crnn, p, dhs, None)
    for k in runs[0]:
        assert_close(runs[0][k], runs[1][k], RTOL_RNN[dt], k)
        np.testing.assert_array_equal(again[k], runs[0][k], err_msg=k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_saturated_and_nonfinite_inputs_like_reference(dtype, rng):
    """Pre-activations of +-100 and more saturate tanh (no overflow); inf saturates, NaN
    propagates; same as the reference."""
    dt = np.dtype(dtype)
    p = _inputs(rng, 3, 4, 3, 5, dt)
    p["Wx"] = (p["Wx"] * 200).astype(dt)
    dhs = _data(rng, (3, 4, 5), dt)
    got, want = _run(crnn, p, dhs, None), _run(rrnn, p, dhs, None)
    for k in want:
        assert np.isfinite(got[k]).all(), k
        # Saturated: h_t = tanh(a) within ulps of +-1, so tanh' = 1 - h² (~1e-6 .. 0) changes by
        # a large RELATIVE amount with one ulp of h (gc_tanh vs NumPy's tanh): compare the
        # gradients against the scale of an unsaturated one (dhs ~ 1), not their own.
        assert_close(got[k], want[k], RTOL_RNN[dt], k, scale=max(1.0, np.abs(want[k]).max()))
    p = _inputs(rng, 3, 4, 1, 3, dt)
    p["x"][0, 1, 0] = np.inf
    p["x"][1, 2, 0] = -np.inf
    p["x"][2, 0, 0] = np.nan
    dhs = _data(rng, (3, 4, 3), dt)
    with np.errstate(invalid="ignore", over="ignore"):
        want = _run(rrnn, p, dhs, None)
    got = _run(crnn, p, dhs, None)
    for k in ("hs", "dh_norm", "dh0"):
        np.testing.assert_array_equal(np.isnan(got[k]), np.isnan(want[k]), err_msg=k)
        fin = np.isfinite(want[k])
        assert_close(got[k][fin], want[k][fin], RTOL_RNN[dt], k)


# --------------------------------------------------------------------------- argument checks


def test_rnn_binding_rejects_non_contiguous_mixed_dtypes_and_overlaps(rng):
    dt = np.dtype(np.float64)
    N, T, D, H = 2, 3, 4, 5
    p = _inputs(rng, N, T, D, H, dt)
    x, Wx, Wh, b, h0 = (p[k] for k in ("x", "Wx", "Wh", "b", "h0"))
    hs = np.empty((N, T, H))
    with pytest.raises(ValueError, match="rnn_forward: x must be C-contiguous"):
        crnn.rnn_forward(np.asfortranarray(x), Wx, Wh, b, h0, hs)
    with pytest.raises(ValueError, match="rnn_forward: Wh must be C-contiguous"):
        crnn.rnn_forward(x, Wx, np.asfortranarray(Wh), b, h0, hs)
    with pytest.raises(ValueError, match="rnn_forward: hs must be C-contiguous"):
        crnn.rnn_forward(x, Wx, Wh, b, h0, np.empty((T, N, H)).transpose(1, 0, 2))
    with pytest.raises(TypeError, match=r"rnn_forward: b .*float32"):
        crnn.rnn_forward(x, Wx, Wh, b.astype(np.float32), h0, hs)
    with pytest.raises(TypeError, match="rnn_forward: x"):
        crnn.rnn_forward(x.astype(np.float16), Wx, Wh, b, h0, hs)
    with pytest.raises(TypeError, match=r"rnn_forward: x must be a numpy\.ndarray"):
        crnn.rnn_forward(x.tolist(), Wx, Wh, b, h0, hs)
    # an output overlapping an input it would corrupt: hs over x (same shape when D == H)
    x5 = np.ascontiguousarray(np.concatenate([x, x[..., :1]], axis=2))  # D = H = 5
    with pytest.raises(ValueError, match=r"hs.*(shares|share) memory with x"):
        crnn.rnn_forward(x5, np.eye(5), Wh, b, h0, x5)
    crnn.rnn_forward(x, Wx, Wh, b, h0, hs)
    out = [np.empty_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b),
           np.empty_like(h0), np.empty(T)]  # fmt: skip
    args = [np.ones_like(hs), None, x, Wx, Wh, h0, hs, *out]

    def bad(i, value, exc, pattern):
        a = list(args)
        a[i] = value
        with pytest.raises(exc, match=pattern):
            crnn.rnn_backward(*a)

    bad(11, h0, ValueError, r"dh0.*(shares|share) memory with h0")
    bad(11, np.empty((H, N)).T, ValueError, "dh0 must be C-contiguous")
    bad(7, np.empty((N, T, D + 1)), ValueError, r"dx (has|must have) shape")
    bad(10, Wh[0], ValueError, r"db.*(shares|share) memory with Wh")
    bad(0, np.asfortranarray(np.ones((N, T, H))), ValueError, "dhs must be C-contiguous")
    bad(1, np.ones((N, H), np.float32), TypeError, "rnn_backward: dhT")
    crnn.rnn_backward(*args)  # the valid call still works after the failures
