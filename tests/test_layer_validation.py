"""Validation of gc.nn layers, gc.losses and gc.init (issue 11, item 1).

Every bad argument raises TypeError (wrong type) or ValueError (wrong value) with the
``gradcore._args`` wording ``"{owner}: {name} must be {expected}, got {given}"``; valid but
odd input (NumPy scalars, 0-d and N-D arrays, empty batches, non-contiguous and read-only
arrays) is accepted and gives exactly the results of the plain input.
"""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import init

nn = gc.nn
F32, F64 = np.float32, np.float64
RNG0 = np.random.default_rng  # a fresh generator per use: rng=RNG0(0)

# every check runs once per available backend (numpy = the definition; c, numba)
pytestmark = pytest.mark.usefixtures("each_backend")


# ----------------------------------------------------------------- issue examples --
def test_dropout_accepts_numpy_scalar_p():
    d = nn.Dropout(p=np.float32(0.5), seed=0)
    assert d.p == 0.5 and type(d.p) is float
    x = np.ones((50, 4), F32)
    np.testing.assert_array_equal(d.forward(x), nn.Dropout(p=0.5, seed=0).forward(x))


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu", "sigmoid"])
@pytest.mark.parametrize("shape", [(), (1,), (2, 3, 4, 5), (2, 1, 3, 1, 2)])
def test_activation_any_shape_matches_flattened(act, shape, rng):
    x = rng.normal(size=shape)
    dy = rng.normal(size=shape)
    layer = nn.Activation(act, dtype=F64)
    y = layer.forward(x)
    dx = layer.backward(dy)
    assert isinstance(y, np.ndarray) and y.shape == shape and dx.shape == shape
    flat = nn.Activation(act, dtype=F64)
    np.testing.assert_array_equal(y, flat.forward(x.reshape(-1)).reshape(shape))
    np.testing.assert_array_equal(dx, flat.backward(dy.reshape(-1)).reshape(shape))


def test_activation_zero_d_gradcheck():
    assert gc.gradcheck(nn.Activation("tanh", dtype=F64), np.array(0.3)).ok


def test_dropout_zero_d_keeps_its_shape():
    d = nn.Dropout(0.5, dtype=F64, seed=0)
    y = d.forward(np.array(2.0))
    assert isinstance(y, np.ndarray) and y.shape == ()
    assert d.backward(np.array(1.0)).shape == ()
    assert d.forward(np.array(2.0), training=False).shape == ()
    with pytest.raises(ValueError, match=r"Dropout.backward: dy must be 0-D"):
        d.backward(np.ones(1))  # the forward was 0-d: a (1,) dy is another shape


def test_lstm_forget_bias_nan_is_rejected():
    with pytest.raises(ValueError, match="LSTM: forget_bias must be a finite real number, got nan"):
        nn.LSTM(2, 3, forget_bias=float("nan"))
    with pytest.raises(ValueError, match=r"forget_bias .* got inf"):
        nn.LSTM(2, 3, forget_bias=np.inf)
    with pytest.raises(TypeError, match=r"forget_bias must be a finite real number, got str"):
        nn.LSTM(2, 3, forget_bias="1")
    lstm = nn.LSTM(2, 3, forget_bias=np.float32(0.5), dtype=F64)
    np.testing.assert_array_equal(lstm.params["b"][3:6], 0.5)
    assert lstm.get_config()["args"]["forget_bias"] == 0.5  # rebuilt with the same init
    assert nn.layer_from_config(lstm.get_config()).forget_bias == 0.5


# ------------------------------------------------------- constructor arguments --
DENSE = {"in_features": 3, "out_features": 2}
LSTM = {"input_size": 2, "hidden_size": 3}
BAD_CONSTRUCTORS = [
    # (layer class, kwargs, exception, message regex); DENSE/LSTM: valid sizes
    (
        nn.Dense,
        {"in_features": 0, "out_features": 2},
        ValueError,
        r"Dense: in_features must be an integer >= 1, got 0",
    ),
    (
        nn.Dense,
        {"in_features": 3.0, "out_features": 2},
        TypeError,
        r"in_features must be an integer >= 1, got float",
    ),
    (
        nn.Dense,
        {"in_features": True, "out_features": 2},
        TypeError,
        r"in_features must be .* got bool",
    ),
    (
        nn.Dense,
        {"in_features": 3, "out_features": -1},
        ValueError,
        r"out_features must be an integer >= 1, got -1",
    ),
    (nn.Dense, {"in_features": 3, "out_features": "2"}, TypeError, r"out_features .* got str"),
    (
        nn.Dense,
        {**DENSE, "activation": "swish"},
        ValueError,
        r"Dense: activation must be one of 'linear', .*got str \('swish'\)",
    ),
    (nn.Dense, {**DENSE, "activation": 1}, TypeError, r"activation must be one of"),
    (
        nn.Dense,
        {**DENSE, "init": "glorot"},
        ValueError,
        r"Dense: init must be one of .*'xavier_uniform'.*got str \('glorot'\)",
    ),
    (nn.Dense, {**DENSE, "init": 0.1}, TypeError, r"Dense: init must be a callable"),
    (
        nn.Dense,
        {**DENSE, "dtype": None},
        TypeError,
        r"Dense: dtype must be np.float32 or np.float64, got NoneType",
    ),
    (nn.Dense, {**DENSE, "dtype": np.float16}, TypeError, r"dtype must be .* got dtype float16"),
    (nn.Dense, {**DENSE, "dtype": "banana"}, TypeError, r"dtype must be .* got str \('banana'\)"),
    (
        nn.Dense,
        {**DENSE, "dtype": ","},  # np.dtype(",") is a SyntaxError
        TypeError,
        r"dtype must be .* got str \(','\)",
    ),
    (nn.Dense, {**DENSE, "seed": -1}, ValueError, r"Dense: seed must be an integer >= 0, got -1"),
    (
        nn.Dense,
        {**DENSE, "seed": 1.5},
        TypeError,
        r"seed must be None, an integer >= 0 or a numpy.random.Generator, got float",
    ),
    (nn.Dense, {**DENSE, "bias": "yes"}, TypeError, r"Dense: bias must be True or False, got str"),
    (nn.Dense, {**DENSE, "bias": 1}, TypeError, r"bias must be True or False, got int"),
    (
        nn.Activation,
        {"activation": "softplus"},
        ValueError,
        r"Activation: activation must be one of",
    ),
    (
        nn.Activation,
        {"activation": "relu", "dtype": np.int64},
        TypeError,
        r"Activation: dtype must be",
    ),
    (
        nn.Dropout,
        {"p": 1.0},
        ValueError,
        r"Dropout: p must be a finite real number in \[0, 1\), got 1.0",
    ),
    (nn.Dropout, {"p": -0.1}, ValueError, r"p must be .* in \[0, 1\), got -0.1"),
    (nn.Dropout, {"p": float("nan")}, ValueError, r"p must be .* got nan"),
    (nn.Dropout, {"p": "0.5"}, TypeError, r"Dropout: p must be .* got str"),
    (nn.Dropout, {"p": True}, TypeError, r"p must be .* got bool"),
    (nn.Dropout, {"p": 0.5, "seed": "x"}, TypeError, r"Dropout: seed must be None"),
    (
        nn.BatchNorm,
        {"num_features": 0},
        ValueError,
        r"BatchNorm: num_features must be an integer >= 1, got 0",
    ),
    (
        nn.BatchNorm,
        {"num_features": 2.0},
        TypeError,
        r"num_features must be an integer >= 1, got float",
    ),
    (
        nn.BatchNorm,
        {"num_features": 3, "momentum": 1.5},
        ValueError,
        r"BatchNorm: momentum must be a finite real number in \[0, 1\], got 1.5",
    ),
    (nn.BatchNorm, {"num_features": 3, "momentum": -0.1}, ValueError, r"momentum .* got -0.1"),
    (
        nn.BatchNorm,
        {"num_features": 3, "momentum": float("nan")},
        ValueError,
        r"momentum .* got nan",
    ),
    (
        nn.BatchNorm,
        {"num_features": 3, "momentum": None},
        TypeError,
        r"momentum must be .* got NoneType",
    ),
    (
        nn.BatchNorm,
        {"num_features": 3, "eps": 0.0},
        ValueError,
        r"BatchNorm: eps must be a finite real number > 0, got 0.0",
    ),
    (
        nn.BatchNorm,
        {"num_features": 3, "eps": np.inf},
        ValueError,
        r"eps must be a finite real number > 0, got inf",
    ),
    (nn.BatchNorm, {"num_features": 3, "eps": "1e-5"}, TypeError, r"eps must be .* got str"),
    (
        nn.LayerNorm,
        {"num_features": -2},
        ValueError,
        r"LayerNorm: num_features must be an integer >= 1, got -2",
    ),
    (
        nn.LayerNorm,
        {"num_features": 3, "eps": -1e-5},
        ValueError,
        r"LayerNorm: eps must be a finite real number > 0",
    ),
    (
        nn.LayerNorm,
        {"num_features": 3, "eps": float("nan")},
        ValueError,
        r"LayerNorm: eps .* got nan",
    ),
    (
        nn.LSTM,
        {"input_size": 0, "hidden_size": 3},
        ValueError,
        r"LSTM: input_size must be an integer >= 1, got 0",
    ),
    (
        nn.LSTM,
        {"input_size": 2, "hidden_size": 3.5},
        TypeError,
        r"LSTM: hidden_size must be an integer >= 1, got float",
    ),
    (
        nn.LSTM,
        {**LSTM, "return_sequences": "no"},
        TypeError,
        r"LSTM: return_sequences must be True or False, got str",
    ),
    (
        nn.LSTM,
        {**LSTM, "return_sequences": 0},
        TypeError,
        r"return_sequences must be True or False, got int",
    ),
    (nn.LSTM, {**LSTM, "seed": [1, 2]}, TypeError, r"LSTM: seed must be None"),
    (nn.LSTM, {**LSTM, "dtype": "int8"}, TypeError, r"LSTM: dtype must be"),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "exc", "match"),
    BAD_CONSTRUCTORS,
    ids=[
        f"{c.__name__}-{'-'.join(f'{k}={v!r}' for k, v in kw.items())}"
        for c, kw, _, _ in BAD_CONSTRUCTORS
    ],
)
def test_bad_constructor_arguments(cls, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cls(**kwargs)


def test_numpy_scalar_hyperparameters_build_the_same_layers():
    pairs = [
        (
            nn.Dense(3, 2, seed=4, bias=True),
            nn.Dense(np.int64(3), np.int32(2), seed=np.uint8(4), bias=np.bool_(True)),
        ),
        (
            nn.BatchNorm(3, momentum=0.25, eps=0.5),
            nn.BatchNorm(np.int16(3), momentum=np.float32(0.25), eps=np.float64(0.5)),
        ),
        (nn.LayerNorm(4, eps=0.5), nn.LayerNorm(np.int64(4), eps=np.float32(0.5))),
        (
            nn.LSTM(2, 3, return_sequences=False, seed=1, forget_bias=2.0),
            nn.LSTM(
                np.int64(2),
                np.int64(3),
                return_sequences=np.bool_(False),
                seed=np.int64(1),
                forget_bias=np.float16(2.0),
            ),
        ),
        (nn.Dropout(0.25, seed=1), nn.Dropout(np.float64(0.25), seed=np.int32(1))),
    ]
    for a, b in pairs:
        assert a.get_config() == b.get_config()
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
        for k, v in b.get_config()["args"].items():  # plain Python values in the config
            assert type(v) in (int, float, bool, str), (k, type(v))


def test_seed_may_be_a_generator():
    a = nn.Dense(3, 2, seed=np.random.default_rng(5))
    b = nn.Dense(3, 2, seed=5)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])


def test_callable_init_result_is_checked():
    with pytest.raises(ValueError, match=r"Dense: init returned non-finite values"):
        nn.Dense(3, 2, init=lambda s, r, d: np.full(s, np.nan))
    with pytest.raises(
        ValueError, match=r"Dense: init must return an array of shape \(3, 2\), got \(2, 3\)"
    ):
        nn.Dense(3, 2, init=lambda s, r, d: np.ones((2, 3)))
    with pytest.raises(
        ValueError, match=r"init must return an array of shape \(3, 2\), got \(2,\)"
    ):
        nn.Dense(3, 2, init=lambda s, r, d: np.ones(2))  # would have been broadcast
    with pytest.raises(TypeError, match=r"Dense: init must return a real numpy array, got list"):
        nn.Dense(3, 2, init=lambda s, r, d: [[0.0] * 2] * 3)
    d = nn.Dense(3, 2, init=lambda s, r, d: np.arange(6).reshape(s), dtype=F64)  # ints are fine
    np.testing.assert_array_equal(d.params["W"], np.arange(6.0).reshape(3, 2))


# --------------------------------------------------------- setters, checked when set --
def test_setters_are_checked():
    d = nn.Dropout(0.5)
    with pytest.raises(ValueError, match=r"Dropout: p must be .* got nan"):
        d.p = float("nan")
    with pytest.raises(ValueError, match=r"got 1.0"):
        d.p = 1.0
    d.p = np.float32(0.25)
    assert d.p == 0.25
    bn = nn.BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm: momentum must be .* got nan"):
        bn.momentum = float("nan")
    with pytest.raises(ValueError, match=r"BatchNorm: eps must be .* > 0, got 0.0"):
        bn.eps = 0.0
    with pytest.raises(ValueError, match=r"LayerNorm: eps must be .* got -1.0"):
        nn.LayerNorm(3).eps = -1.0
    with pytest.raises(ValueError, match=r"Dense: activation must be one of"):
        nn.Dense(3, 2).activation = "swish"
    with pytest.raises(ValueError, match=r"Activation: activation must be one of"):
        nn.Activation("relu").activation = "swish"
    with pytest.raises(TypeError, match=r"LSTM: return_sequences must be True or False"):
        nn.LSTM(2, 3).return_sequences = "yes"
    assert (bn.momentum, bn.eps) == (0.1, 1e-5)  # a refused value leaves the old one


def test_set_momentum_takes_effect(rng):
    bn = nn.BatchNorm(2, dtype=F64)
    bn.momentum = np.float64(1.0)
    x = rng.normal(size=(6, 2))
    bn.forward(x)
    np.testing.assert_allclose(bn.buffers["running_mean"], x.mean(0), rtol=1e-14)


@pytest.mark.parametrize(
    "make",
    [lambda: nn.Dense(3, 3, "linear", dtype=F64), lambda: nn.Activation("linear", dtype=F64)],
    ids=["dense", "act"],
)
def test_changing_the_activation_discards_the_last_forward(make):
    layer = make()
    x = np.ones((2, 3))
    layer.forward(x)
    layer.activation = "linear"  # unchanged: the cache stays
    layer.backward(np.ones((2, 3)))
    layer.activation = "sigmoid"  # the forward's y is not sigmoid(z): backward must not use it
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 3)))


def test_changing_return_sequences_discards_the_last_forward():
    lstm = nn.LSTM(2, 3, dtype=F64)
    lstm.forward(np.ones((1, 4, 2)))
    lstm.return_sequences = False
    with pytest.raises(RuntimeError, match="before forward"):
        lstm.backward(np.ones((1, 3)))


def test_training_flag_must_be_bool():
    with pytest.raises(
        TypeError, match=r"BatchNorm.forward: training must be True or False, got str"
    ):
        nn.BatchNorm(2).forward(np.ones((3, 2), F32), training="eval")
    with pytest.raises(
        TypeError, match=r"Dropout.forward: training must be True or False, got NoneType"
    ):
        nn.Dropout(0.5).forward(np.ones((3, 2), F32), training=None)
    nn.BatchNorm(2).forward(np.ones((3, 2), F32), training=np.bool_(False))


def test_dropout_set_state_is_checked():
    d = nn.Dropout(0.5, seed=0)
    with pytest.raises(ValueError, match=r"Dropout.set_state: state must be a dict"):
        d.set_state({"rng": 5})
    with pytest.raises(
        ValueError, match=r"Dropout.set_state: state\['rng'\] is not a valid generator state"
    ):
        d.set_state({"rng": {"bit_generator": "MT19937"}})
    state = d.get_state()
    a = d.forward(np.ones((4, 4), F32))
    d.set_state(state)
    np.testing.assert_array_equal(d.forward(np.ones((4, 4), F32)), a)


# ------------------------------------------------------------------- layer inputs --
def _layers():
    """(layer, x) pairs, float64, one per layer kind and mode."""
    rng = np.random.default_rng(0)
    return [
        (nn.Dense(3, 2, "tanh", dtype=F64, seed=0), rng.normal(size=(4, 3)), True),
        (nn.Dense(3, 2, "linear", dtype=F64, seed=0, bias=False), rng.normal(size=(4, 3)), True),
        (nn.Activation("gelu", dtype=F64), rng.normal(size=(4, 3)), True),
        (nn.Dropout(0.3, dtype=F64, seed=0), rng.normal(size=(4, 3)), True),
        (nn.BatchNorm(3, dtype=F64), rng.normal(size=(4, 3)), True),
        (nn.BatchNorm(3, dtype=F64), rng.normal(size=(4, 3)), False),
        (nn.LayerNorm(3, dtype=F64), rng.normal(size=(4, 3)), True),
        (nn.LSTM(3, 2, dtype=F64, seed=0), rng.normal(size=(4, 5, 3)), True),
        (
            nn.LSTM(3, 2, return_sequences=False, dtype=F64, seed=0),
            rng.normal(size=(4, 5, 3)),
            True,
        ),
    ]


LAYER_IDS = [
    "dense",
    "dense_nobias",
    "act",
    "dropout",
    "bn_train",
    "bn_eval",
    "ln",
    "lstm",
    "lstm_last",
]


@pytest.mark.parametrize("k", range(len(LAYER_IDS)), ids=LAYER_IDS)
def test_bad_layer_inputs(k):
    layer, x, training = _layers()[k]
    owner = f"{type(layer).__name__}.forward"
    with pytest.raises(TypeError, match=rf"{owner}: x must be a numpy\.ndarray, got list"):
        layer.forward(x.tolist(), training=training)
    with pytest.raises(TypeError, match=rf"{owner}: x has dtype int64, expected float64"):
        layer.forward(x.astype(np.int64), training=training)
    with pytest.raises(TypeError, match=rf"{owner}: x has dtype float32, expected float64"):
        layer.forward(x.astype(F32), training=training)
    if not isinstance(layer, nn.Activation | nn.Dropout):  # those take any shape
        with pytest.raises(ValueError, match=rf"{owner}: x must (be \d-D|have shape)"):
            layer.forward(x[..., None], training=training)
        with pytest.raises(ValueError, match=rf"{owner}: x must have shape"):
            layer.forward(x[..., :2], training=training)
    y = layer.forward(x, training=training)
    backward = f"{type(layer).__name__}.backward"
    with pytest.raises(TypeError, match=rf"{backward}: dy must be a numpy\.ndarray, got list"):
        layer.backward(y.tolist())
    with pytest.raises(TypeError, match=rf"{backward}: dy has dtype float32"):
        layer.backward(y.astype(F32))
    with pytest.raises(ValueError, match=rf"{backward}: dy must (be \d-D|have shape)"):
        layer.backward(np.ones((*y.shape, 2)))


@pytest.mark.parametrize("k", range(len(LAYER_IDS)), ids=LAYER_IDS)
def test_odd_but_valid_inputs_give_identical_results(k):
    layer, x, training = _layers()[k]
    y0 = layer.forward(x, training=training).copy()
    dy = np.random.default_rng(1).normal(size=y0.shape)
    dx0 = layer.backward(dy).copy()
    g0 = {n: g.copy() for n, g in layer.grads.items()}
    big = np.zeros((2 * x.shape[0], *x.shape[1:], 2))
    big[::2, ..., 0] = x
    strided = big[::2, ..., 0]  # non-contiguous view with the same values
    readonly = x.copy()
    readonly.flags.writeable = False
    dy_ro = dy.copy()
    dy_ro.flags.writeable = False
    for variant, dyv in (
        (strided, dy_ro),
        (readonly, dy[::1]),
        (np.asfortranarray(x), np.asfortranarray(dy)),
    ):
        fresh, _, _ = _layers()[k]
        y = fresh.forward(variant, training=training)
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(fresh.backward(dyv), dx0)
        for n, g in fresh.grads.items():
            np.testing.assert_array_equal(g, g0[n], err_msg=n)


@pytest.mark.parametrize(
    "k",
    [i for i, n in enumerate(LAYER_IDS) if n != "bn_train"],
    ids=[n for n in LAYER_IDS if n != "bn_train"],
)
def test_empty_batch_flows_through_with_zero_gradient(k):
    layer, x, training = _layers()[k]
    x0 = x[:0]
    y = layer.forward(x0, training=training)
    assert y.shape[0] == 0 and y.dtype == F64
    dx = layer.backward(np.zeros_like(y))
    assert dx.shape == x0.shape
    for n, g in layer.grads.items():
        assert not g.any(), n


def test_batchnorm_training_needs_two_rows():
    bn = nn.BatchNorm(3, dtype=F64)
    for n in (0, 1):
        with pytest.raises(
            ValueError, match=r"BatchNorm\.forward: training needs more than one sample"
        ):
            bn.forward(np.zeros((n, 3)), training=True)
    assert bn.forward(np.zeros((1, 3)), training=False).shape == (1, 3)


def test_layers_do_not_scan_for_nan():
    # documented: non-finite values are the monitor's job; they propagate, never raise here
    x = np.array([[np.nan, 1.0, 2.0]])
    assert np.isnan(nn.Dense(3, 2, "linear", dtype=F64, seed=0).forward(x)).any()
    assert np.isnan(nn.Activation("tanh", dtype=F64).forward(x))[0, 0]


# ------------------------------------------------------------------------- losses --
BAD_LOSS_CALLS = [
    # (loss, pred, target, exception, regex)
    (
        "cross_entropy",
        np.zeros((3, 4)),
        np.array([0, 4, 1]),
        ValueError,
        r"SoftmaxCrossEntropy.forward: labels must be in \[0, 4\) for 4 classes, found 4 "
        r"at index 1",
    ),
    (
        "cross_entropy",
        np.zeros((3, 4)),
        np.array([0, -1, 1]),
        ValueError,
        r"labels must be in \[0, 4\) .*found -1",
    ),
    ("cross_entropy", np.zeros((3, 4)), np.array([-100, 1, 1]), ValueError, r"found -100"),
    (
        "cross_entropy",
        np.zeros((3, 4)),
        np.array([0.0, 1.0, 2.0]),
        TypeError,
        r"labels must be integers .* got dtype float64",
    ),
    (
        "cross_entropy",
        np.zeros((3, 4)),
        np.array([True, False, True]),
        TypeError,
        r"labels must be integers .* got dtype bool",
    ),
    (
        "cross_entropy",
        np.zeros((3, 4)),
        [0, 1, 2],
        TypeError,
        r"labels must be a numpy\.ndarray, got list",
    ),
    (
        "cross_entropy",
        np.zeros((3, 4)),
        np.array([0, 1]),
        ValueError,
        r"labels must have shape \(3,\)",
    ),
    ("cross_entropy", np.zeros(4), np.array([0]), ValueError, r"logits must be 2-D"),
    (
        "cross_entropy",
        np.zeros((0, 4)),
        np.zeros(0, np.int64),
        ValueError,
        r"SoftmaxCrossEntropy.forward: pred must be a non-empty array .* got shape \(0, 4\)",
    ),
    (
        "cross_entropy",
        np.zeros((3, 0)),
        np.zeros(3, np.int64),
        ValueError,
        r"pred must be a non-empty array",
    ),
    (
        "cross_entropy",
        np.zeros((3, 4), np.int64),
        np.zeros(3, np.int64),
        TypeError,
        r"pred must have dtype float32 or float64, got int64",
    ),
    (
        "cross_entropy",
        [[0.0, 1.0]],
        np.zeros(1, np.int64),
        TypeError,
        r"pred must be a numpy\.ndarray, got list",
    ),
    (
        "mse",
        np.zeros((2, 3)),
        np.zeros((3, 2)),
        ValueError,
        r"MSE.forward: target must have the shape of pred \(2, 3\), got \(3, 2\)",
    ),
    (
        "mse",
        np.zeros((2, 3)),
        np.zeros(3),
        ValueError,
        r"target must have the shape of pred",
    ),  # no broadcasting
    (
        "mse",
        np.zeros((2, 3)),
        np.array([[0, 1, np.nan], [0, 0, 0]]),
        ValueError,
        r"MSE.forward: target must be finite, got nan at index \(0, 2\)",
    ),
    (
        "mse",
        np.zeros(3, F32),
        np.array([0, 1e300, 0]),
        ValueError,
        r"target must be finite, got inf at index \(1,\)",
    ),
    (
        "mse",
        np.zeros(3),
        np.zeros(3, complex),
        TypeError,
        r"target must have a real .* got complex128",
    ),
    ("mse", np.zeros(3), np.array(["a", "b", "c"]), TypeError, r"target must have a real"),
    (
        "mse",
        np.zeros(3),
        [0.0, 1.0, 2.0],
        TypeError,
        r"MSE.forward: target must be a numpy\.ndarray, got list",
    ),
    (
        "mse",
        np.zeros((0, 3)),
        np.zeros((0, 3)),
        ValueError,
        r"MSE.forward: pred must be a non-empty array",
    ),
    (
        "bce_with_logits",
        np.zeros(3),
        np.array([0.0, 1.5, 1.0]),
        ValueError,
        r"BCEWithLogits.forward: target must be in \[0, 1\], got 1.5 at index \(1,\)",
    ),
    (
        "bce_with_logits",
        np.zeros(3),
        np.array([0.0, -1.0, 1.0]),
        ValueError,
        r"target must be in \[0, 1\], got -1.0",
    ),
    (
        "bce_with_logits",
        np.zeros(3),
        np.array([0.0, np.nan, 1.0]),
        ValueError,
        r"target must be in \[0, 1\], got nan",
    ),
]


@pytest.mark.parametrize(("name", "pred", "target", "exc", "match"), BAD_LOSS_CALLS)
def test_bad_loss_inputs(name, pred, target, exc, match):
    loss = gc.losses.get(name)
    with pytest.raises(exc, match=match):
        loss.forward(pred, target)
    assert loss.value is None  # nothing computed, nothing kept


def test_loss_names_and_reduction():
    with pytest.raises(
        ValueError,
        match=r"losses.get: loss must be a gradcore.losses.Loss or one of 'bce_with_logits', "
        r"'cross_entropy', 'mse', 'softmax_cross_entropy', got str \('hinge'\)",
    ):
        gc.losses.get("hinge")
    with pytest.raises(
        TypeError, match=r"loss must be .* got type \(an instance is needed: MSE\(\)\)"
    ):
        gc.losses.get(gc.losses.MSE)
    with pytest.raises(TypeError, match=r"loss must be .* got NoneType"):
        gc.losses.get(None)
    with pytest.raises(
        ValueError, match=r"MSE: reduction must be one of 'mean', got str \('sum'\)"
    ):
        gc.losses.MSE(reduction="sum")
    with pytest.raises(
        TypeError, match=r"SoftmaxCrossEntropy: reduction must be one of 'mean', got int"
    ):
        gc.losses.SoftmaxCrossEntropy(reduction=0)
    assert gc.losses.BCEWithLogits(reduction="mean").reduction == "mean"


def test_elementwise_losses_take_zero_d_and_nd(rng):
    for cls in (gc.losses.MSE, gc.losses.BCEWithLogits):
        p, t = rng.normal(size=(2, 3, 4)), rng.uniform(size=(2, 3, 4))
        a, b = cls(), cls()
        assert a.forward(p, t) == b.forward(p.reshape(-1), t.reshape(-1))
        np.testing.assert_array_equal(a.backward(), b.backward().reshape(p.shape))
        z = cls()
        assert z.forward(np.array(0.3), np.array(1.0)) == b.forward(
            np.array([0.3]), np.array([1.0])
        )
        assert z.backward().shape == ()
    ints = gc.losses.MSE().forward(np.zeros(3), np.array([1, 2, 3]))  # integer targets cast
    assert ints == pytest.approx(14 / 3, rel=1e-15)


# ------------------------------------------------------------------- initializers --
RANDOM_INITS = "normal uniform xavier_uniform xavier_normal he_uniform he_normal orthogonal".split()
BAD_INIT_CALLS = [
    # (callable, args, kwargs, exception, regex)
    (
        init.he_normal,
        ((3.0, 2), RNG0(0)),
        {},
        TypeError,
        r"init.he_normal: shape must be a tuple of integers >= 0",
    ),
    (
        init.he_normal,
        ((-1, 2), RNG0(0)),
        {},
        ValueError,
        r"shape must be a tuple of integers >= 0, got \(-1, 2\)",
    ),
    (
        init.he_normal,
        ("3x2", RNG0(0)),
        {},
        TypeError,
        r"shape must be a tuple of integers >= 0, got str",
    ),
    (
        init.he_normal,
        ((), RNG0(0)),
        {},
        ValueError,
        r"init.he_normal: shape must have at least one dimension to define a fan",
    ),
    (
        init.xavier_uniform,
        ((), RNG0(0)),
        {},
        ValueError,
        r"init.xavier_uniform: shape must have at least one dimension",
    ),
    (
        init.orthogonal,
        ((4,), RNG0(0)),
        {},
        ValueError,
        r"init.orthogonal: shape must have at least 2 dimensions",
    ),
    (
        init.he_normal,
        ((3, 2), None),
        {},
        TypeError,
        r"init.he_normal: rng must be a numpy.random.Generator .*got NoneType",
    ),
    (
        init.normal,
        ((3, 2), 0),
        {},
        TypeError,
        r"init.normal: rng must be a numpy.random.Generator .*got int",
    ),
    (
        init.normal,
        ((3, 2), RNG0(0)),
        {"std": -1.0},
        ValueError,
        r"init.normal: std must be a finite real number >= 0, got -1.0",
    ),
    (init.normal, ((3, 2), RNG0(0)), {"std": float("nan")}, ValueError, r"std must be .* got nan"),
    (
        init.normal,
        ((3, 2), RNG0(0)),
        {"mean": np.inf},
        ValueError,
        r"init.normal: mean must be a finite real number, got inf",
    ),
    (
        init.uniform,
        ((3, 2), RNG0(0)),
        {"low": 1.0, "high": 1.0},
        ValueError,
        r"init.uniform: high must be a finite real number > 1.0, got 1.0",
    ),
    (
        init.uniform,
        ((3, 2), RNG0(0)),
        {"low": float("nan")},
        ValueError,
        r"init.uniform: low must be a finite real number, got nan",
    ),
    (
        init.xavier_normal,
        ((3, 2), RNG0(0)),
        {"gain": -1.0},
        ValueError,
        r"init.xavier_normal: gain must be a finite real number >= 0, got -1.0",
    ),
    (
        init.orthogonal,
        ((3, 2), RNG0(0)),
        {"gain": float("inf")},
        ValueError,
        r"init.orthogonal: gain .* got inf",
    ),
    (init.xavier_uniform, ((3, 2), RNG0(0)), {"gain": "1"}, TypeError, r"gain must be .* got str"),
    (
        init.he_uniform,
        ((3, 2), RNG0(0)),
        {"mode": "fan_avg"},
        ValueError,
        r"init.he_uniform: mode must be one of 'fan_in', 'fan_out', got str \('fan_avg'\)",
    ),
    (
        init.he_uniform,
        ((3, 2), RNG0(0)),
        {"nonlinearity": "swish"},
        ValueError,
        r"calculate_gain: nonlinearity must be one of",
    ),
    (
        init.he_normal,
        ((3, 2), RNG0(0), np.int32),
        {},
        TypeError,
        r"init.he_normal: dtype must be np.float32 or np.float64, got dtype int32",
    ),
    (init.zeros, ((3, 2), None, None), {}, TypeError, r"init.zeros: dtype must be .* got NoneType"),
    (
        init.constant,
        ((3, 2),),
        {"value": float("nan")},
        ValueError,
        r"init.constant: value must be a finite real number, got nan",
    ),
    (
        init.calculate_gain,
        ("softsign",),
        {},
        ValueError,
        r"calculate_gain: nonlinearity must be one of 'linear', 'sigmoid', 'tanh', 'relu'",
    ),
    (
        init.calculate_gain,
        (None,),
        {},
        ValueError,
        r"calculate_gain: nonlinearity must be one of .* got NoneType",
    ),
    (
        init.get,
        ("glorot",),
        {},
        ValueError,
        r"init.get: init must be one of 'he_normal', .*'zeros', got str \('glorot'\)",
    ),
    (
        init.get,
        (3,),
        {},
        TypeError,
        r"init.get: init must be a callable \(shape, rng, dtype\) -> ndarray or one of",
    ),
    # scales that overflow (was OverflowError from numpy, or inf weights with a warning)
    (
        init.uniform,
        ((3, 2), RNG0(0)),
        {"low": -1e308, "high": 1e308},
        ValueError,
        r"init.uniform: low=-1e\+308, high=1e\+308 is too wide a range",
    ),
    (init.xavier_uniform, ((3, 2), RNG0(0)), {"gain": 1e308}, ValueError, r"too wide a range"),
    (
        init.normal,
        ((3, 2), RNG0(0), F32),
        {"std": 1e300},
        ValueError,
        r"init.normal: mean=0.0, std=1e\+300 gives values that overflow float32",
    ),
    (
        init.constant,
        ((3, 2), None, F32),
        {"value": 1e300},
        ValueError,
        r"init.constant: value=1e\+300 gives values that overflow float32",
    ),
    (init.orthogonal, ((3, 2), RNG0(0), F32), {"gain": 1e300}, ValueError, r"overflow float32"),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "exc", "match"), BAD_INIT_CALLS)
def test_bad_initializer_calls(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("name", RANDOM_INITS)
def test_initializers_accept_numpy_ints_and_lists_as_shapes(name):
    f = init.get(name)
    a = f((4, 3), RNG0(0), F64)
    np.testing.assert_array_equal(f([np.int64(4), np.int32(3)], RNG0(0), F64), a)
    np.testing.assert_array_equal(f((4, 3), RNG0(0), "float64"), a)
    assert f((0, 3), RNG0(0), F32).shape == (0, 3)  # empty is fine (nothing to initialise)


def test_numpy_scalar_init_arguments_are_accepted():
    a = init.xavier_normal((4, 3), RNG0(1), F64, gain=2.0)
    np.testing.assert_array_equal(init.xavier_normal((4, 3), RNG0(1), F64, gain=np.float32(2.0)), a)
    b = init.uniform((4, 3), RNG0(1), F64, low=np.int64(-1), high=np.float32(0.5))
    np.testing.assert_array_equal(b, init.uniform((4, 3), RNG0(1), F64, low=-1, high=0.5))
    assert init.constant(np.int64(3), value=np.float32(2.0)).tolist() == [2.0, 2.0, 2.0]
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.he_normal((4, 3), RNG0(0), F32, mode="fan_out").std() > 0


def _mlp():
    return nn.Sequential(
        [nn.Dense(4, 8, "tanh", dtype=F64, seed=0), nn.Dense(8, 2, "linear", dtype=F64, seed=1)]
    )


def test_lsuv_arguments():
    X = np.random.default_rng(0).normal(size=(16, 4))
    cases = [
        (
            ("not a model", X),
            {},
            TypeError,
            r"lsuv: model must be a gradcore layer or model, got str",
        ),
        ((_mlp(), X.tolist()), {}, TypeError, r"lsuv: X must be a numpy\.ndarray, got list"),
        (
            (_mlp(), X[:1]),
            {},
            ValueError,
            r"lsuv: X must have at least 2 samples, got shape \(1, 4\)",
        ),
        (
            (_mlp(), X.astype(complex)),
            {},
            TypeError,
            r"lsuv: X must hold real numbers, got dtype complex128",
        ),
        ((_mlp(), np.where(X > 1, np.nan, X)), {}, ValueError, r"lsuv: X must be finite"),
        (
            (_mlp(), X),
            {"tol": 0.0},
            ValueError,
            r"lsuv: tol must be a finite real number > 0, got 0.0",
        ),
        ((_mlp(), X), {"tol": float("nan")}, ValueError, r"tol .* got nan"),
        (
            (_mlp(), X),
            {"max_iter": 0},
            ValueError,
            r"lsuv: max_iter must be an integer >= 1, got 0",
        ),
        ((_mlp(), X), {"max_iter": 2.5}, TypeError, r"max_iter must be an integer >= 1, got float"),
        ((_mlp(), X), {"seed": -3}, ValueError, r"lsuv: seed must be an integer >= 0, got -3"),
        (
            (_mlp(), X),
            {"orthogonal_first": "yes"},
            TypeError,
            r"lsuv: orthogonal_first must be True or False",
        ),
    ]
    for args, kwargs, exc, match in cases:
        with pytest.raises(exc, match=match):
            init.lsuv(*args, **kwargs)
    with pytest.raises(FloatingPointError, match="pre-activation variance"):
        init.lsuv(_mlp(), np.zeros((8, 4)))  # documented: all-zero data cannot be rescaled
    a, b = _mlp(), _mlp()
    ra = init.lsuv(a, X, tol=0.02, max_iter=np.int64(10), seed=np.int64(3))
    rb = init.lsuv(b, X, tol=np.float32(0.02), seed=3)
    assert ra == rb and all(math.isfinite(v) for v in ra.values())


# -- Layer.predict ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X", "batch_size", "exc", "match"),
    [
        (np.ones(()), 2, ValueError, r"predict: X must have a batch axis"),  # was len() TypeError
        (np.full((2, 4), 1e300), 2, ValueError, r"predict: X holds values beyond the range"),
        (np.ones((2, 4)), 0, ValueError, r"predict: batch_size must be an integer >= 1, got 0"),
        (np.ones((2, 4)), True, TypeError, r"predict: batch_size must be an integer >= 1"),
        (np.ones((2, 4)), 1.0, TypeError, r"predict: batch_size must be an integer >= 1"),
        (np.ones((0, 4)), 2, ValueError, r"predict: X must have at least 1 row"),
        ([[1.0] * 4], 2, TypeError, r"predict: X must be a numpy.ndarray, got list"),
    ],
)
def test_predict_checks_its_arguments(X, batch_size, exc, match):
    model = gc.nn.Sequential([gc.nn.Dense(4, 3, seed=0)])
    with pytest.raises(exc, match=match):
        model.predict(X, batch_size)


def test_predict_takes_numpy_integer_batch_sizes():
    model = gc.nn.Sequential([gc.nn.Dense(4, 3, seed=0)])
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(model.predict(X, np.int64(2)), model.predict(X, 2))
