"""Property tests (issue 11, item 7) for gc.nn layers, gc.losses and gc.init.

Thrown at the public API: bad shapes, dtypes, non-finite values, wrong types, NumPy scalars,
0-d and N-D arrays, empty batches. Asserted:

- only ``TypeError``/``ValueError`` come out (never a crash, ``AttributeError``,
  ``IndexError``, ``OverflowError``, a warning turned error, ...);
- a layer that was built is sound: finite parameters of the declared dtype, and a forward
  and backward on a plain input work;
- valid-but-odd inputs (non-contiguous, Fortran-order, read-only arrays; NumPy scalar
  hyper-parameters) give exactly the outputs and gradients of the plain ones.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradcore as gc
from gradcore import init

nn = gc.nn
F64 = np.float64
OK_ERRORS = (TypeError, ValueError)

# the tests that run kernels do so once per available backend; the others need none
per_backend = pytest.mark.usefixtures("each_backend")

# ----------------------------------------------------------------- strategies --
# Anything a user might pass as a hyper-parameter, valid or not (sizes kept small so a
# "valid" draw never allocates much).
numbers_ = st.one_of(
    st.integers(-3, 6),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, 0.5, 1.0, -0.0, 1e-5, 1 - 1e-9, 1e308]),
)
np_scalars = numbers_.flatmap(
    lambda v: st.sampled_from(
        [np.float64, np.float32, np.float16]
        + ([np.int64, np.int32, np.int8] if isinstance(v, int) else [])
    ).map(lambda t: _np_scalar(t, v))
)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.just(np.bool_(True)),
    st.text(max_size=4),
    st.just([1]),
    st.just((2,)),
    st.just(np.ones(2)),
    st.just(np.array(0.5)),
    st.just(complex(1, 1)),
    st.just(object()),
)
any_value = st.one_of(numbers_, np_scalars, junk)


def _np_scalar(t, v):
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            return t(v)
        except (OverflowError, ValueError):  # e.g. np.int8(1e308): not a value a user has
            return t(0)


LAYERS = {
    # class: (default kwargs, x for a forward)
    "Dense": (
        nn.Dense,
        {
            "in_features": 3,
            "out_features": 2,
            "activation": "tanh",
            "init": "he_normal",
            "dtype": F64,
            "seed": 0,
            "bias": True,
        },
        (4, 3),
    ),
    "Activation": (nn.Activation, {"activation": "gelu", "dtype": F64}, (4, 3)),
    "Dropout": (nn.Dropout, {"p": 0.5, "dtype": F64, "seed": 0}, (4, 3)),
    "BatchNorm": (
        nn.BatchNorm,
        {"num_features": 3, "momentum": 0.1, "eps": 1e-5, "dtype": F64},
        (4, 3),
    ),
    "LayerNorm": (nn.LayerNorm, {"num_features": 3, "eps": 1e-5, "dtype": F64}, (4, 3)),
    "LSTM": (
        nn.LSTM,
        {
            "input_size": 3,
            "hidden_size": 2,
            "return_sequences": True,
            "dtype": F64,
            "seed": 0,
            "forget_bias": 1.0,
        },
        (2, 3, 3),
    ),
}
ARGS = [(name, arg) for name, (_, kw, _) in LAYERS.items() for arg in kw]


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _run(layer, x, training=True):
    """Forward then backward with dy = 1; returns (y, dx, grads) as copies."""
    y = layer.forward(x, training=training)
    dx = layer.backward(np.ones_like(y))
    return y.copy(), dx.copy(), {k: g.copy() for k, g in layer.grads.items()}


def _same(a, b):
    ya, dxa, ga = a
    yb, dxb, gb = b
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(dxa, dxb)
    assert ga.keys() == gb.keys()
    for k in ga:
        np.testing.assert_array_equal(ga[k], gb[k], err_msg=k)


# ------------------------------------------------------- constructor arguments --
@pytest.mark.parametrize(("name", "arg"), ARGS, ids=[f"{n}.{a}" for n, a in ARGS])
@settings(max_examples=20, deadline=None)
@given(value=any_value)
def test_constructor_argument_fuzz(name, arg, value):
    cls, kw, shape = LAYERS[name]
    try:
        layer = cls(**{**kw, arg: value})
    except OK_ERRORS:
        return
    # built: then it is sound and runs
    assert layer.dtype in (np.float32, np.float64)
    for k, p in layer.params.items():
        assert p.dtype == layer.dtype and np.all(np.isfinite(p)), k
    x = _x(shape).astype(layer.dtype)
    if name == "Dense":
        x = _x((4, layer.in_features)).astype(layer.dtype)
    if name in ("BatchNorm", "LayerNorm"):
        x = _x((4, layer.num_features)).astype(layer.dtype)
    if name == "LSTM":
        x = _x((2, 3, layer.input_size)).astype(layer.dtype)
    y, dx, _ = _run(layer, x)
    assert y.dtype == layer.dtype and dx.shape == x.shape
    cfg = layer.get_config()
    rebuilt = nn.layer_from_config(cfg)  # the config of anything accepted rebuilds
    assert rebuilt.get_config() == cfg


@per_backend
@pytest.mark.parametrize(
    ("name", "arg"),
    [a for a in ARGS if a[1] not in ("activation", "init", "dtype")],
    ids=lambda v: str(v),
)
@settings(max_examples=10, deadline=None)
@given(value=numbers_, to=st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.bool_]))
def test_numpy_scalar_hyperparameters_act_like_python_ones(name, arg, value, to):
    cls, kw, shape = LAYERS[name]
    if isinstance(kw[arg], bool):
        value, to = bool(value), np.bool_  # bools stay bools
    elif isinstance(kw[arg], int) and not (isinstance(value, int) and -3 <= value <= 6):
        value = 3  # sizes and seeds: small integers only (a huge size would allocate)
    scalar = _np_scalar(to, value)
    plain = scalar.item()  # the Python number the NumPy scalar stands for
    try:
        a = cls(**{**kw, arg: plain})
    except OK_ERRORS as e:
        with pytest.raises(type(e)):  # the NumPy scalar is refused the same way
            cls(**{**kw, arg: scalar})
        return
    b = cls(**{**kw, arg: scalar})
    assert a.get_config() == b.get_config()
    x = _x(shape)
    if name == "Dense":
        x = _x((4, a.in_features))
    if name in ("BatchNorm", "LayerNorm"):
        x = _x((4, a.num_features))
    if name == "LSTM":
        x = _x((2, 3, a.input_size))
    _same(_run(a, x), _run(b, x))  # Dropout: same seed, same masks


@settings(max_examples=10, deadline=None)
@given(
    layer=st.sampled_from(
        [
            "Dropout.p",
            "BatchNorm.momentum",
            "BatchNorm.eps",
            "LayerNorm.eps",
            "Dense.activation",
            "Activation.activation",
            "LSTM.return_sequences",
        ]
    ),
    value=any_value,
)
def test_setter_fuzz(layer, value):
    name, attr = layer.split(".")
    cls, kw, shape = LAYERS[name]
    obj = cls(**kw)
    before = getattr(obj, attr)
    try:
        setattr(obj, attr, value)
    except OK_ERRORS:
        assert getattr(obj, attr) == before  # refused: unchanged
        return
    y, _, grads = _run(obj, _x(shape))
    assert np.all(np.isfinite(y)) and all(np.all(np.isfinite(g)) for g in grads.values())


# ------------------------------------------------------------------ layer inputs --
bad_dtypes = st.sampled_from(
    [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128]
)
any_shape = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


@st.composite
def arrays_any(draw):
    dt = draw(bad_dtypes)
    a = draw(
        hnp.arrays(
            dt,
            draw(any_shape),
            elements=None
            if dt is not np.float64
            else st.floats(allow_nan=True, allow_infinity=True, width=64),
        )
    )
    kind = draw(st.sampled_from(["plain", "readonly", "strided", "list", "scalar"]))
    if kind == "readonly":
        a.flags.writeable = False
    elif kind == "strided" and a.ndim:
        a = np.repeat(a, 2, axis=0)[::2]
    elif kind == "list":
        return a.tolist()
    elif kind == "scalar":
        return a.reshape(-1)[0] if a.size else 0.5
    return a


@per_backend
@pytest.mark.parametrize("name", list(LAYERS))
@settings(max_examples=20, deadline=None)
@given(
    x=arrays_any(),
    training=st.booleans(),
    dy_kind=st.sampled_from(["ones", "shape+1", "list", "int"]),
)
def test_layer_input_fuzz(name, x, training, dy_kind):
    cls, kw, _ = LAYERS[name]
    layer = cls(**kw)
    try:
        y = layer.forward(x, training=training)
    except OK_ERRORS:
        return
    assert isinstance(y, np.ndarray) and y.dtype == F64
    if isinstance(layer, nn.Activation | nn.Dropout):
        assert y.shape == np.shape(x)
    dy = {
        "ones": np.ones_like(y),
        "shape+1": np.ones((*y.shape, 1)),
        "list": y.tolist(),
        "int": np.ones(y.shape, np.int64),
    }[dy_kind]
    try:
        dx = layer.backward(dy)
    except OK_ERRORS:
        assert dy_kind != "ones"
        return
    assert dy_kind == "ones" and dx.shape == np.shape(x)


def _valid_x(name, shape_draw):
    n, t, c = shape_draw
    return {
        "Dense": (n, 3),
        "Activation": (n, t, c),
        "Dropout": (n, c),
        "BatchNorm": (n + 2, 3),
        "LayerNorm": (n, 3),
        "LSTM": (n, t + 1, 3),
    }[name]


@per_backend
@pytest.mark.parametrize("name", list(LAYERS))
@settings(max_examples=10, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**16),
    training=st.booleans(),
    order=st.sampled_from(["strided", "fortran", "readonly", "reversed"]),
)
def test_odd_but_valid_inputs_are_exact(name, shape, seed, training, order):
    cls, kw, _ = LAYERS[name]
    x = _x(_valid_x(name, shape), seed)
    if name == "BatchNorm" and not training:
        pass
    elif name == "BatchNorm" and x.shape[0] < 2:
        return
    if order == "strided":
        odd = np.repeat(x, 2, axis=-1)[..., ::2]
    elif order == "fortran":
        odd = np.asfortranarray(x)
    elif order == "readonly":
        odd = x.copy()
        odd.flags.writeable = False
    else:  # a negative-stride view of a reversed copy: same values
        odd = x[::-1].copy()[::-1]
    assert np.array_equal(odd, x)
    _same(_run(cls(**kw), x, training), _run(cls(**kw), odd, training))


@per_backend
def test_activation_zero_d_and_nd_match_flat():
    x = _x((2, 1, 3, 2, 2))
    for act in gc.backends.ACTIVATIONS:
        flat = _run(nn.Activation(act, dtype=F64), x.reshape(-1))
        nd = _run(nn.Activation(act, dtype=F64), x)
        np.testing.assert_array_equal(nd[0].reshape(-1), flat[0])
        np.testing.assert_array_equal(nd[1].reshape(-1), flat[1])
        zero_d = _run(nn.Activation(act, dtype=F64), np.array(x.flat[0]))
        assert zero_d[0].shape == () and zero_d[0] == flat[0][0] and zero_d[1] == flat[1][0]


@per_backend
# ------------------------------------------------------------------------ losses --
@pytest.mark.parametrize("name", ["cross_entropy", "mse", "bce_with_logits"])
@settings(max_examples=20, deadline=None)
@given(pred=arrays_any(), target=arrays_any())
def test_loss_input_fuzz(name, pred, target):
    loss = gc.losses.get(name)
    try:
        v = loss.forward(pred, target)
    except OK_ERRORS:
        assert loss.value is None
        return
    assert isinstance(v, float)
    g = loss.backward()
    assert g.shape == np.shape(pred) and g.dtype == pred.dtype


@per_backend
@pytest.mark.parametrize("name", ["cross_entropy", "mse", "bce_with_logits"])
@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 5),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    order=st.sampled_from(["strided", "fortran", "readonly"]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_loss_odd_but_valid_inputs_are_exact(name, n, k, seed, order, dtype):
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=(n, k)).astype(dtype)
    target = rng.integers(0, k, size=n) if name == "cross_entropy" else rng.uniform(size=(n, k))

    def odd(a):
        if order == "strided":
            return np.repeat(a, 2, axis=0)[::2]
        if order == "fortran":
            return np.asfortranarray(a)
        b = a.copy()
        b.flags.writeable = False
        return b

    a, b = gc.losses.get(name), gc.losses.get(name)
    assert a.forward(pred, target) == b.forward(odd(pred), odd(target))
    np.testing.assert_array_equal(a.backward(), b.backward())


@settings(max_examples=10, deadline=None)
@given(
    name=st.sampled_from(["cross_entropy", "mse", "bce_with_logits"]),
    reduction=any_value,
    other=any_value,
)
def test_loss_names_fuzz(name, reduction, other):
    for call in (lambda: gc.losses.get(other), lambda: gc.losses.LOSSES[name](reduction=reduction)):
        try:
            assert isinstance(call(), gc.losses.Loss)
        except OK_ERRORS:
            pass


# ------------------------------------------------------------------- initializers --
shapes_any = st.one_of(
    st.lists(st.integers(-2, 5), max_size=4).map(tuple),
    st.lists(st.one_of(st.integers(0, 4), st.floats(0, 4), st.booleans(), st.none()), max_size=3),
    st.integers(-2, 5),
    junk,
)
INITS = [
    "constant",
    "zeros",
    "ones",
    "normal",
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
]
KWARGS = {
    "normal": ("std", "mean"),
    "uniform": ("low", "high"),
    "xavier_uniform": ("gain",),
    "xavier_normal": ("gain",),
    "orthogonal": ("gain",),
    "he_uniform": ("mode", "nonlinearity"),
    "he_normal": ("mode", "nonlinearity"),
    "constant": ("value",),
}
kw_values = st.one_of(any_value, st.sampled_from(["fan_in", "fan_out", "relu", "tanh"]))


@pytest.mark.parametrize("name", INITS)
@settings(max_examples=10, deadline=None)
@given(
    shape=shapes_any,
    rng=st.one_of(st.just("gen"), junk),
    dtype=st.one_of(
        st.sampled_from([np.float32, np.float64, "float64", np.int32, np.float16]), junk
    ),
    values=st.tuples(kw_values, kw_values),
    which=st.sampled_from([(0,), (1,), (0, 1)]),
)
def test_initializer_fuzz(name, shape, rng, dtype, values, which):
    f = init.constant if name == "constant" else init.get(name)
    names = KWARGS.get(name, ())
    kw = {names[i]: values[i] for i in which if i < len(names)}  # one or both keywords
    gen = np.random.default_rng(0) if isinstance(rng, str) and rng == "gen" else rng
    try:
        w = f(shape, gen, dtype, **kw)
    except OK_ERRORS:
        return
    assert isinstance(w, np.ndarray) and w.dtype in (np.float32, np.float64)
    assert w.shape == (tuple(shape) if not isinstance(shape, int) else (shape,))
    assert np.all(np.isfinite(w))


@settings(max_examples=10, deadline=None)
@given(
    nonlinearity=st.one_of(any_value, st.sampled_from(["relu", "tanh", "sigmoid"])),
    init_arg=st.one_of(any_value, st.sampled_from(INITS)),
)
def test_gain_and_get_fuzz(nonlinearity, init_arg):
    try:
        g = init.calculate_gain(nonlinearity)
        assert isinstance(g, float) and g > 0
    except OK_ERRORS:
        pass
    try:
        assert callable(init.get(init_arg))
    except OK_ERRORS:
        pass


@settings(max_examples=10, deadline=None)
@given(X=arrays_any(), tol=any_value, max_iter=any_value, seed=any_value)
def test_lsuv_fuzz(X, tol, max_iter, seed):
    model = nn.Sequential(
        [nn.Dense(3, 4, "tanh", dtype=F64, seed=0), nn.Dense(4, 2, "linear", dtype=F64, seed=1)]
    )
    try:
        out = init.lsuv(model, X, tol=tol, max_iter=max_iter, seed=seed)
    except (*OK_ERRORS, FloatingPointError):  # FloatingPointError: documented (zero variance)
        return
    assert all(np.isfinite(v) for v in out.values())
