"""Property tests for model structure (issue 11, item 7, the "misuse" slice).

- random model structures (depth, widths, nesting with Residual): with a repeated instance they
  always raise at construction, with distinct instances they always build and run;
- random mutations after ``model.parameters()``: an optimizer bound to the old arena raises
  exactly when the parameter layout changed, and the arena rebuilt by ``model.parameters()``
  holds and trains every current layer;
- junk given to the containers, ``freeze`` and the layers' inputs: only ``TypeError`` /
  ``ValueError``; odd-but-valid inputs (non-contiguous, read-only) give the same result.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore.nn import (
    LSTM,
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    LayerNorm,
    Residual,
    Sequential,
)

F64 = np.float64
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A structure spec: ("dense", act) | ("act", name) | ("ln",) | ("seq", [specs]) | ("res", spec).
leaf = st.one_of(
    st.tuples(st.just("dense"), st.sampled_from(["relu", "tanh", "sigmoid", "linear"])),
    st.tuples(st.just("act"), st.sampled_from(["relu", "tanh"])),
    st.tuples(st.just("ln")),
)
specs = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(st.just("seq"), st.lists(inner, min_size=1, max_size=3)),
        st.tuples(st.just("res"), inner),
    ),
    max_leaves=8,
)


def build(spec, width: int, made: list):
    """The model of ``spec`` (all layers ``width -> width``); every built layer is appended to
    ``made`` in construction order."""
    kind = spec[0]
    if kind == "dense":
        layer = Dense(width, width, spec[1], dtype=F64, seed=len(made))
    elif kind == "act":
        layer = Activation(spec[1], dtype=F64)
    elif kind == "ln":
        layer = LayerNorm(width, dtype=F64)
    elif kind == "seq":
        layer = Sequential([build(s, width, made) for s in spec[1]])
    else:
        layer = Residual(build(spec[1], width, made))
    made.append(layer)
    return layer


def leaf_layers(model):
    return [layer for _, layer in model.named_layers() if not layer.children()]


@SETTINGS
@given(
    spec=st.lists(specs, min_size=1, max_size=4), width=st.integers(1, 5), seed=st.integers(0, 9)
)
def test_distinct_instances_always_build_and_run(spec, width, seed):
    model = Sequential([build(s, width, []) for s in spec])
    ids = [id(layer) for _, layer in model.named_layers()]
    assert len(ids) == len(set(ids))
    x = np.random.default_rng(seed).standard_normal((3, width))
    y = model.forward(x)
    assert y.shape == (3, width) and not y.flags.writeable
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape
    size = sum(p.size for layer in leaf_layers(model) for p in layer.params.values())
    if size == 0:
        with pytest.raises(ValueError, match="has no parameters"):
            model.parameters()
    else:
        assert model.parameters().size == size


@SETTINGS
@given(
    spec=st.lists(specs, min_size=1, max_size=4),
    width=st.integers(1, 4),
    data=st.data(),
)
def test_a_repeated_instance_always_raises_at_construction(spec, width, data):
    made: list = []
    parts = [build(s, width, made) for s in spec]
    reused = data.draw(st.sampled_from(made), label="reused")
    # put it in again somewhere: at the top, or wrapped in a Residual, or in a new Sequential
    wrap = data.draw(st.sampled_from(["top", "res", "seq"]), label="wrap")
    extra = {"top": reused, "res": Residual(reused), "seq": Sequential([reused])}[wrap]
    at = data.draw(st.integers(0, len(parts)), label="at")
    with pytest.raises(ValueError, match=r"used twice|cannot contain itself"):
        Sequential([*parts[:at], extra, *parts[at:]])


MUTATIONS = ["append_dense", "append_act", "replace", "delete", "insert", "block", "inplace"]


def mutate(model: Sequential, op: str, width: int, k: int) -> bool:
    """Apply ``op``; return whether the parameter layout changed."""
    layers = model.layers
    i = k % len(layers)
    if op == "append_dense":
        layers.append(Dense(width, width, dtype=F64, seed=k))
        return True
    if op == "append_act":
        layers.append(Activation("tanh", dtype=F64))
        return False
    if op == "replace":  # a new Dense: always a new parameter layout
        layers[i] = Dense(width, width, "tanh", dtype=F64, seed=k)
        return True
    if op == "delete":
        if len(layers) == 1:
            return False
        had = bool(list(layers[i].named_parameters()))
        del layers[i]
        return had
    if op == "insert":
        layers.insert(i, LayerNorm(width, dtype=F64))
        return True
    if op == "block":
        res = [layer for _, layer in model.named_layers() if isinstance(layer, Residual)]
        if not res:
            return False
        res[0].block = Dense(width, width, "tanh", dtype=F64, seed=k)
        return True
    # in place: never a structure change
    for _, p, _ in model.named_parameters():
        p[...] = p * 0.5
    return False


@SETTINGS
@given(
    spec=st.lists(specs, min_size=1, max_size=3),
    width=st.integers(1, 4),
    ops=st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 7)), min_size=1, max_size=3),
)
def test_mutations_after_parameters_rebuild_or_raise(spec, width, ops):
    model = Sequential([build(s, width, []) for s in spec] + [Dense(width, width, dtype=F64)])
    opt = gc.optim.SGD(model.parameters(), lr=0.1)

    def layout():  # the parameters in model order, by identity
        return [(id(layer), key) for layer in leaf_layers(model) for key in layer.params]

    before_ops = layout()
    for op, k in ops:
        mutate(model, op, width, k)
    # (append then delete of the same layer gives the old layout back: the old arena is valid)
    changed = layout() != before_ops
    x = np.random.default_rng(0).standard_normal((4, width))
    model.zero_grad()
    model.backward(np.ones_like(model.forward(x)))
    if changed:
        with pytest.raises(RuntimeError, match="changed after this arena"):
            opt.step()
    else:
        opt.step()  # the old arena still covers everything: fine
    # the arena of the current model holds and trains every current parameter
    if not any(layer.params for layer in leaf_layers(model)):  # every parameter deleted
        with pytest.raises(ValueError, match="has no parameters"):
            model.parameters()
        return
    arena = model.parameters()
    before = {}
    for layer in leaf_layers(model):
        for key, p in layer.params.items():
            assert p.base is arena.data and layer.grads[key].base is arena.grad
            before[(id(layer), key)] = (p.copy(), layer.grads[key].copy())
    assert arena.size == sum(v[0].size for v in before.values())
    gc.optim.SGD(arena, lr=0.1).step()
    for layer in leaf_layers(model):
        for key, p in layer.params.items():
            p0, g = before[(id(layer), key)]
            np.testing.assert_array_equal(p, p0 - 0.1 * g)


junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.just(np.float32(1.0)),
    st.just(np.zeros(3)),
    st.just(object()),
    st.just(Dense(2, 2)),
    st.lists(st.one_of(st.integers(), st.none(), st.text(max_size=2)), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(arg=junk)
def test_junk_to_the_containers_raises_type_or_value_error(arg):
    for make in (Sequential, Residual):
        try:
            make(arg)
        except (TypeError, ValueError):
            pass


@settings(max_examples=40, deadline=None)
@given(names=st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3))
def test_junk_freeze_names(names):
    model = Sequential([Dense(2, 2), Residual(Dense(2, 2))])
    for layer in (model, model.layers[0]):
        for fn in (layer.freeze, layer.unfreeze):
            try:
                fn(*names)
            except (TypeError, ValueError):
                pass
    assert all(set(layer.frozen) <= {"W", "b"} for _, layer in model.named_layers())


LAYERS = {
    "dense": (lambda: Dense(3, 2, "tanh", seed=0), (3,)),
    "act": (lambda: Activation("sigmoid"), None),
    "bn": (lambda: BatchNorm(3), (3,)),
    "ln": (lambda: LayerNorm(3), (3,)),
    "lstm": (lambda: LSTM(3, 2, seed=0), (2, 3)),
    "drop": (lambda: Dropout(0.25, seed=0), None),
    "model": (lambda: Sequential([Dense(3, 3, seed=0), Residual(Dense(3, 3, seed=1))]), (3,)),
}


@settings(max_examples=60, deadline=None)
@given(
    which=st.sampled_from(sorted(LAYERS)),
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.bool_, np.complex64, object]),
    fill=st.sampled_from([0.5, np.nan, np.inf]),
    training=st.booleans(),
)
def test_bad_inputs_raise_type_or_value_error(which, shape, dtype, fill, training):
    layer = LAYERS[which][0]()
    x = np.full(shape, fill if dtype not in (np.int64, np.bool_) else 1).astype(dtype)
    try:
        y = layer.forward(x, training=training)
    except (TypeError, ValueError):
        return
    try:
        layer.backward(np.ones_like(y))
    except (TypeError, ValueError):
        pass


@settings(max_examples=40, deadline=None)
@given(
    which=st.sampled_from(sorted(LAYERS)),
    n=st.integers(2, 5),
    odd=st.sampled_from(["strided", "read_only", "fortran"]),
    training=st.booleans(),
    seed=st.integers(0, 99),
)
def test_odd_but_valid_inputs_give_the_same_result(which, n, odd, training, seed):
    make, tail = LAYERS[which]
    tail = tail or (3,)
    rng = np.random.default_rng(seed)
    plain = rng.standard_normal((n, *tail)).astype(np.float32)
    if odd == "strided":
        big = np.zeros((n, *tail[:-1], 2 * tail[-1]), np.float32)
        big[..., ::2] = plain
        x = big[..., ::2]
    elif odd == "read_only":
        x = plain.copy()
        x.flags.writeable = False
    else:
        x = np.asfortranarray(plain)
    results = []
    for inp in (plain, x):
        layer = make()
        y = layer.forward(inp, training=training)
        dx = layer.backward(np.ones_like(y))
        grads = [g.copy() for _, _, g in layer.named_parameters()]
        results.append((y, dx, grads))
    (y0, dx0, g0), (y1, dx1, g1) = results
    np.testing.assert_array_equal(y1, y0)
    np.testing.assert_array_equal(dx1, dx0)
    for a, b in zip(g0, g1, strict=True):
        np.testing.assert_array_equal(b, a)
