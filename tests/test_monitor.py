"""The gradient monitor: it observes without changing the math, records what an independent
computation gives, stays bounded, and its diagnosis is right in both directions (each classic
failure found with its cause; no critical finding on healthy models), on every backend."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore.monitor import GradientMonitor, Thresholds

pytestmark = pytest.mark.usefixtures("each_backend")


def normal(std):
    def init(shape, rng, dtype):
        return rng.normal(0.0, std, size=shape).astype(dtype)

    return init


@pytest.fixture(scope="module")
def spirals():
    X, y = gc.data.spirals(n_per_class=100, seed=0)
    return X.astype(np.float32), y


def mlp(kind, depth=8, width=32, dtype=np.float32, d_in=2, classes=3):
    layers, d = [], d_in
    for i in range(depth):
        if kind == "sigmoid":  # the classic: sigmoid + small init
            layers.append(gc.nn.Dense(d, width, "sigmoid", init=normal(0.1), dtype=dtype, seed=i))
        elif kind == "relu":
            layers.append(gc.nn.Dense(d, width, "relu", init="he_normal", dtype=dtype, seed=i))
        elif kind == "bn":
            layers += [
                gc.nn.Dense(d, width, "linear", dtype=dtype, seed=i),
                gc.nn.BatchNorm(width, dtype=dtype),
                gc.nn.Activation("relu", dtype=dtype),
            ]
        elif kind == "linear":  # deep linear, large init: gain 3 per layer
            layers.append(
                gc.nn.Dense(d, width, "linear", init=normal(3 / math.sqrt(d)), dtype=dtype, seed=i)
            )
        elif kind == "dead":  # ReLU with a strongly negative bias
            layer = gc.nn.Dense(d, width, "relu", init="he_normal", dtype=dtype, seed=i)
            layer.params["b"][...] = -3.0
            layers.append(layer)
        d = width
    layers.append(gc.nn.Dense(d, classes, "linear", init="xavier_normal", dtype=dtype, seed=99))
    return gc.nn.Sequential(layers)


def train(model, X, y, opt=None, epochs=2, every=1, **kw):
    mon = GradientMonitor(model, every=every)
    opt = opt or gc.optim.Adam(model.parameters(), lr=1e-3)
    model.fit(
        X, y, optimizer=opt, epochs=epochs, batch_size=32, callbacks=[mon], verbose=False, **kw
    )
    return mon, mon.diagnose()


# ------------------------------------------------------------------ it only observes


def _bits(model):
    return model.parameters().data.copy(), {k: v.copy() for k, v in model.buffers.items()}


@pytest.mark.parametrize("every", [1, 3])
def test_training_with_and_without_the_monitor_is_bit_identical(spirals, every):
    X, y = spirals

    def build():
        return gc.nn.Sequential(
            [
                gc.nn.Dense(2, 16, "tanh", seed=0),
                gc.nn.Dropout(0.2, seed=1),
                gc.nn.Residual(
                    gc.nn.Sequential([gc.nn.Dense(16, 16, "relu", seed=2), gc.nn.BatchNorm(16)])
                ),
                gc.nn.Dense(16, 3, "linear", seed=3),
            ]
        )

    results = []
    for monitored in (False, True):
        model = build()
        opt = gc.optim.Adam(model.parameters(), lr=1e-2)
        cbs = [GradientMonitor(model, every=every)] if monitored else []
        model.fit(
            X,
            y,
            optimizer=opt,
            epochs=2,
            batch_size=32,
            clip=1.0,
            callbacks=cbs,
            validation_data=(X[:50], y[:50]),
            verbose=False,
        )
        results.append(_bits(model))
    (d0, b0), (d1, b1) = results
    assert d0.tobytes() == d1.tobytes()
    assert all(b0[k].tobytes() == b1[k].tobytes() for k in b0)


# ------------------------------------------------------------------ what it records


def test_recorded_numbers_equal_an_independent_computation(rng):
    dt = np.float64

    def build():
        m = gc.nn.Sequential(
            [
                gc.nn.Dense(5, 7, "sigmoid", dtype=dt, seed=0),
                gc.nn.Dense(7, 6, "relu", dtype=dt, seed=1),
                gc.nn.Activation("tanh", dtype=dt),
                gc.nn.Dense(6, 3, "linear", dtype=dt, seed=2),
            ]
        )
        m.layers[1].params["b"][:2] = -50.0  # two dead units
        return m

    model, twin = build(), build()  # the twin is run layer by layer, unwatched
    arena, tarena = model.parameters(), twin.parameters()
    opt = gc.optim.SGD(arena, lr=0.1, momentum=0.9)
    loss = gc.losses.SoftmaxCrossEntropy()
    mon = GradientMonitor(model, optimizer=opt)
    expect = []
    for _ in range(4):
        x = rng.normal(size=(16, 5))
        labels = rng.integers(0, 3, 16)
        tarena.data[...] = arena.data
        tarena.zero_grad()
        outs, h = [], x
        for layer in twin.layers:
            h = layer.forward(h)
            outs.append(h.copy())
        loss.forward(h, labels)
        grads_out, dy = [], loss.backward()
        for layer in reversed(twin.layers):
            grads_out.append(np.linalg.norm(dy))
            dy = layer.backward(dy)
        grads_out = grads_out[::-1]
        gin = np.linalg.norm(dy)
        gnorms = [np.linalg.norm(tarena.grad_of(n)) for n in tarena.names]
        arena.zero_grad()
        value = loss.forward(model.forward(x), labels)
        model.backward(loss.backward())
        before = arena.data.copy()
        mon.record(loss=value)
        opt.step()
        expect.append((value, outs, grads_out, gin, gnorms, before, arena.data.copy()))
    mon.finish()
    h = mon.history
    assert len(h) == 4 and list(h.steps) == [0, 1, 2, 3]
    assert h.layer_names == ["0.Dense", "1.Dense", "2.Activation", "3.Dense"]
    for r, (value, outs, gout, gin, gnorms, before, after) in enumerate(expect):
        assert h.loss[r] == value and h.lr[r] == 0.1
        np.testing.assert_allclose(h.tensor["grad_norm"][r], gnorms, rtol=1e-12)
        np.testing.assert_allclose(h.grad_norm[r], np.linalg.norm(gnorms), rtol=1e-12)
        for i, name in enumerate(arena.names):
            s = arena[name]
            np.testing.assert_allclose(
                h.tensor["update_norm"][r, i],
                np.linalg.norm(after[s.offset : s.stop] - before[s.offset : s.stop]),
                rtol=1e-10,
            )
            np.testing.assert_allclose(
                h.tensor["param_norm"][r, i], np.linalg.norm(after[s.offset : s.stop]), rtol=1e-12
            )
        L = h.layer
        for j, y in enumerate(outs):
            np.testing.assert_allclose(L["act_mean"][r, j], y.mean(), rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(L["act_std"][r, j], y.std(), rtol=1e-6)
            assert L["act_min"][r, j] == y.min() and L["act_max"][r, j] == y.max()
            np.testing.assert_allclose(L["grad_out"][r, j], gout[j], rtol=1e-12)
            assert L["zero"][r, j] == np.mean(y == 0)
        np.testing.assert_allclose(L["grad_in"][r, 0], gin, rtol=1e-12)
        np.testing.assert_allclose(L["grad_in"][r, 1:], L["grad_out"][r, :-1], rtol=0)
        sig, relu, tanh = outs[0], outs[1], outs[2]
        assert L["saturated"][r, 0] == np.mean(sig * (1 - sig) < 0.01)
        assert L["saturated"][r, 2] == np.mean(1 - tanh * tanh < 0.01)
        assert L["dead"][r, 1] == np.mean(np.all(relu == 0, axis=0))
        assert L["dead"][r, 1] >= 2 / 6
        assert math.isnan(L["dead"][r, 0]) and math.isnan(L["saturated"][r, 1])
        q = np.quantile(relu.ravel(), [0.25, 0.5, 0.75], method="nearest")
        np.testing.assert_allclose(
            [L["act_q25"][r, 1], L["act_q50"][r, 1], L["act_q75"][r, 1]], q, rtol=0.2, atol=1e-12
        )


def _fit_recurrent(layer, n=64, T=12, epochs=1, every=1):
    """``layer`` (input size 2) + a linear Dense read-out trained with a monitor on the adding
    problem (n sequences of T steps, float32); returns (model, monitor)."""
    X, y = gc.data.adding_problem(n, T, seed=0)
    H = layer.hidden_size
    model = gc.nn.Sequential([layer, gc.nn.Dense(H, 1, "linear", seed=1)])
    mon = GradientMonitor(model, every=every)
    model.fit(
        X.astype(np.float32),
        y.reshape(-1, 1).astype(np.float32),
        loss="mse",
        epochs=epochs,
        batch_size=32,
        callbacks=[mon],
        verbose=False,
    )
    return model, mon


def test_lstm_gradient_through_time_is_the_kernels():
    model, mon = _fit_recurrent(gc.nn.LSTM(2, 8, return_sequences=False, seed=0))
    lstm = model.layers[0]
    cols = mon.history.lstm["0.LSTM"]
    assert cols["dh"].shape == (2, 12)
    np.testing.assert_array_equal(cols["dh"][-1], lstm.grad_norms_through_time[0])
    np.testing.assert_array_equal(cols["dc"][-1], lstm.grad_norms_through_time[1])
    H = lstm.hidden_size
    np.testing.assert_allclose(cols["forget"][-1], lstm.gates[..., H : 2 * H].mean(), rtol=1e-6)


def test_simple_rnn_gradient_through_time_is_the_kernels():
    """A layer without gates is recorded by its public grad_norms_through_time (a 1-tuple):
    dh is the kernel's, dc and the forget gate are NaN (no cell state, no gates)."""
    model, mon = _fit_recurrent(gc.nn.SimpleRNN(2, 8, return_sequences=False, seed=0))
    rnn = model.layers[0]
    assert len(rnn.grad_norms_through_time) == 1
    cols = mon.history.lstm["0.SimpleRNN"]
    assert cols["dh"].shape == (2, 12)
    np.testing.assert_array_equal(cols["dh"][-1], rnn.grad_norms_through_time[0])
    assert np.isnan(cols["dc"]).all() and np.isnan(cols["forget"]).all()


def test_history_stays_bounded_and_spans_the_run(spirals):
    X, y = spirals
    model = mlp("relu", depth=2, width=8)
    mon = GradientMonitor(model, every=1, max_records=8)
    model.fit(X, y, epochs=3, batch_size=8, callbacks=[mon], verbose=False)  # 114 steps
    h = mon.history
    assert 4 <= len(h) <= 8
    assert h.stride in (16, 32) and np.all(h.steps % h.stride == 0)
    assert h.steps[0] == 0 and h.steps[-1] >= 113 - h.stride
    assert h.tensor["grad_norm"].shape == (len(h), len(model.parameters()))


@settings(max_examples=25, deadline=None)
@given(max_records=st.integers(2, 40), every=st.integers(1, 7), steps=st.integers(1, 400))
def test_downsampling_rule_keeps_the_whole_run_at_uniform_spacing(max_records, every, steps):
    # the rule of GradientHistory, driven by record() alone (no model work per step)
    model = mlp("relu", depth=1, width=4)
    mon = GradientMonitor(model, every=every, max_records=max_records)
    model.parameters().grad[...] = 1.0
    for _ in range(steps):
        mon.record(loss=1.0)
    h = mon.history
    assert 1 <= len(h) <= max_records
    assert h.stride % every == 0 and (h.stride // every) & (h.stride // every - 1) == 0
    assert np.all(h.steps % h.stride == 0) and np.all(np.diff(h.steps) == h.stride)
    assert h.steps[0] == 0 and h.steps[-1] > steps - 1 - h.stride  # the run's end is covered
    if len(h) < max_records // 2:  # only short runs leave the buffer less than half full
        assert h.steps[-1] + h.stride >= steps


def test_every_n_records_every_nth_step_and_nothing_between(spirals):
    X, y = spirals
    model = mlp("relu", depth=2, width=8)
    mon = GradientMonitor(model, every=5)
    model.fit(X, y, epochs=1, batch_size=32, callbacks=[mon], verbose=False)  # 10 steps
    assert list(mon.history.steps) == [0, 5]
    assert np.isfinite(mon.history.update_ratio()).all()


# ------------------------------------------------------------------ the diagnosis: failures


def test_vanishing_deep_sigmoid_small_init(spirals):
    X, y = spirals
    _, d = train(mlp("sigmoid", depth=10), X, y)
    assert d.status == "critical"
    (f,) = d.by_kind("vanishing")
    assert f.severity == "critical"
    assert "0.Dense" in f.layers and "10.Dense" not in f.layers
    assert f.evidence["first/last ratio"] < 1e-3
    assert "gain" in f.cause and "sigmoid" in f.cause
    assert "Adam rescales" in f.cause  # the healthy-looking update ratio is explained
    assert 'activation="relu"' in f.remedies[0]
    assert any("lsuv" in r for r in f.remedies) and any("BatchNorm" in r for r in f.remedies)


def test_deep_sigmoid_stalls_at_chance_and_says_why(spirals):
    X, y = spirals
    _, d = train(mlp("sigmoid", depth=8), X, y, epochs=4)
    (f,) = d.by_kind("stalled")
    assert f.evidence["last accuracy"] < 0.37  # 3 classes
    assert "vanishing" in f.cause and 'activation="relu"' in f.remedies[0]


def test_exploding_deep_linear_large_init(spirals):
    X, y = spirals
    _, d = train(mlp("linear", depth=10), X, y)
    (f,) = d.by_kind("exploding")
    assert f.severity == "critical"
    assert f.evidence["largest layer grad norm"] > 100
    assert "gain" in f.cause and "clip" in f.remedies[0]
    assert not d.by_kind("vanishing")


def test_thresholds_are_configurable(spirals):
    X, y = spirals
    mon, d = train(mlp("linear", depth=6), X, y, epochs=1)
    assert d.by_kind("exploding")
    lax = Thresholds(
        exploding=1e30,
        ratio_exploding=1e30,
        update_high=1e30,
        update_critical=1e30,
        loss_diverge=1e30,
        loss_oscillation=1.1,
    )
    assert not mon.diagnose(lax).by_kind("exploding")
    strict = gc.monitor.diagnose(mon.history, mon.model, Thresholds(min_records=10**6))
    assert not strict.by_kind("unstable_loss") and not strict.by_kind("stalled")


def test_dying_relu_negative_bias(spirals):
    X, y = spirals
    _, d = train(mlp("dead", depth=4), X, y)
    (f,) = d.by_kind("dying_relu")
    assert f.severity == "critical"
    assert f.layers == ["0.Dense", "1.Dense", "2.Dense", "3.Dense"]
    assert "negative bias" in f.cause and "leaky_relu" in f.remedies[0]


def test_far_too_large_sgd_learning_rate(spirals):
    X, y = spirals
    model = mlp("relu", depth=3)
    _, d = train(model, X, y, opt=gc.optim.SGD(model.parameters(), lr=5.0), stop_on_nonfinite=False)
    assert d.status == "critical"
    ur = d.by_kind("update_ratio")
    assert ur and ur[0].severity == "critical" and "learning rate" in ur[0].cause
    assert "opt.lr" in ur[0].remedies[0]


def test_too_large_sgd_learning_rate_makes_the_loss_unstable(spirals):
    X, y = spirals
    model = mlp("relu", depth=3)
    _, d = train(model, X, y, opt=gc.optim.SGD(model.parameters(), lr=1.0), epochs=4)
    kinds = d.kinds
    assert "unstable_loss" in kinds or "update_ratio" in kinds
    assert d.status != "healthy"


class Poison(gc.nn.Layer):
    """Identity until its ``at``-th forward call, then NaN in one element."""

    def __init__(self, at, dtype=np.float32):
        super().__init__(dtype)
        self.at, self.calls = at, 0

    def forward(self, x, training=True):
        self.calls += 1
        y = x.copy()
        if self.calls > self.at:
            y[0, 0] = np.nan
        return y

    def backward(self, dy, *, input_grad=True):
        return dy.copy()


@pytest.mark.parametrize("every", [1, 4])
def test_nan_injected_mid_training_is_located(spirals, every):
    X, y = spirals
    model = gc.nn.Sequential(
        [
            gc.nn.Dense(2, 16, "relu", seed=0),
            gc.nn.Dense(16, 16, "tanh", seed=1),
            Poison(at=6),
            gc.nn.Dense(16, 3, "linear", seed=2),
        ]
    )
    mon = GradientMonitor(model, every=every)
    with pytest.warns(RuntimeWarning, match="non-finite"):
        model.fit(X, y, epochs=2, batch_size=32, callbacks=[mon], verbose=False)
    d = mon.diagnose()
    (f,) = d.by_kind("nonfinite")
    assert f.severity == "critical" and f.layers == ["2.Poison"] and f.steps == [6]
    assert f.evidence["where"] == "forward" and "2.Poison" in f.evidence["first non-finite"]
    # what fit's TerminateOnNonFinite found is folded in, and agrees
    assert "output of layer 2 (Poison)" in f.evidence["fit (TerminateOnNonFinite)"]
    assert 6 in mon.history.steps  # the step is recorded even between strides


def test_nan_in_a_parameter_is_located():
    model = mlp("relu", depth=2, width=8)
    arena = model.parameters()
    mon = GradientMonitor(model)
    loss = gc.losses.SoftmaxCrossEntropy()
    x = np.ones((4, 2), np.float32)
    model.layers[1].params["W"][0, 0] = np.inf
    value = loss.forward(model.forward(x), np.zeros(4, np.int64))
    model.backward(loss.backward())
    mon.record(loss=value)
    ev = mon.history.first_nonfinite
    assert ev["where"] == "parameter" and ev["tensor"] == "1.Dense.W"
    assert arena is model.parameters()


def test_long_range_vanishing_lstm_with_a_closed_forget_gate():
    X, y = gc.data.adding_problem(128, 40, seed=0)
    X, y = X.astype(np.float32), y.reshape(-1, 1).astype(np.float32)
    results = {}
    for fb in (-5.0, 1.0):
        model = gc.nn.Sequential(
            [
                gc.nn.LSTM(2, 16, return_sequences=False, seed=0, forget_bias=fb),
                gc.nn.Dense(16, 1, "linear", seed=1),
            ]
        )
        mon = GradientMonitor(model, every=2)
        model.fit(X, y, loss="mse", epochs=2, batch_size=32, callbacks=[mon], verbose=False)
        results[fb] = mon.diagnose()
    (f,) = results[-5.0].by_kind("long_range_vanishing")
    assert f.severity == "critical" and f.layers == ["0.LSTM"]
    assert f.evidence["forget gate mean"] < 0.05 and "forget gate near 0" in f.cause
    assert "forget_bias" in f.remedies[0]
    assert not results[1.0].critical(), str(results[1.0])


def test_long_range_vanishing_simple_rnn_on_the_adding_problem():
    """A plain tanh RNN on the adding problem at T = 50: after 8 epochs the gradient reaching
    the first step is ~1e-4 of the largest (median over the records; 3e-3 at init): the
    through-time finding, with the RNN's cause and an LSTM as the remedy. At T = 5 the ratio
    stays ~0.5: none. (Thresholds of findings.py: 1e-3 warning, 1e-6 critical.)"""
    results = {}
    for T in (50, 5):
        rnn = gc.nn.SimpleRNN(2, 16, return_sequences=False, seed=0)
        _, mon = _fit_recurrent(rnn, n=256, T=T, epochs=8, every=2)
        results[T] = mon.diagnose()
    (f,) = results[50].by_kind("long_range_vanishing")
    assert f.layers == ["0.SimpleRNN"] and f.evidence["T"] == 50
    assert f.evidence["||dL/dh_0|| / max_t ||dL/dh_t||"] < 1e-3
    assert "forget" not in f.cause and "gc.nn.LSTM(" in f.remedies[0]
    assert not results[5].by_kind("long_range_vanishing"), str(results[5])


# ------------------------------------------------------------------ healthy controls


@pytest.mark.parametrize("kind", ["relu", "bn"])
def test_healthy_models_raise_no_alarm(spirals, kind):
    X, y = spirals
    _, d = train(mlp(kind, depth=8), X, y, epochs=3)
    assert not d.critical(), str(d)
    assert d.status == "healthy", str(d)


@pytest.mark.parametrize("depth", [2, 8, 12])
@pytest.mark.parametrize("width", [32, 128])
@pytest.mark.parametrize("kind", ["relu", "bn"])
def test_no_critical_finding_on_healthy_nets_at_init(spirals, depth, width, kind):
    X, y = spirals
    d = gc.monitor.check(mlp(kind, depth=depth, width=width), X[:256], y[:256])
    assert not d.critical(), str(d)


@pytest.mark.parametrize("depth", [6, 12])
@pytest.mark.parametrize("width", [16, 128])
def test_deep_sigmoid_small_init_vanishes_at_any_width(spirals, depth, width):
    X, y = spirals
    d = gc.monitor.check(mlp("sigmoid", depth=depth, width=width), X[:256], y[:256])
    (f,) = d.by_kind("vanishing")
    assert f.severity == "critical" and f.layers[0] == "0.Dense"


def test_a_converged_model_with_noisy_minibatch_losses_raises_no_alarm(spirals):
    # the README tour: train, then keep training under the monitor; the batch-32 loss jumps by
    # half its level at many steps (noise, not instability) and no longer improves (converged)
    X, y = spirals
    model = mlp("bn", depth=2, width=64)
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    model.fit(X, y, optimizer=opt, epochs=30, batch_size=32, verbose=False)
    _, d = train(model, X, y, opt=opt, epochs=5)
    assert d.status == "healthy", str(d)
    assert all(f.severity == "info" for f in d.findings)


def test_healthy_residual_net_raises_no_alarm(spirals):
    X, y = spirals
    blocks = [gc.nn.Dense(2, 32, "relu", seed=0)]
    for i in range(6):
        blocks.append(
            gc.nn.Residual(
                gc.nn.Sequential(
                    [
                        gc.nn.Dense(32, 32, "relu", seed=10 + i),
                        gc.nn.Dense(32, 32, "linear", init=normal(0.02), seed=20 + i),
                    ]
                )
            )
        )
    blocks.append(gc.nn.Dense(32, 3, "linear", seed=99))
    mon, d = train(gc.nn.Sequential(blocks), X, y, epochs=3)
    assert d.status == "healthy", str(d)
    assert "1.Residual.Sequential.0.Dense" in mon.history.layer_names


# ------------------------------------------------------------------ check(), report, errors


def test_check_diagnoses_one_batch_and_leaves_the_model_as_it_was(spirals):
    X, y = spirals
    model = gc.nn.Sequential(
        [
            *mlp("sigmoid", depth=8).layers[:-1],
            gc.nn.Dropout(0.1, seed=3),
            gc.nn.BatchNorm(32),
            gc.nn.Dense(32, 3, "linear", seed=5),
        ]
    )
    arena = model.parameters()
    arena.grad[...] = 0.5
    before = (
        arena.data.copy(),
        arena.grad.copy(),
        {k: v.copy() for k, v in model.buffers.items()},
        model.layers[8].get_state(),
    )
    d = gc.monitor.check(model, X[:128], y[:128])
    assert d.by_kind("vanishing") and d.status == "critical"
    assert np.isfinite(d.layers[0].gain)  # check computes the input gradient too
    assert len(d.history) == 1 and d.history.layer_names[0] == "0.Dense"  # plottable
    assert arena.data.tobytes() == before[0].tobytes()
    assert arena.grad.tobytes() == before[1].tobytes()
    assert all(v.tobytes() == before[2][k].tobytes() for k, v in model.buffers.items())
    assert model.layers[8].get_state() == before[3]
    assert getattr(model, "_probe", None) is None
    healthy = gc.monitor.check(mlp("relu"), X[:128], y[:128])
    assert healthy.status == "healthy", str(healthy)


def test_report_text_and_dict(spirals):
    X, y = spirals
    _, d = train(mlp("sigmoid", depth=6), X, y, epochs=1)
    text = str(d)
    assert text.startswith("gradcore health report: CRITICAL")
    assert "0.Dense" in text and "[critical] vanishing" in text and "remedy 1:" in text
    json.dumps(d.to_dict(), allow_nan=False)
    b = d.brief()
    json.dumps(b, allow_nan=False)
    assert b["status"] == "critical" and b["critical"] == ["vanishing"]
    assert b["first_grad_norm"] < 1e-4 < b["last_grad_norm"] and "0.Dense" in b["gain"]


def test_float64_and_frozen_tensors(spirals):
    X, y = spirals
    model = mlp("relu", depth=3, dtype=np.float64)
    model.layers[0].freeze("W")
    mon, d = train(model, X, y, epochs=1)
    h = mon.history
    i = h.tensor_names.index("0.Dense.W")
    assert np.isnan(h.tensor["grad_norm"][:, i]).all()
    assert (h.tensor["update_norm"][:-1, i] == 0).all()
    assert not d.critical()


def test_a_single_layer_model_is_monitored_through_its_tensors(spirals):
    X, y = spirals
    model = gc.nn.Dense(2, 3, "linear", seed=0)  # no container: no probe, the arena still works
    mon, d = train(model, X, y, epochs=2)
    assert mon.history.layer_names == [] and len(mon.history) == 20
    assert np.isfinite(mon.history.tensor["grad_norm"]).all()
    assert "(model)" in str(d)  # the root's empty path is printed readably
    assert gc.monitor.check(model, X, y).status == "healthy"


def test_bad_arguments_raise_clear_errors():
    model = mlp("relu", depth=1, width=4)
    with pytest.raises(ValueError, match="every"):
        GradientMonitor(model, every=0)
    with pytest.raises(ValueError, match="max_records"):
        GradientMonitor(model, max_records=1)
    with pytest.raises(TypeError, match="thresholds"):
        GradientMonitor(model, thresholds={"weak": 1})
    with pytest.raises(ValueError, match="weak"):
        Thresholds(weak=-1.0)
    with pytest.raises(TypeError, match="model"):
        GradientMonitor(object())
    with pytest.raises(RuntimeError, match="nothing recorded"):
        GradientMonitor(model).diagnose()
    with pytest.raises(TypeError, match="integer class labels"):
        gc.monitor.check(model, np.ones((4, 2)), np.ones(4))


def test_probe_detaches():
    model = mlp("relu", depth=1, width=4)
    mon = GradientMonitor(model)
    assert model._probe is mon
    mon.detach()
    assert model._probe is None
