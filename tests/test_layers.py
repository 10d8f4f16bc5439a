"""Layers: float64 finite-difference gradient checks over drawn shapes, values and stacks,
plus the layer semantics (accumulation, buffers, modes) and input validation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcore as gc
from gradcore.backends import ACTIVATIONS

# every check runs once per available backend (numpy = the definition; c, numba)
pytestmark = pytest.mark.usefixtures("each_backend")

nn = gc.nn
F64 = np.float64

dims = st.integers(1, 6)
batch = st.integers(1, 5)
scales = st.sampled_from([1e-2, 0.3, 1.0, 3.0])
seeds = st.integers(0, 2**31 - 1)


def randn(seed, *shape, scale=1.0):
    return np.random.default_rng(seed).normal(0.0, scale, size=shape)


def check(layer, x, **kw):
    res = gc.gradcheck(layer, x, **kw)
    assert res.ok, res.report()
    return res


# ---------------------------------------------------------------- finite differences --
@given(act=st.sampled_from(ACTIVATIONS), n=batch, i=dims, o=dims, scale=scales, seed=seeds)
def test_dense_gradcheck(act, n, i, o, scale, seed):
    layer = nn.Dense(i, o, act, init="xavier_normal", dtype=F64, seed=seed)
    layer.params["b"][:] = randn(seed + 1, o, scale=0.5)
    check(layer, randn(seed, n, i, scale=scale))


@given(
    act=st.sampled_from(ACTIVATIONS),
    shape=st.lists(dims, min_size=1, max_size=3),
    scale=scales,
    seed=seeds,
)
def test_activation_gradcheck(act, shape, scale, seed):
    check(nn.Activation(act, dtype=F64), randn(seed, *shape, scale=scale))


@given(n=st.integers(2, 6), c=dims, scale=scales, seed=seeds, training=st.booleans())
def test_batchnorm_gradcheck(n, c, scale, seed, training):
    bn = nn.BatchNorm(c, dtype=F64)
    bn.params["gamma"][:] = randn(seed, c) + 1.0
    bn.params["beta"][:] = randn(seed + 1, c)
    bn.buffers["running_mean"][:] = randn(seed + 2, c)
    bn.buffers["running_var"][:] = np.abs(randn(seed + 3, c)) + 0.5
    before = {k: v.copy() for k, v in bn.buffers.items()}
    check(bn, randn(seed + 4, n, c, scale=scale) + 0.5, training=training)
    for k, v in before.items():  # gradcheck leaves the layer as it found it
        np.testing.assert_array_equal(bn.buffers[k], v)


@given(n=batch, c=st.integers(2, 6), scale=scales, seed=seeds)
def test_layernorm_gradcheck(n, c, scale, seed):
    ln = nn.LayerNorm(c, dtype=F64)
    ln.params["gamma"][:] = randn(seed, c) + 1.0
    ln.params["beta"][:] = randn(seed + 1, c)
    check(ln, randn(seed + 2, n, c, scale=scale))


@given(
    n=batch,
    t=st.integers(1, 8),
    d=dims,
    h=st.integers(1, 5),
    seq=st.booleans(),
    states=st.booleans(),
    seed=seeds,
)
def test_lstm_gradcheck(n, t, d, h, seq, states, seed):
    lstm = nn.LSTM(d, h, return_sequences=seq, dtype=F64, seed=seed)
    lstm.params["b"][:] += randn(seed, 4 * h, scale=0.3)
    x = randn(seed + 1, n, t, d)
    extra = (
        {"h0": randn(seed + 2, n, h, scale=0.5), "c0": randn(seed + 3, n, h)} if states else None
    )
    res = check(lstm, x, extra_inputs=extra)
    expected = {"input", "params.Wx", "params.Wh", "params.b"} | ({"h0", "c0"} if states else set())
    assert set(res.checks) == expected


@given(n=st.integers(2, 5), i=dims, w=dims, act=st.sampled_from(ACTIVATIONS), seed=seeds)
def test_dense_batchnorm_activation_stack(n, i, w, act, seed):
    model = nn.Sequential(
        [
            nn.Dense(i, w, "linear", dtype=F64, seed=seed),
            nn.BatchNorm(w, dtype=F64),
            nn.Activation(act, dtype=F64),
            nn.Dense(w, 3, "linear", dtype=F64, seed=seed + 1),
        ]
    )
    check(model, randn(seed, n, i))


@given(n=batch, w=dims, depth=st.integers(1, 3), seed=seeds)
def test_residual_blocks(n, w, depth, seed):
    blocks = [
        nn.Residual(
            nn.Sequential(
                [
                    nn.Dense(w, w, "tanh", dtype=F64, seed=seed + k),
                    nn.Dense(w, w, "linear", dtype=F64, seed=seed + 50 + k),
                ]
            )
        )
        for k in range(depth)
    ]
    model = nn.Sequential([*blocks, nn.LayerNorm(w, dtype=F64)]) if w > 1 else nn.Sequential(blocks)
    check(model, randn(seed, n, w))


@given(n=batch, t=st.integers(1, 6), d=dims, h=dims, seed=seeds)
def test_lstm_then_dense(n, t, d, h, seed):
    model = nn.Sequential(
        [
            nn.LSTM(d, h, return_sequences=False, dtype=F64, seed=seed),
            nn.Dense(h, 2, "sigmoid", dtype=F64, seed=seed + 1),
        ]
    )
    check(model, randn(seed, n, t, d))


@given(n=batch, k=st.integers(1, 6), scale=st.sampled_from([0.1, 1.0, 10.0]), seed=seeds)
def test_loss_gradcheck(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, scale, (n, k))
    check(gc.losses.SoftmaxCrossEntropy(), (logits, rng.integers(0, k, n)))
    check(gc.losses.MSE(), (logits, rng.normal(size=(n, k))))
    check(gc.losses.BCEWithLogits(), (logits, rng.uniform(size=(n, k))))


# ---------------------------------------------------------------------- semantics --
def test_gradients_accumulate_until_zero_grad(rng):
    model = nn.Sequential(
        [
            nn.Dense(4, 5, "tanh", dtype=F64, seed=1),
            nn.BatchNorm(5, dtype=F64),
            nn.Dense(5, 2, "linear", dtype=F64),
        ]
    )
    x, dy = rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    model.forward(x)
    model.backward(dy)
    once = {k: g.copy() for k, g in model.grads.items()}
    assert all(np.any(g != 0) for g in once.values())
    model.forward(x)
    model.backward(dy)
    for k, g in model.grads.items():
        np.testing.assert_allclose(g, 2 * once[k], rtol=1e-12, atol=1e-15)
    model.zero_grad()
    assert all(not g.any() for g in model.grads.values())


def test_container_names_and_views():
    model = nn.Sequential(
        [
            nn.Dense(3, 4, dtype=F64),
            nn.Residual(nn.Sequential([nn.Dense(4, 4, dtype=F64), nn.BatchNorm(4, dtype=F64)])),
            nn.Dense(4, 2, dtype=F64),
        ]
    )
    assert list(model.params) == [
        "0.Dense.W",
        "0.Dense.b",
        "1.Residual.Sequential.0.Dense.W",
        "1.Residual.Sequential.0.Dense.b",
        "1.Residual.Sequential.1.BatchNorm.gamma",
        "1.Residual.Sequential.1.BatchNorm.beta",
        "2.Dense.W",
        "2.Dense.b",
    ]
    assert next(iter(model.buffers)) == "1.Residual.Sequential.1.BatchNorm.running_mean"
    assert model.params["0.Dense.W"] is model.layers[0].params["W"]  # views, not copies
    assert model.num_params == 3 * 4 + 4 + 4 * 4 + 4 + 4 + 4 + 4 * 2 + 2
    assert [n for n, _, _ in model.named_parameters()] == list(model.params)


def test_batchnorm_running_stats_and_modes(rng):
    bn = nn.BatchNorm(3, momentum=0.1, dtype=F64)
    x = rng.normal(2.0, 3.0, size=(8, 3))
    bn.forward(x, training=True)
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(bn.buffers["running_var"], 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-13)
    assert int(bn.buffers["num_batches_tracked"]) == 1
    y = bn.forward(x, training=False)  # eval: running statistics, buffers untouched
    rm, rv = bn.buffers["running_mean"], bn.buffers["running_var"]
    np.testing.assert_allclose(y, (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-12)
    assert int(bn.buffers["num_batches_tracked"]) == 1
    with pytest.raises(ValueError, match="more than one sample"):
        bn.forward(x[:1], training=True)
    bn.forward(x[:1], training=False)  # a single sample is fine in evaluation


def test_dropout(rng):
    d = nn.Dropout(0.25, dtype=F64, seed=0)
    x = rng.normal(size=(400, 50))
    y = d.forward(x, training=True)
    kept = y != 0
    assert 0.72 < kept.mean() < 0.78
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-15)
    dy = rng.normal(size=x.shape)
    np.testing.assert_allclose(d.backward(dy), np.where(kept, dy / 0.75, 0.0), rtol=1e-15)
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    np.testing.assert_array_equal(d.backward(dy), dy)
    assert not nn.Dropout(0.999999, dtype=F64, seed=0).forward(x[:10]).any()
    a = nn.Dropout(0.5, seed=3, dtype=F64).forward(x)
    b = nn.Dropout(0.5, seed=3, dtype=F64).forward(x)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"Dropout: p must be a finite real number in \[0, 1\)"):
        nn.Dropout(1.5)


def test_lstm_states_and_return_sequences(rng):
    lstm = nn.LSTM(3, 4, return_sequences=True, dtype=F64, seed=0)
    x = rng.normal(size=(2, 5, 3))
    hs = lstm.forward(x)
    assert hs.shape == (2, 5, 4)
    np.testing.assert_array_equal(lstm.hT, hs[:, -1])
    # running the sequence in two halves with carried states gives the same result
    first = lstm.forward(x[:, :2])
    h, c = lstm.hT.copy(), lstm.cT.copy()
    second = lstm.forward(x[:, 2:], h0=h, c0=c)
    np.testing.assert_allclose(np.concatenate([first, second], 1), hs, rtol=1e-13)
    np.testing.assert_allclose(lstm.params["b"][4:8], 1.0)  # unit forget bias
    last = nn.LSTM(3, 4, return_sequences=False, dtype=F64, seed=0)
    np.testing.assert_allclose(last.forward(x), hs[:, -1], rtol=1e-15)
    last.backward(np.ones((2, 4)))
    dh, dc = last.grad_norms_through_time
    assert dh.shape == dc.shape == (5,) and np.all(dh > 0)


def test_predict_matches_eval_forward(rng):
    model = nn.Sequential(
        [
            nn.Dense(3, 8, dtype=F64, seed=0),
            nn.BatchNorm(8, dtype=F64),
            nn.Dense(8, 2, "linear", dtype=F64, seed=1),
        ]
    )
    X = rng.normal(size=(10, 3))
    model.forward(X)  # move the running statistics
    np.testing.assert_allclose(
        model.predict(X, batch_size=3), model.forward(X, training=False), rtol=1e-14
    )


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_float32_layers_track_float64(act, rng):
    x = rng.normal(size=(16, 7))
    d64 = nn.Dense(7, 5, act, dtype=F64, seed=4)
    d32 = nn.Dense(7, 5, act, dtype=np.float32, seed=4)
    d32.params["W"][:] = d64.params["W"]
    y64, y32 = d64.forward(x), d32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=y64.shape)
    dx64, dx32 = d64.backward(dy), d32.backward(dy.astype(np.float32))
    np.testing.assert_allclose(dx32, dx64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d32.grads["W"], d64.grads["W"], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------- validation --
def test_clear_errors_for_bad_input():
    d = nn.Dense(3, 2)
    with pytest.raises(TypeError, match=r"Dense.forward: x has dtype float64, expected float32"):
        d.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"x must have shape \[\*, 3\], got \(4, 5\)"):
        d.forward(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="must be 2-D"):
        d.forward(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        d.forward([[1.0, 2.0, 3.0]])
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Dense(3, 2).backward(np.zeros((1, 2), np.float32))
    d.forward(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="dy must have shape"):
        d.backward(np.zeros((4, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"Dense: activation must be one of .*got str \('swishy'\)"
    ):
        nn.Dense(3, 2, "swishy")
    with pytest.raises(ValueError, match="Dense: in_features must be an integer >= 1, got 0"):
        nn.Dense(0, 2)
    with pytest.raises(
        TypeError, match=r"dtype must be np\.float32 or np\.float64, got dtype int32"
    ):
        nn.Dense(3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match=r"Dense: init must be one of .*got str \('glorious'\)"):
        nn.Dense(3, 2, init="glorious")
    with pytest.raises(TypeError, match="share one dtype"):
        nn.Sequential([nn.Dense(3, 2), nn.Dense(2, 2, dtype=F64)])
    with pytest.raises(TypeError, match="gradcore layer"):
        nn.Sequential([nn.Dense(3, 2), "relu"])
    with pytest.raises(ValueError, match="preserve the shape"):
        nn.Residual(nn.Dense(3, 2)).forward(np.zeros((1, 3), np.float32))
    lstm = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"h0 must have shape \[2, 4\]"):
        lstm.forward(np.zeros((2, 5, 3), np.float32), h0=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="at least one time step"):
        lstm.forward(np.zeros((2, 0, 3), np.float32))


def test_loss_errors():
    ce = gc.losses.SoftmaxCrossEntropy()
    logits = np.zeros((3, 4))
    with pytest.raises(TypeError, match="labels must be integers"):
        ce.forward(logits, np.zeros(3))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\).*found 4"):
        ce.forward(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="labels must have shape"):
        ce.forward(logits, np.array([0, 1]))
    with pytest.raises(RuntimeError, match="before forward"):
        gc.losses.MSE().backward()
    with pytest.raises(ValueError, match="shape of pred"):
        gc.losses.MSE().forward(logits, np.zeros((3, 3)))
    with pytest.raises(TypeError, match="float32 or float64"):
        gc.losses.MSE().forward(np.zeros((2, 2), np.int64), np.zeros((2, 2)))


def test_non_contiguous_input_is_copied_not_misread(rng):
    d = nn.Dense(3, 2, "tanh", dtype=F64, seed=0)
    big = rng.normal(size=(8, 6))
    x = big[::2, ::2]
    np.testing.assert_allclose(d.forward(x), d.forward(np.ascontiguousarray(x)), rtol=0)


def test_backward_without_input_grad_skips_dx_and_keeps_param_grads(rng):
    def build():
        return nn.Sequential(
            [
                nn.Dense(3, 5, "tanh", dtype=np.float64, seed=0),
                nn.Residual(nn.Sequential([nn.Dense(5, 5, "relu", dtype=np.float64, seed=1)])),
                nn.Dense(5, 2, "linear", dtype=np.float64, seed=2),
            ]
        )

    x, dy = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    full, lean = build(), build()
    full.forward(x)
    lean.forward(x)
    assert full.backward(dy).shape == x.shape
    assert lean.backward(dy, input_grad=False) is None
    for (n1, _, g1), (_, _, g2) in zip(full.named_parameters(), lean.named_parameters(),
                                       strict=True):  # fmt: skip
        np.testing.assert_array_equal(g1, g2, err_msg=n1)
    # a residual block as the first layer still accumulates its block's gradients
    res = nn.Residual(nn.Sequential([nn.Dense(3, 3, "relu", dtype=np.float64, seed=3)]))
    res.forward(x)
    assert res.backward(np.ones_like(x), input_grad=False) is None
    assert np.abs(res.grads["Sequential.0.Dense.W"]).sum() > 0


def test_user_layer_without_input_grad_keyword_still_works(rng):
    class Scale(gc.nn.Activation):  # a user layer written against the old signature
        def backward(self, dy):
            return super().backward(dy)

    model = nn.Sequential([Scale("tanh", dtype=np.float64), nn.Dense(3, 2, dtype=np.float64)])
    x = rng.standard_normal((4, 3))
    model.forward(x)
    dx = model.backward(np.ones((4, 2)), input_grad=False)
    assert dx.shape == x.shape  # the user layer computed it anyway: allowed
