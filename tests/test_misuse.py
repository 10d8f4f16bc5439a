"""Misuse is detected (issue 11, items 3 and 4b): a layer instance used twice, a model changed
after its arena was built, a layer output edited in place before ``backward``, a layer class
that would shadow a built-in in the checkpoint registry, bad container arguments."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import gradcore as gc
from gradcore import nn
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
from gradcore.params import StaleArenaError

F32 = np.float32


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _mlp(seed=0):
    return Sequential(
        [Dense(4, 8, seed=seed), Dense(8, 8, seed=seed + 1), Dense(8, 3, "linear", seed=seed + 2)]
    )


def _data(rng, n=32):
    X = rng.standard_normal((n, 4)).astype(F32)
    y = rng.integers(0, 3, n)
    return X, y


def _grad_step(model, X, y, loss=None):
    loss = loss or gc.losses.get("cross_entropy")
    model.zero_grad()
    out = model.forward(X, training=True)
    loss.forward(out, y)
    model.backward(loss.backward())


# ---------------------------------------------------------------------------------------------
# 1. a layer instance used twice
# ---------------------------------------------------------------------------------------------
SHARED = r"the same Dense instance is used twice, at '{a}' and at '{b}'.*distinct instances"


def test_repeated_instance_in_a_list_raises_with_paths_and_the_fix():
    with pytest.raises(ValueError, match=SHARED.format(a="0.Dense", b="1.Dense")) as e:
        Sequential([Dense(8, 8)] * 3)
    assert "for _ in range(3)" in str(e.value)  # says how to build distinct instances


def test_distinct_instances_build():
    model = Sequential([Dense(8, 8) for _ in range(3)])
    assert len({id(layer) for layer in model.layers}) == 3


def test_same_instance_inside_a_residual_and_outside():
    d = Dense(8, 8)
    with pytest.raises(ValueError, match=SHARED.format(a="0.Dense", b="1.Residual.Dense")):
        Sequential([d, Residual(d)])


def test_same_instance_in_two_nested_sequentials():
    d = Dense(8, 8)
    with pytest.raises(
        ValueError, match=SHARED.format(a="0.Sequential.0.Dense", b="1.Sequential.0.Dense")
    ):
        Sequential([Sequential([d]), Sequential([d])])


def test_same_instance_twice_inside_a_residual_block():
    d = Dense(8, 8)
    with pytest.raises(ValueError, match=r"Sequential: the same Dense instance"):
        Residual(Sequential([d, d]))
    r = Residual(d)
    with pytest.raises(ValueError, match=r"Residual: a container cannot contain itself"):
        r.block = Sequential([r])
    assert r.block is d


def test_a_container_inside_itself_raises_and_the_list_is_unchanged(rng):
    model = Sequential([Dense(4, 4)])
    with pytest.raises(ValueError, match=r"cannot contain itself.*cycle"):
        model.layers.append(model)  # today: accepted, then RecursionError
    assert len(model.layers) == 1
    outer = Sequential([model])
    with pytest.raises(ValueError, match=r"cannot contain itself.*'1\.Sequential\.0\.Sequential'"):
        model.layers.append(outer)
    assert len(model.layers) == 1
    x = rng.standard_normal((2, 4)).astype(F32)
    assert outer.forward(x).shape == (2, 4)  # still a working model


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m.layers.append(m.layers[0]),
        lambda m: m.layers.insert(0, m.layers[2]),
        lambda m: m.layers.__setitem__(1, m.layers[0]),
        lambda m: m.layers.extend([m.layers[1]]),
        lambda m: m.layers.__iadd__([m.layers[1]]),
        lambda m: m.layers.__imul__(2),
        lambda m: setattr(m, "layers", [m.layers[0], m.layers[0]]),
    ],
    ids=["append", "insert", "setitem", "extend", "iadd", "imul", "assign"],
)
def test_mutations_that_repeat_an_instance_raise_and_are_undone(mutate):
    model = _mlp()
    before = list(model.layers)
    with pytest.raises(ValueError, match=r"the same Dense instance is used twice"):
        mutate(model)
    assert model.layers == before and all(a is b for a, b in zip(model.layers, before, strict=True))


def test_a_copied_model_checks_its_mutations_too():
    model = copy.deepcopy(_mlp())
    with pytest.raises(ValueError, match=r"used twice"):
        model.layers.append(model.layers[0])
    model.layers.append(Dense(3, 3))  # a distinct one is fine
    assert len(model) == 4


def test_a_duplicate_made_through_an_inner_container_is_caught_by_the_arena(rng):
    """The inner container cannot see its parents: the outer one's next forward and the arena
    walk (parameters(), step) refuse the model instead of training it."""
    d = Dense(4, 4)
    inner = Sequential([Dense(4, 4)])
    model = Sequential([d, inner])
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    inner.layers.append(d)
    x = rng.standard_normal((2, 4)).astype(F32)
    with pytest.raises(ValueError, match=r"used twice, at '0\.Dense' and at '1\.Sequential\.1"):
        model.forward(x)  # the outer container re-checks its tree after any change
    with pytest.raises(StaleArenaError, match=r"the same Dense instance is at '0\.Dense'"):
        opt.step()
    with pytest.raises(ValueError, match=r"the same Dense instance is at '0\.Dense'"):
        model.parameters()


# ---------------------------------------------------------------------------------------------
# 2. the structure changed after the arena was built
# ---------------------------------------------------------------------------------------------
STALE = r"the model changed after this arena \(and any optimizer, clip or monitor created from it"


def test_replaced_head_old_optimizer_raises_new_arena_trains_it(rng):
    X, y = _data(rng)
    model = _mlp()
    opt = gc.optim.Adam(model.parameters(), lr=1e-2)
    _grad_step(model, X, y)
    opt.step()
    body = model.layers[0].params["W"].copy()
    model.layers[-1] = Dense(8, 5, "linear", seed=7)  # transfer learning: a new head
    head0 = model.layers[-1].params["W"].copy()
    with pytest.raises(StaleArenaError, match=STALE + r".*create a new optimizer"):
        opt.step()
    arena = model.parameters()
    assert "2.Dense.W" in arena.names and arena["2.Dense.W"].shape == (8, 5)
    np.testing.assert_array_equal(model.layers[0].params["W"], body)  # values kept
    opt = gc.optim.Adam(arena, lr=1e-2)
    _grad_step(model, X, y % 5)
    opt.step()
    assert not np.array_equal(model.layers[-1].params["W"], head0)  # the new head is trained
    assert model.layers[-1].params["W"].base is arena.data


def test_appended_layer_old_optimizer_raises(rng):
    model = _mlp()
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    model.layers.append(Dense(3, 3, "linear"))
    with pytest.raises(RuntimeError, match=STALE + r".*layer added, removed or replaced"):
        opt.step()
    with pytest.raises(RuntimeError, match=STALE):
        gc.optim.clip_grad_norm(opt.params, 1.0)  # a clip bound to the old arena too
    assert len(model.parameters()) == 8


def test_fit_after_a_head_swap_trains_the_new_head(rng):
    X, y = _data(rng)
    model = _mlp()
    model.fit(X, y, epochs=1, batch_size=16, verbose=False)
    model.layers[-1] = Dense(8, 3, "linear", seed=9)
    head0 = model.layers[-1].params["W"].copy()
    model.fit(X, y, epochs=1, batch_size=16, verbose=False)
    assert not np.array_equal(model.layers[-1].params["W"], head0)


def test_fit_with_an_optimizer_created_before_the_change_raises(rng):
    X, y = _data(rng)
    model = _mlp()
    opt = gc.optim.Adam(model.parameters())
    model.layers.append(Dense(3, 3, "linear"))
    with pytest.raises(RuntimeError, match=STALE):
        model.fit(X, y, optimizer=opt, epochs=1, verbose=False)


def test_a_loaded_model_changed_afterwards_is_trained_whole(rng, tmp_path):
    X, y = _data(rng)
    path = gc.save(tmp_path / "m.npz", _mlp())
    model = gc.load(path).model  # builds the arena
    model.layers.append(Dense(3, 3, "linear", seed=3))
    new0 = model.layers[-1].params["W"].copy()
    model.fit(X, y, epochs=1, batch_size=16, verbose=False)
    assert not np.array_equal(model.layers[-1].params["W"], new0)


def test_a_residual_block_replaced_is_seen():
    model = Sequential([Dense(4, 4), Residual(Dense(4, 4))])
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    model.layers[1].block = Dense(4, 4)
    with pytest.raises(RuntimeError, match=STALE):
        opt.step()


def test_a_new_params_key_is_seen():
    model = _mlp()
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    layer = model.layers[1]
    layer.grads["extra"] = np.zeros(3, F32)
    layer.params["extra"] = np.ones(3, F32)
    with pytest.raises(RuntimeError, match=STALE + r".*params entry added"):
        opt.step()
    assert "1.Dense.extra" in model.parameters().names


def test_a_replaced_parameter_array_is_adopted_by_a_new_arena():
    model = _mlp()
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    model.layers[0].params["W"] = np.full((4, 8), 0.5, F32)
    with pytest.raises(RuntimeError, match=r"replaced by an array outside the model's arena"):
        opt.step()
    arena = model.parameters()
    np.testing.assert_array_equal(arena.param("0.Dense.W"), 0.5)
    arena.check_bound()


def test_zero_grad_after_a_change_zeroes_the_new_layer(rng):
    X, y = _data(rng)
    model = _mlp()
    model.parameters()
    model.layers.append(Dense(3, 3, "linear"))
    _grad_step(model, X, y)
    assert np.any(model.layers[-1].grads["W"] != 0)
    model.zero_grad()
    assert not np.any(model.layers[-1].grads["W"])


def test_an_unchanged_model_keeps_its_arena():
    model = _mlp()
    arena = model.parameters()
    Sequential([Dense(2, 2)])  # another model's construction changes nothing here
    model.layers[0].params["W"][...] = 1.0  # in place: fine
    assert model.parameters() is arena
    arena.check_bound()
    model.layers.append(Activation("tanh"))  # no parameters: the layout is the same
    assert model.parameters() is arena


# ---------------------------------------------------------------------------------------------
# 3. outputs edited in place before backward
# ---------------------------------------------------------------------------------------------
def _cases():
    return [
        ("Dense-relu", lambda: Dense(4, 3, "relu"), (5, 4)),
        ("Dense-sigmoid", lambda: Dense(4, 3, "sigmoid"), (5, 4)),
        ("Dense-tanh", lambda: Dense(4, 3, "tanh"), (5, 4)),
        ("Dense-linear", lambda: Dense(4, 3, "linear"), (5, 4)),
        ("Activation-sigmoid", lambda: Activation("sigmoid"), (5, 4)),
        ("Activation-tanh", lambda: Activation("tanh"), (5, 4)),
        ("Activation-relu", lambda: Activation("relu"), (5, 4)),
        ("BatchNorm", lambda: BatchNorm(4), (5, 4)),
        ("LayerNorm", lambda: LayerNorm(4), (5, 4)),
        ("LSTM-seq", lambda: LSTM(4, 3), (5, 2, 4)),
        ("LSTM-last", lambda: LSTM(4, 3, return_sequences=False), (5, 2, 4)),
        ("Dropout", lambda: Dropout(0.5, seed=0), (5, 4)),
        ("Residual", lambda: Residual(Dense(4, 4, "tanh")), (5, 4)),
        ("Sequential", lambda: Sequential([Dense(4, 4), Activation("sigmoid")]), (5, 4)),
    ]


@pytest.mark.parametrize(("make", "shape"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()])
def test_training_output_is_read_only(make, shape, rng):
    layer = make()
    x = rng.standard_normal(shape).astype(F32)
    y = layer.forward(x, training=True)
    with pytest.raises(ValueError, match="read-only"):
        y *= 2  # would silently change the gradient
    dy = rng.standard_normal(y.shape).astype(F32)
    dx = layer.backward(dy)
    # a copy is the user's, and the gradient is that of the untouched output
    z = y.copy()
    z *= 2
    ref = make()
    for (_, a), (_, b) in zip(ref.named_layers(), layer.named_layers(), strict=True):
        for k in a.params:
            a.params[k][...] = b.params[k]
    if isinstance(layer, Dropout):
        ref.rng = np.random.default_rng(0)
    ref.forward(x, training=True)
    np.testing.assert_array_equal(ref.backward(dy), dx)


def test_lstm_final_states_are_read_only_in_training(rng):
    layer = LSTM(4, 3)
    layer.forward(rng.standard_normal((2, 3, 4)).astype(F32))
    for state in (layer.hT, layer.cT):  # views of the saved sequences backward reads
        with pytest.raises(ValueError, match="read-only"):
            state[...] = 0


def test_saved_intermediates_handed_out_are_read_only(rng):
    """Dense.preactivation and LSTM.gates are what backward reads: views, read-only."""
    dense = Dense(4, 3, "tanh")
    dense.forward(rng.standard_normal((2, 4)).astype(F32))
    lstm = LSTM(4, 3)
    lstm.forward(rng.standard_normal((2, 3, 4)).astype(F32))
    for saved in (dense.preactivation, lstm.gates):
        with pytest.raises(ValueError, match="read-only"):
            saved[...] = 0


@pytest.mark.parametrize(("make", "shape"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()])
def test_evaluation_output_is_writeable(make, shape, rng):
    y = make().forward(rng.standard_normal(shape).astype(F32), training=False)
    y *= 2
    assert y.flags.writeable


def test_sigmoid_output_edited_in_place_would_have_changed_dx(rng):
    """The issue's example: y = model.forward(x); y *= 2; model.backward(dy)."""
    model = Sequential([Dense(4, 4, "sigmoid")])
    x = rng.standard_normal((3, 4)).astype(F32)
    y = model.forward(x)
    with pytest.raises(ValueError, match="read-only"):
        y *= 2
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        y[0] = 0


def test_predict_output_is_the_callers(rng):
    out = _mlp().predict(rng.standard_normal((7, 4)).astype(F32))
    out *= 2
    assert out.flags.writeable


def test_read_only_and_non_contiguous_inputs_give_the_same_result(rng):
    model = _mlp()
    x = rng.standard_normal((6, 8)).astype(F32)[:, ::2]  # non-contiguous
    ro = np.ascontiguousarray(x)
    ro.flags.writeable = False
    want = model.forward(np.ascontiguousarray(x), training=False)
    np.testing.assert_array_equal(model.forward(x, training=False), want)
    np.testing.assert_array_equal(model.forward(ro, training=False), want)


def test_activation_keeps_a_0d_input_0d():
    a = Activation("tanh")
    y = a.forward(np.full((), 0.5, F32))
    assert y.shape == ()  # was (1,): check_array made it 1-D
    assert a.backward(np.ones((), F32)).shape == ()
    np.testing.assert_allclose(y, np.tanh(F32(0.5)), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# 4. the checkpoint registry, container and freeze arguments
# ---------------------------------------------------------------------------------------------
def test_a_user_class_with_a_builtin_name_is_refused():
    with pytest.raises(TypeError, match=r"layer class named 'Dense' is already registered"):

        class Dense(nn.Layer):
            pass

    assert nn.LAYER_TYPES["Dense"] is gc.nn.Dense


def test_replace_and_register_false_are_explicit():
    original = nn.LAYER_TYPES["Dropout"]
    try:

        class Dropout(nn.Layer, replace=True):
            pass

        assert nn.LAYER_TYPES["Dropout"] is Dropout
    finally:
        nn.LAYER_TYPES["Dropout"] = original

    class LayerNorm(nn.Layer, register=False):
        pass

    assert nn.LAYER_TYPES["LayerNorm"] is gc.nn.LayerNorm


def test_the_same_class_defined_again_replaces_itself():
    def define():
        class Misuse11Custom(nn.Layer):
            pass

        return Misuse11Custom

    first, second = define(), define()
    assert nn.LAYER_TYPES["Misuse11Custom"] is second is not first
    del nn.LAYER_TYPES["Misuse11Custom"]


@pytest.mark.parametrize(
    ("args", "err", "msg"),
    [
        (
            (Dense(2, 2),),
            TypeError,
            r"Sequential: layers must be an iterable.*Sequential\(\[layer\]\)",
        ),
        ((5,), TypeError, r"Sequential: layers must be an iterable of gradcore layers, got int"),
        (([],), ValueError, r"Sequential: layers must hold at least one layer"),
        ((iter([]),), ValueError, r"Sequential: layers must hold at least one layer"),
        (([Dense(2, 2), "relu"],), TypeError, r"Sequential: layers\[1\] must be a gradcore layer"),
        (
            ([Dense(2, 2), Dense(2, 2, dtype=np.float64)],),
            TypeError,
            r"Sequential: all layers must share one dtype.*layers\[1\]",
        ),
    ],
)
def test_sequential_arguments(args, err, msg):
    with pytest.raises(err, match=msg):
        Sequential(*args)


def test_sequential_takes_a_generator_and_a_tuple():
    assert len(Sequential(Dense(2, 2) for _ in range(3))) == 3
    assert len(Sequential((Dense(2, 2), Activation("tanh")))) == 2


def test_residual_arguments():
    with pytest.raises(TypeError, match=r"Residual: block must be a gradcore layer.*got str"):
        Residual("dense")
    r = Residual(Dense(2, 2))
    with pytest.raises(TypeError, match=r"Residual: block must have the dtype"):
        r.block = Dense(2, 2, dtype=np.float64)


def test_layer_list_mutations_check_types_dtypes_and_emptiness():
    model = _mlp()
    with pytest.raises(TypeError, match=r"layers\[3\] must be a gradcore layer"):
        model.layers.append("relu")
    with pytest.raises(TypeError, match=r"share one dtype"):
        model.layers.append(Dense(3, 3, dtype=np.float64))
    with pytest.raises(ValueError, match=r"at least one layer"):
        model.layers.clear()
    assert len(model) == 3
    del model.layers[2]  # a valid change
    assert len(model) == 2 and "2.Dense.W" not in model.parameters().names


def test_freeze_names_are_checked():
    d = Dense(2, 2)
    with pytest.raises(TypeError, match=r"Dense\.freeze: names\[0\] must be a parameter name"):
        d.freeze(0)
    with pytest.raises(ValueError, match=r"Dense\.unfreeze: names must be .*'W', 'b'.*got 'w'"):
        d.unfreeze("w")
    with pytest.raises(ValueError, match=r"Sequential\.freeze: .*none of its own"):
        Sequential([d]).freeze("W")
    d.freeze(np.str_("W"))  # a NumPy string is a str
    assert d.frozen == {"W"}
