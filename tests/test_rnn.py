"""The SimpleRNN (tanh) family: the NumPy reference kernels against float64 finite differences
(``gc.gradcheck``) and an independent formula, the layer (states, checkpoints, validation),
torch's ``nn.RNN(nonlinearity='tanh')`` when torch is installed, and the behaviour the family
exists for: its gradient through time vanishes much faster than the LSTM's.

Independent checks of ``rnn_backward``:
- ``gc.gradcheck`` on the kernel pair as a function of every input (x, Wx, Wh, b, h0) with a
  gradient on every output h_t and on h_T;
- the per-step norms ``dh_norm[t]`` against finite differences of the loss w.r.t. an additive
  perturbation ``e[t]`` injected after ``h_t`` in an independent forward (dL/de[t] is the total
  gradient at h_t: output + recurrent).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore import nn
from gradcore.backends import reference as ref

F64 = np.float64

# --------------------------------------------------------------------------- helpers


def _independent_forward(x, Wx, Wh, b, h0, e=None):
    """Textbook tanh RNN written separately from the kernel, with optional injection points."""
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        if e is not None:
            h = h + e[t]
        hs.append(h)
    return np.stack(hs, axis=1)


def _forward(x, Wx, Wh, b, h0):
    N, T, _ = x.shape
    hs = np.empty((N, T, Wh.shape[0]), x.dtype)
    ref.rnn_forward(x, Wx, Wh, b, h0, hs)
    return hs


def _backward(dhs, dhT, x, Wx, Wh, b, h0, acc=None, fill=0.0):
    """Run the kernels; ``acc`` = initial (dWx, dWh, db), ``fill`` = initial overwrite outputs."""
    N, T, D = x.shape
    H = Wh.shape[0]
    hs = _forward(x, Wx, Wh, b, h0)
    dt = x.dtype
    dx = np.full((N, T, D), fill, dt)
    dh0 = np.full((N, H), fill, dt)
    if acc is None:
        dWx, dWh, db = np.zeros((D, H), dt), np.zeros((H, H), dt), np.zeros(H, dt)
    else:
        dWx, dWh, db = (a.copy() for a in acc)
    dh_norm = np.full(T, np.nan)
    ref.rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0, dh_norm)
    return dict(x=dx, Wx=dWx, Wh=dWh, b=db, h0=dh0, dh_norm=dh_norm)


def _problem(rng, N, T, D, H, scale, dtype=F64):
    x = rng.standard_normal((N, T, D)) * scale
    Wx = rng.standard_normal((D, H)) * scale / np.sqrt(D)
    Wh = rng.standard_normal((H, H)) * scale / np.sqrt(H)
    b = rng.standard_normal(H) * scale
    h0 = rng.standard_normal((N, H)) * 0.5
    return [a.astype(dtype) for a in (x, Wx, Wh, b, h0)]


shapes = st.tuples(
    st.integers(1, 3),  # N
    st.integers(1, 8),  # T
    st.integers(1, 4),  # D
    st.integers(1, 4),  # H
)
scales = st.sampled_from([0.1, 0.5, 1.0, 2.5])


# --------------------------------------------------------------------------- reference kernels


@given(shape=shapes, scale=scales, seed=st.integers(0, 2**32 - 1))
def test_forward_matches_independent_formula(shape, scale, seed):
    rng = np.random.default_rng(seed)
    x, Wx, Wh, b, h0 = _problem(rng, *shape, scale)
    np.testing.assert_allclose(
        _forward(x, Wx, Wh, b, h0), _independent_forward(x, Wx, Wh, b, h0), rtol=1e-13, atol=1e-15
    )


@settings(max_examples=30, deadline=None)
@given(shape=shapes, scale=scales, with_dhT=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_backward_passes_gradcheck(shape, scale, with_dhT, seed):
    """``gc.gradcheck`` on the kernels as a function of (x, Wx, Wh, b, h0); the outputs are every
    h_t and, optionally, h_T again (the dhT path)."""
    rng = np.random.default_rng(seed)
    N, T, D, H = shape
    inputs = tuple(_problem(rng, N, T, D, H, scale))

    def fn(x, Wx, Wh, b, h0):
        hs = _forward(x, Wx, Wh, b, h0)
        y = np.concatenate([hs.reshape(-1), hs[:, -1].reshape(-1)]) if with_dhT else hs

        def vjp(dy):
            if with_dhT:
                dhs, dhT = dy[: hs.size].reshape(hs.shape), dy[hs.size :].reshape(N, H)
            else:
                dhs, dhT = dy, None
            g = _backward(dhs, dhT, x, Wx, Wh, b, h0)
            return g["x"], g["Wx"], g["Wh"], g["b"], g["h0"]

        return y, vjp

    res = gc.gradcheck(fn, inputs, raise_on_failure=True)
    assert set(res.checks) == {f"input{k}" for k in range(5)}


@given(shape=shapes, scale=scales, seed=st.integers(0, 2**32 - 1))
def test_dh_norm_is_the_total_gradient_at_each_step(shape, scale, seed):
    """dh_norm[t] = ||dL/dh_t|| with L = <P, hs>: finite differences of an additive perturbation
    after h_t in an independent forward give the total gradient (output + recurrent)."""
    rng = np.random.default_rng(seed)
    N, T, D, H = shape
    x, Wx, Wh, b, h0 = _problem(rng, N, T, D, H, scale)
    P = rng.standard_normal((N, T, H))
    got = _backward(P, None, x, Wx, Wh, b, h0)["dh_norm"]
    eps = 1e-6
    for t in range(T):
        grad = np.zeros((N, H))
        for idx in np.ndindex(N, H):
            e = np.zeros((T, N, H))
            e[(t, *idx)] = eps
            fp = np.sum(P * _independent_forward(x, Wx, Wh, b, h0, e))
            e[(t, *idx)] = -eps
            fm = np.sum(P * _independent_forward(x, Wx, Wh, b, h0, e))
            grad[idx] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(got[t], np.linalg.norm(grad), rtol=1e-6, atol=1e-9)


def test_backward_accumulates_and_overwrites(rng):
    x, Wx, Wh, b, h0 = _problem(rng, 2, 4, 3, 5, 1.0)
    dhs = rng.standard_normal((2, 4, 5))
    plain = _backward(dhs, None, x, Wx, Wh, b, h0)
    acc = (np.full_like(Wx, 2.0), np.full_like(Wh, -1.0), np.full_like(b, 0.5))
    again = _backward(dhs, None, x, Wx, Wh, b, h0, acc=acc, fill=np.nan)
    for k, a in zip(("Wx", "Wh", "b"), acc, strict=True):  # parameter gradients accumulate
        np.testing.assert_allclose(again[k], plain[k] + a, rtol=1e-14, atol=1e-15)
    for k in ("x", "h0", "dh_norm"):  # the others are overwritten
        np.testing.assert_array_equal(again[k], plain[k])


def test_zero_batch_and_single_step(rng):
    x, Wx, Wh, b, h0 = _problem(rng, 0, 3, 2, 4, 1.0)
    g = _backward(np.zeros((0, 3, 4)), None, x, Wx, Wh, b, h0)
    np.testing.assert_array_equal(g["dh_norm"], 0.0)
    assert not g["Wx"].any() and not g["Wh"].any() and not g["b"].any()
    x, Wx, Wh, b, h0 = _problem(rng, 2, 1, 3, 2, 1.0)
    hs = _forward(x, Wx, Wh, b, h0)
    np.testing.assert_allclose(hs[:, 0], np.tanh(x[:, 0] @ Wx + h0 @ Wh + b), rtol=1e-15)


# --------------------------------------------------------------------------- argument checks

BACKENDS = [b for b in ("numpy", "numba", "c") if b in gc.available_backends()]


def _args(N=2, T=3, D=4, H=5, dt=F64):
    rng = np.random.default_rng(0)
    x, Wx, Wh, b, h0 = _problem(rng, N, T, D, H, 1.0, dt)
    hs = np.empty((N, T, H), dt)
    return x, Wx, Wh, b, h0, hs


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_rejects_bad_arguments(backend):
    with gc.use_backend(backend) as be:
        x, Wx, Wh, b, h0, hs = _args()
        with pytest.raises(TypeError, match="rnn_forward: x"):
            be.rnn_forward(x.astype(np.int64), Wx, Wh, b, h0, hs)
        with pytest.raises(TypeError, match="rnn_forward: Wh"):
            be.rnn_forward(x, Wx, Wh.astype(np.float32), b, h0, hs)
        with pytest.raises(ValueError, match=r"rnn_forward: x must be (a )?3-d"):
            be.rnn_forward(x[0], Wx, Wh, b, h0, hs)
        with pytest.raises(ValueError, match=r"rnn_forward: Wh must be a 2-d numpy array \[H, H\]"):
            be.rnn_forward(x, Wx, Wh[0], b, h0, hs)
        with pytest.raises(ValueError, match=r"rnn_forward: Wx (has|must have) shape"):
            be.rnn_forward(x, Wx[:, :-1], Wh, b, h0, hs)
        with pytest.raises(ValueError, match=r"rnn_forward: b (has|must have) shape"):
            be.rnn_forward(x, Wx, Wh, b[:-1], h0, hs)
        with pytest.raises(ValueError, match=r"rnn_forward: hs (has|must have) shape"):
            be.rnn_forward(x, Wx, Wh, b, h0, hs[:, :-1])
        with pytest.raises(ValueError, match=r"sequence length T must be >= 1"):
            be.rnn_forward(x[:, :0], Wx, Wh, b, h0, hs[:, :0])
        ro = hs.copy()
        ro.flags.writeable = False
        with pytest.raises(
            ValueError, match=r"rnn_forward: hs (is an output and )?must be writeable"
        ):
            be.rnn_forward(x, Wx, Wh, b, h0, ro)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_rejects_bad_arguments(backend):
    with gc.use_backend(backend) as be:
        x, Wx, Wh, b, h0, hs = _args()
        N, T, D = x.shape
        H = Wh.shape[0]
        be.rnn_forward(x, Wx, Wh, b, h0, hs)
        out = [np.empty_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b),
               np.empty_like(h0), np.empty(T)]  # fmt: skip
        args = [np.ones_like(hs), None, x, Wx, Wh, h0, hs, *out]
        be.rnn_backward(*args)

        def bad(i, value, exc, pattern):
            a = list(args)
            a[i] = value
            with pytest.raises(exc, match=pattern):
                be.rnn_backward(*a)

        bad(1, np.ones((N, H + 1)), ValueError, r"rnn_backward: dhT (has|must have) shape")
        bad(0, np.ones((N, T, H), np.float32), TypeError, "rnn_backward: dhs")
        bad(12, np.empty(T, np.float32), TypeError, "rnn_backward: dh_norm")
        bad(12, np.empty(T + 1), ValueError, r"rnn_backward: dh_norm (has|must have) shape")
        bad(7, np.empty((N, T, D + 1)), ValueError, r"rnn_backward: dx (has|must have) shape")
        bad(9, np.zeros((H, H + 1)), ValueError, r"rnn_backward: dWh (has|must have) shape")
        ro = np.zeros_like(Wh)
        ro.flags.writeable = False
        bad(9, ro, ValueError, r"rnn_backward: dWh (is an output and )?must be writeable")


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "c"])
def test_python_backends_accept_non_contiguous_arrays(backend, rng):
    """numpy and numba read strided views (numba copies once); the C backend refuses them
    (tests/test_equivalence_rnn.py)."""
    x, Wx, Wh, b, h0 = _problem(rng, 3, 4, 2, 3, 1.0)
    want = _backward(np.ones((3, 4, 3)), None, x, Wx, Wh, b, h0)
    xs = np.asfortranarray(x)
    Whs = np.asfortranarray(Wh)
    with gc.use_backend(backend) as be:
        hs = np.empty((4, 3, 3)).transpose(1, 0, 2)  # a non-contiguous output
        be.rnn_forward(xs, Wx, Whs, b, h0, hs)
        np.testing.assert_allclose(hs, _forward(x, Wx, Wh, b, h0), rtol=1e-13)
        g = [np.empty_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b),
             np.empty_like(h0), np.empty(4)]  # fmt: skip
        be.rnn_backward(np.ones((3, 4, 3)), None, xs, Wx, Whs, h0, np.ascontiguousarray(hs), *g)
    for k, a in zip(("x", "Wx", "Wh", "b", "h0", "dh_norm"), g, strict=True):
        np.testing.assert_allclose(a, want[k], rtol=1e-12, atol=1e-14, err_msg=k)


# --------------------------------------------------------------------------- the layer


def randn(seed, *shape, scale=1.0):
    return np.random.default_rng(seed).normal(0.0, scale, shape)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 3),
    t=st.integers(1, 6),
    d=st.integers(1, 4),
    h=st.integers(1, 4),
    seq=st.booleans(),
    states=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_layer_gradcheck(n, t, d, h, seq, states, seed):
    rnn = nn.SimpleRNN(d, h, return_sequences=seq, dtype=F64, seed=seed)
    rnn.params["b"][:] += randn(seed, h, scale=0.3)
    extra = {"h0": randn(seed + 2, n, h, scale=0.5)} if states else None
    res = gc.gradcheck(rnn, randn(seed + 1, n, t, d), extra_inputs=extra, raise_on_failure=True)
    expected = {"input", "params.Wx", "params.Wh", "params.b"} | ({"h0"} if states else set())
    assert set(res.checks) == expected


def test_layer_states_and_return_sequences(rng):
    rnn = nn.SimpleRNN(3, 4, return_sequences=True, dtype=F64, seed=0)
    assert rnn.hs is None
    x = rng.normal(size=(2, 5, 3))
    hs = rnn.forward(x)
    assert hs.shape == (2, 5, 4)
    np.testing.assert_array_equal(rnn.hT, hs[:, -1])
    np.testing.assert_array_equal(rnn.hs, hs)
    assert not rnn.hs.flags.writeable
    # running the sequence in two halves with the carried state gives the same result
    first = rnn.forward(x[:, :2])
    second = rnn.forward(x[:, 2:], h0=rnn.hT.copy())
    np.testing.assert_allclose(np.concatenate([first, second], 1), hs, rtol=1e-13)
    p = rnn.params
    np.testing.assert_allclose(p["Wh"] @ p["Wh"].T, np.eye(4), atol=1e-12)  # orthogonal
    assert not p["b"].any() and p["Wx"].shape == (3, 4)
    last = nn.SimpleRNN(3, 4, return_sequences=False, dtype=F64, seed=0)
    np.testing.assert_allclose(last.forward(x), hs[:, -1], rtol=1e-15)
    last.backward(np.ones((2, 4)))
    (dh,) = last.grad_norms_through_time
    assert dh.shape == (5,) and dh.dtype == np.float64 and np.all(dh > 0)
    assert set(last.extra_input_grads) == {"h0"}
    with pytest.raises(ValueError, match=r"SimpleRNN\.forward: x must have at least one time step"):
        rnn.forward(np.zeros((2, 0, 3)))
    with pytest.raises(ValueError, match=r"SimpleRNN\.forward: h0"):
        rnn.forward(x, h0=np.zeros((3, 4)))
    with pytest.raises(TypeError, match="SimpleRNN: return_sequences"):
        rnn.return_sequences = "yes"
    with pytest.raises(ValueError, match="SimpleRNN: hidden_size"):
        nn.SimpleRNN(3, 0)
    assert repr(last).startswith("SimpleRNN(3, 4, return_sequences=False")


def test_layer_zero_batch():
    rnn = nn.SimpleRNN(3, 4, dtype=F64, seed=0)
    y = rnn.forward(np.zeros((0, 5, 3)))
    assert y.shape == (0, 5, 4)
    dx = rnn.backward(np.zeros((0, 5, 4)))
    assert dx.shape == (0, 5, 3) and not rnn.grads["Wh"].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_checkpoint_round_trip(tmp_path, rng, dtype):
    model = nn.Sequential(
        [
            nn.SimpleRNN(2, 6, return_sequences=False, dtype=dtype, seed=3),
            nn.Dense(6, 1, "linear", dtype=dtype, seed=4),
        ]
    )
    assert nn.LAYER_TYPES["SimpleRNN"] is nn.SimpleRNN
    x = rng.normal(size=(4, 7, 2)).astype(dtype)
    y = model.forward(x, training=False)
    path = gc.checkpoint.save(tmp_path / "rnn.gcm", model)
    model2 = gc.checkpoint.load(path).model
    assert model2.get_config() == model.get_config()
    np.testing.assert_array_equal(model2.forward(x, training=False), y)
    cfg = model.layers[0].get_config()
    rebuilt = nn.layer_from_config(cfg)
    assert isinstance(rebuilt, nn.SimpleRNN) and rebuilt.get_config() == cfg


# --------------------------------------------------------------------------- the behaviour


def _gradient_through_time(layer, X, y, seed):
    """log10(||dL/dh_0|| / ||dL/dh_{T-1}||) of ``layer`` (+ a Dense head, MSE) on the first 512
    sequences of the adding problem after one epoch of Adam (lr 3e-3, batch 64) on all of them."""
    H = layer.hidden_size
    model = nn.Sequential([layer, nn.Dense(H, 1, "linear", seed=seed + 1)])
    opt = gc.optim.Adam(model.parameters(), lr=3e-3)
    model.fit(X, y, loss="mse", optimizer=opt, epochs=1, batch_size=64, verbose=False, seed=seed)
    p = model.forward(X[:512])
    model.backward(2 * (p - y[:512]) / p.size)
    dh = layer.grad_norms_through_time[0]
    return float(np.log10(dh[0] / dh[-1]))


def test_rnn_gradient_through_time_vanishes_faster_than_the_lstm():
    """Adding problem, T = 50, 64 units, after one epoch of 2048 sequences: the gradient reaching
    the first step, relative to the last, is more than 10x smaller for the tanh RNN than for the
    LSTM (whose cell path is additive). Measured (float32, c backend), log10 of that ratio for
    seeds 0..4: RNN -6.8 -5.3 -4.4 -4.7 -6.8 (median -5.3), LSTM -4.2 -4.1 -3.6 -4.1 -4.0
    (median -4.1). At initialisation they decay alike (RNN -1.0 .. -1.7, LSTM -1.5 .. -1.6: the
    RNN's orthogonal Wh keeps norms, only tanh' shrinks them), so the test trains first."""
    X, y = gc.data.adding_problem(2048, 50, seed=0)
    X, y = X.astype(np.float32), y.astype(np.float32)
    rnn = [_gradient_through_time(nn.SimpleRNN(2, 64, False, seed=s), X, y, s) for s in range(5)]
    lstm = [_gradient_through_time(nn.LSTM(2, 64, False, seed=s), X, y, s) for s in range(5)]
    assert np.median(rnn) < np.median(lstm) - 1.0, (rnn, lstm)  # a margin of one decade


# --------------------------------------------------------------------------- torch oracle


def test_matches_torch_rnn_tanh(rng):
    torch = pytest.importorskip("torch")
    N, T, D, H = 3, 6, 4, 5
    x, Wx, Wh, b, h0 = _problem(rng, N, T, D, H, 1.0)
    dhs = rng.standard_normal((N, T, H))
    dhT = rng.standard_normal((N, H))
    ours = _backward(dhs, dhT, x, Wx, Wh, b, h0)
    m = torch.nn.RNN(D, H, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(Wx.T.copy()))
        m.weight_hh_l0.copy_(torch.from_numpy(Wh.T.copy()))
        m.bias_ih_l0.copy_(torch.from_numpy(b))
        m.bias_hh_l0.zero_()
    tx = torch.from_numpy(x).requires_grad_(True)
    th0 = torch.from_numpy(h0[None].copy()).requires_grad_(True)
    out, hn = m(tx, th0)
    np.testing.assert_allclose(out.detach().numpy(), _forward(x, Wx, Wh, b, h0), rtol=1e-12)
    loss = (out * torch.from_numpy(dhs)).sum() + (hn[0] * torch.from_numpy(dhT)).sum()
    loss.backward()
    want = {
        "x": tx.grad.numpy(),
        "h0": th0.grad.numpy()[0],
        "Wx": m.weight_ih_l0.grad.numpy().T,
        "Wh": m.weight_hh_l0.grad.numpy().T,
        "b": m.bias_ih_l0.grad.numpy(),
    }
    for k, v in want.items():
        np.testing.assert_allclose(ours[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
    # the gradient through time: unroll RNNCell and retain every h_t's gradient
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(m.weight_ih_l0)
        cell.weight_hh.copy_(m.weight_hh_l0)
        cell.bias_ih.copy_(m.bias_ih_l0)
        cell.bias_hh.zero_()
    h = torch.from_numpy(h0)
    hs = []
    for t in range(T):
        h = cell(torch.from_numpy(x[:, t].copy()), h)
        h.retain_grad()
        hs.append(h)
    loss = sum((hs[t] * torch.from_numpy(dhs[:, t].copy())).sum() for t in range(T))
    loss = loss + (hs[-1] * torch.from_numpy(dhT)).sum()
    loss.backward()
    norms = [float(torch.linalg.norm(hs[t].grad)) for t in range(T)]
    np.testing.assert_allclose(ours["dh_norm"], norms, rtol=1e-10)
