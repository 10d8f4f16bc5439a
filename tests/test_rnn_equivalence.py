"""Every backend's rnn family against the NumPy reference, float32 and float64: the kernels
(numba here; the C kernels' own paths in tests/test_c_rnn.py) and the SimpleRNN layer (every
backend), with the LSTM's tolerances (tests/test_c_bn_ln_lstm.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore import nn
from gradcore.backends import Workspace
from gradcore.backends import reference as ref

DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 3e-5, np.dtype(np.float64): 1e-12}  # the LSTM's, see test_c_rnn
COMPILED = [b for b in ("c", "numba") if b in gc.available_backends()]


def assert_close(actual, desired, rtol, name=""):
    desired = np.asarray(desired)
    scale = float(np.max(np.abs(desired))) if desired.size else 0.0
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=name)


def _run(be, x, Wx, Wh, b, h0, dhs, dhT, ws=None):
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs = np.empty((N, T, H), x.dtype)
    be.rnn_forward(x, Wx, Wh, b, h0, hs, ws=ws)
    out = [np.empty_like(x), np.ones_like(Wx), np.ones_like(Wh), np.ones_like(b),
           np.empty_like(h0), np.empty(T)]  # fmt: skip
    be.rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, *out, ws=ws)
    return dict(zip(("hs", "dx", "dWx", "dWh", "db", "dh0", "dh_norm"), [hs, *out], strict=True))


@pytest.mark.skipif("numba" not in gc.available_backends(), reason="numba is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 6), st.integers(1, 12), st.integers(0, 6), st.integers(1, 9)),
    with_dhT=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_numba_kernels_match_reference(dtype, shape, with_dhT, seed):
    N, T, D, H = shape
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)

    def r(*s, scale=1.0):
        return (scale * rng.standard_normal(s)).astype(dt)

    Wx, Wh = r(D, H, scale=1 / np.sqrt(max(D, 1))), r(H, H, scale=0.9 / np.sqrt(H))
    dhT = r(N, H) if with_dhT else None
    args = (r(N, T, D), Wx, Wh, r(H, scale=0.5), r(N, H, scale=0.5), r(N, T, H), dhT)
    with gc.use_backend("numba") as be:
        got = _run(be, *args, ws=Workspace() if seed % 2 else None)
    want = _run(ref, *args)
    for k in want:
        assert got[k].dtype == want[k].dtype
        assert_close(got[k], want[k], RTOL[dt], k)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seq", [True, False])
def test_layer_matches_reference_backend(backend, dtype, seq, rng):
    dt = np.dtype(dtype)
    x = rng.standard_normal((5, 9, 3)).astype(dt)
    h0 = (0.5 * rng.standard_normal((5, 4))).astype(dt)
    results = []
    for name in ("numpy", backend):
        with gc.use_backend(name):
            layer = nn.SimpleRNN(3, 4, return_sequences=seq, dtype=dt, seed=7)
            y = layer.forward(x, h0=h0)
            dy = np.ones_like(y)
            dx = layer.backward(dy)
            results.append({"y": y, "dx": dx, "dh0": layer.extra_input_grads["h0"],
                            "gtt": layer.grad_norms_through_time[0],
                            **{f"grad.{k}": g.copy() for k, g in layer.grads.items()}})  # fmt: skip
    want, got = results
    for k in want:
        assert_close(got[k], want[k], RTOL[dt], k)
