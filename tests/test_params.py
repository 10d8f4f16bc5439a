"""The flat parameter arena, freezing, layer configs and LSUV."""

import json

import numpy as np
import pytest

import gradcore as gc

nn = gc.nn
F64 = np.float64


def small_model(dtype=F64):
    return nn.Sequential(
        [
            nn.Dense(3, 4, "tanh", dtype=dtype, seed=0),
            nn.Residual(
                nn.Sequential([nn.Dense(4, 4, dtype=dtype, seed=1), nn.BatchNorm(4, dtype=dtype)])
            ),
            nn.Dense(4, 2, "linear", dtype=dtype, seed=2),
        ]
    )


def test_arena_is_flat_views_with_named_segments(rng):
    model = small_model()
    before = {k: v.copy() for k, v in model.params.items()}
    arena = model.parameters()
    assert arena is model.parameters()  # built once
    assert arena.names == list(before)
    assert arena.size == sum(v.size for v in before.values()) == model.num_params
    for s in arena:
        p, g = model.params[s.name], model.grads[s.name]  # the layers' own dict entries
        np.testing.assert_array_equal(p, before[s.name])  # values carried over
        assert p.base is arena.data and g.base is arena.grad
        assert np.shares_memory(p, arena.data[s.offset : s.stop])
    np.testing.assert_array_equal(arena.offsets[1:] - arena.offsets[:-1], [s.size for s in arena])
    assert arena["2.Dense.W"].shape == (4, 2)
    with pytest.raises(KeyError, match=r"no parameter '9.Dense.W'"):
        arena["9.Dense.W"]
    # training writes through the views into the flat gradient buffer
    x = rng.normal(size=(5, 3))
    model.forward(x)
    model.backward(rng.normal(size=(5, 2)))
    assert arena.grad.any()
    np.testing.assert_array_equal(arena.grad_of("0.Dense.W"), model.layers[0].grads["W"])
    model.zero_grad()
    assert not arena.grad.any()
    assert "total" in arena.summary() and "2.Dense.b" in arena.summary()


def test_arena_model_still_passes_gradcheck(rng):
    model = small_model()
    model.parameters()
    res = gc.gradcheck(model, rng.normal(size=(6, 3)))
    assert res.ok, res.report()
    model.parameters().check_bound()  # gradcheck restored values in place


def test_freeze_and_trainable_runs():
    model = small_model()
    arena = model.parameters()
    assert arena.trainable_runs() == [(0, arena.size)]
    model.layers[1].freeze()  # a whole residual block
    runs = arena.trainable_runs()
    assert runs == [(0, arena["0.Dense.b"].stop), (arena["2.Dense.W"].offset, arena.size)]
    assert list(arena.trainable) == [True, True, False, False, False, False, True, True]
    model.layers[0].freeze("b")
    assert arena.trainable_runs()[0] == (0, arena["0.Dense.W"].stop)
    model.unfreeze()
    assert arena.trainable_runs() == [(0, arena.size)]
    with pytest.raises(ValueError, match=r"Dense\.freeze: names must be .*'W', 'b'.*got 'gamma'"):
        model.layers[0].freeze("gamma")


def test_replaced_parameter_is_detected():
    model = small_model()
    arena = model.parameters()
    model.layers[0].params["W"] = np.zeros((3, 4))
    with pytest.raises(RuntimeError, match="outside the model's arena"):
        arena.check_bound()


def test_mixed_dtypes_rejected():
    class Two(nn.Layer):
        def __init__(self):
            super().__init__(F64)
            self._add_param("a", np.zeros(2))
            self.params["b"] = np.zeros(2, np.float32)
            self.grads["b"] = np.zeros(2, np.float32)

    with pytest.raises(TypeError, match="one dtype"):
        Two().parameters()


def test_config_round_trip_rebuilds_same_function(rng):
    model = nn.Sequential(
        [
            nn.Dense(3, 5, "gelu", dtype=F64, seed=0),
            nn.LayerNorm(5, dtype=F64),
            nn.Dropout(0.2, dtype=F64),
            nn.Residual(nn.Dense(5, 5, dtype=F64)),
            nn.Activation("elu", dtype=F64),
            nn.Dense(5, 1, "sigmoid", dtype=F64),
        ]
    )
    cfg = json.loads(json.dumps(model.get_config()))  # JSON-able
    clone = nn.layer_from_config(cfg)
    assert repr(clone) == repr(model)
    clone.parameters().data[...] = model.parameters().data
    x = rng.normal(size=(4, 3))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="unknown layer class 'Evil'"):
        nn.layer_from_config({"class": "Evil", "args": {}})


def test_lsuv_gives_unit_variance_preactivations(rng):
    model = nn.Sequential(
        [
            nn.Dense(20, 64, "tanh", init=gc.init.normal, dtype=F64, seed=i)
            if i == 0
            else nn.Dense(64, 64, "tanh", dtype=F64, seed=i)
            for i in range(6)
        ]
        + [nn.BatchNorm(64, dtype=F64)]
    )
    X = rng.normal(size=(256, 20)) * 3.0
    running = model.buffers["6.BatchNorm.running_mean"].copy()
    out = gc.init.lsuv(model, X, tol=0.02, seed=0)
    assert len(out) == 6
    assert all(abs(v - 1.0) < 0.02 for v in out.values()), out
    np.testing.assert_array_equal(model.buffers["6.BatchNorm.running_mean"], running)
    model.forward(X)  # recompute: every Dense pre-activation has unit variance
    for layer in model.layers[:6]:
        assert abs(np.var(layer._cache["z"]) - 1.0) < 0.03
    again = nn.Sequential(
        [
            nn.Dense(20, 64, "tanh", dtype=F64, seed=i)
            if i == 0
            else nn.Dense(64, 64, "tanh", dtype=F64, seed=i)
            for i in range(6)
        ]
        + [nn.BatchNorm(64, dtype=F64)]
    )
    gc.init.lsuv(again, X, tol=0.02, seed=0)
    np.testing.assert_array_equal(again.parameters().data, model.parameters().data)


def test_arena_of_a_non_model_is_a_type_error():
    # (was: AttributeError 'int' object has no attribute 'named_layers'); a model itself is
    # not an entry list either: its arena comes from model.parameters()
    for bad in (3, small_model()):
        with pytest.raises(TypeError, match=r"ParameterArena: entries must be .*model\.parameters"):
            gc.params.ParameterArena(bad)


def test_an_arena_is_built_from_entries_alone():
    """params knows no layers: (name, param, grad[, requires_grad]) entries are enough."""
    w, gw = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    b, gb = np.zeros(3), np.zeros(3)
    frozen = {"b"}
    arena = gc.params.ParameterArena([("w", w, gw), ("b", b, gb, lambda: "b" not in frozen)])
    np.testing.assert_array_equal(arena.param("w"), w)
    np.testing.assert_array_equal(arena.grad_of("w"), gw)
    assert arena.trainable_runs() == [(0, 6)] and list(arena.trainable) == [True, False]
    frozen.clear()  # asked at every use
    assert arena.trainable_runs() == [(0, 9)]
    assert arena.stale() is None and arena.model is None
    with pytest.raises(ValueError, match="two entries are named 'w'"):
        gc.params.ParameterArena([("w", w, gw), ("w", b, gb)])
    with pytest.raises(ValueError, match=r"grad must have the param's shape \(2, 3\)"):
        gc.params.ParameterArena([("w", w, gb)])
    with pytest.raises(TypeError, match=r"entries\[0\] \('w'\) requires_grad must be a bool"):
        gc.params.ParameterArena([("w", w, gw, "yes")])
    with pytest.raises(ValueError, match="no parameters given"):
        gc.params.ParameterArena([])


def test_freezing_after_the_arena_is_built_reaches_it():
    """The arena asks every step: freeze(), unfreeze() and assigning layer.frozen all count."""
    model = small_model()
    arena = model.parameters()
    dense = model.layers[0]
    dense.freeze("b")
    assert not arena["0.Dense.b"].requires_grad and arena["0.Dense.W"].requires_grad
    dense.frozen = {"W"}  # replaces the contents of the same set
    assert not arena["0.Dense.W"].requires_grad and arena["0.Dense.b"].requires_grad
    dense.unfreeze()
    assert all(s.requires_grad for s in arena) and arena.trainable_runs() == [(0, arena.size)]
