"""The monitor's figures (gradcore.monitor.plots) and report folder (gradcore.monitor.report).

Small monitored runs (a vanishing sigmoid stack, a 32-layer ReLU stack with a dead layer and a
frozen one, BatchNorm, an LSTM, a one-record history) drawn by every plot function: a Figure
comes back, it draws into a given Axes, axes are log where promised, labels and legends exist,
and nothing warns (pytest turns warnings into errors).
"""

import ast
import inspect
import json
import math
import re
import sys

import numpy as np
import pytest

import gradcore as gc
from gradcore.monitor import plots
from gradcore.monitor.report import save_report

mpl = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

# The figures do not depend on the backend (tests/test_monitor.py runs the recording on every
# backend); the fixtures use the reference, which every install has.
BACKEND = "numpy"

ALL = (
    "gradient_flow",
    "gradient_heatmap",
    "histograms",
    "training_curves",
    "through_time",
    "update_ratio",
    "saturation",
)


def _normal(std):
    return lambda shape, rng, dtype: rng.normal(0, std, size=shape).astype(dtype)


def _spirals(n=192):
    X, y = gc.data.spirals(seed=0)
    return X[:n].astype(np.float32), y[:n]


def _fit(model, X, y, loss="cross_entropy", epochs=2):
    mon = gc.monitor.GradientMonitor(model, every=1)
    opt = gc.optim.Adam(model.parameters(), lr=1e-3)
    model.fit(
        X, y, optimizer=opt, epochs=epochs, batch_size=64, callbacks=[mon], loss=loss, verbose=False
    )
    return mon


@pytest.fixture(scope="module")
def runs():
    """name -> GradientMonitor, each with a finished (or hand-recorded) history."""
    out = {}
    with gc.use_backend(BACKEND):
        X, y = _spirals()
        layers, d = [], 2
        for i in range(6):
            layers.append(gc.nn.Dense(d, 16, "sigmoid", init=_normal(0.1), seed=i))
            d = 16
        layers.append(gc.nn.Dense(d, 3, "linear", seed=99))
        out["sigmoid"] = _fit(gc.nn.Sequential(layers), X, y)

        # 32 weight layers; the first layer of the Residual block is dead (all its ReLUs are 0:
        # its and the next layer's weight gradients are exactly 0, the identity path carries the
        # gradient on), layer 5 is frozen (NaN gradient norms)
        layers, d = [], 2
        for i in range(29):
            layers.append(gc.nn.Dense(d, 8, "relu", init="he_normal", seed=i))
            d = 8
        dead = gc.nn.Dense(8, 8, "relu", seed=50)
        dead.params["b"][...] = -100.0
        layers.insert(3, gc.nn.Residual(gc.nn.Sequential([dead, gc.nn.Dense(8, 8, seed=51)])))
        layers.append(gc.nn.Dense(d, 3, "linear", seed=99))
        layers[5].freeze()
        out["deep"] = _fit(gc.nn.Sequential(layers), X, y, epochs=1)

        layers = []
        for i in range(2):
            layers += [
                gc.nn.Dense(2 if i == 0 else 16, 16, "linear", seed=i),
                gc.nn.BatchNorm(16),
                gc.nn.Activation("relu"),
            ]
        layers.append(gc.nn.Dense(16, 3, "linear", seed=9))
        out["bn"] = _fit(gc.nn.Sequential(layers), X, y)

        Xs, ys = gc.data.adding_problem(64, 6, seed=0)
        lstm = gc.nn.Sequential(
            [gc.nn.LSTM(2, 8, return_sequences=False), gc.nn.Dense(8, 1, "linear")]
        )
        out["lstm"] = _fit(lstm, Xs.astype(np.float32), ys.astype(np.float32), "mse", epochs=2)

        # one record by hand (as gc.monitor.check makes it): an LSTM and a tanh layer
        model = gc.nn.Sequential(
            [
                gc.nn.LSTM(2, 8, return_sequences=False),
                gc.nn.Dense(8, 8, "tanh", seed=0),
                gc.nn.Dense(8, 1, "linear", seed=1),
            ]
        )
        mon = gc.monitor.GradientMonitor(model)
        loss = gc.losses.get("mse")
        model.zero_grad()
        value = loss.forward(model.forward(Xs.astype(np.float32), training=True), ys)
        model.backward(loss.backward())
        mon.record(loss=value)
        out["one"] = mon
    return out


def _draw(name, mon, **kw):
    if name == "through_time" and not mon.history.recurrent:
        pytest.skip("no recurrent layer in this run")
    return getattr(plots, name)(mon, **kw)


def _texts(fig):
    """Every title, axis label and legend text of a figure."""
    out = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for a in fig.axes:
        out += [a.get_title(), a.get_xlabel(), a.get_ylabel()]
        if a.get_legend() is not None:
            out += [t.get_text() for t in a.get_legend().get_texts()]
    return out


@pytest.mark.parametrize("run", ["sigmoid", "deep", "bn", "lstm", "one"])
@pytest.mark.parametrize("name", ALL)
def test_every_figure_draws_with_labels(runs, run, name):
    if name == "through_time" and not runs[run].history.recurrent:
        with pytest.raises(ValueError, match="no recurrent layer"):
            plots.through_time(runs[run])
        return
    fig = _draw(name, runs[run])
    assert isinstance(fig, Figure)
    main = fig.axes[0]
    assert main.get_title() or fig._suptitle is not None
    assert main.get_xlabel() and main.get_ylabel()
    fig.canvas.draw()  # renders: raises/warns on bad log data or layout problems


@pytest.mark.parametrize("name", ALL)
def test_draws_into_a_given_axes(runs, name):
    mon = runs["lstm"] if name == "through_time" else runs["sigmoid"]
    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    kw = {"which": "grads"} if name == "histograms" else {}
    out = _draw(name, mon, ax=ax, **kw)
    assert out is ax.figure is fig
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.has_data() or ax.collections or ax.patches
    if name == "training_curves":  # only the gradient-norm panel goes into a given Axes
        assert len(fig.axes) == 1
        assert ax.get_yscale() == "log"


def test_accepts_the_history_as_well_as_the_monitor(runs):
    h = runs["sigmoid"].history
    for name in ALL:
        if name in ("histograms", "through_time"):
            continue
        assert isinstance(getattr(plots, name)(h), Figure)
    with pytest.raises(TypeError, match="current weights"):
        plots.histograms(h)
    with pytest.raises(TypeError):
        plots.gradient_flow(object())


def test_gradient_flow_log_axis_bands_and_steps(runs):
    mon = runs["sigmoid"]
    h = mon.history
    fig = plots.gradient_flow(mon)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(s.startswith("vanished < 1e-6") for s in labels)
    assert any(s.startswith("weak < 1e-4") for s in labels)
    assert any(s.startswith("exploding > 100") for s in labels)
    steps = [int(h.steps[0]), int(h.steps[(len(h) - 1) // 2]), int(h.steps[-1])]
    assert [s for s in labels if s.startswith("step ")] == [f"step {s}" for s in steps]
    names, _ = h.layer_grad_norms()
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    # chosen steps: the nearest record
    fig = plots.gradient_flow(mon, steps=[2, 10_000])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [s for s in labels if s.startswith("step ")] == ["step 2", f"step {int(h.steps[-1])}"]


def test_gradient_flow_marks_zero_gradients_and_many_layers(runs):
    mon = runs["deep"]
    names, G = mon.history.layer_grad_norms()
    assert len(names) >= 30
    assert np.any(G == 0) and np.any(np.isnan(G))  # the dead and the frozen layer
    fig = plots.gradient_flow(mon)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "gradient = 0" in labels
    ticks = fig.axes[0].get_xticklabels()
    assert len(ticks) == len(names) and ticks[0].get_fontsize() <= 8
    fig.canvas.draw()


def test_heatmap_shape_colorbar_and_step_axis(runs):
    h = runs["sigmoid"].history
    fig = plots.gradient_heatmap(h)
    ax, cax = fig.axes[0], fig.axes[1]
    mesh = ax.collections[0]
    names, _ = h.layer_grad_norms()
    assert mesh.get_array().shape == (len(names), len(h))
    assert "log10" in cax.get_ylabel()
    lo, hi = ax.get_xlim()
    assert lo <= h.steps[0] and hi >= h.steps[-1]


def test_histograms_panels_and_scales(runs):
    fig = plots.histograms(runs["sigmoid"])
    w, g = fig.axes[0], fig.axes[1]
    assert w.get_title() == "Weights" and g.get_title() == "Weight gradients"
    assert w.get_yscale() == g.get_yscale() == g.get_xscale() == "log"
    names = [s.name for s in runs["sigmoid"].model.parameters().segments if len(s.shape) >= 2]
    labels = [t.get_text() for t in g.get_legend().get_texts()]
    assert [s.split()[0] for s in labels] == names
    fig = plots.histograms(runs["sigmoid"].model, which="weights")
    assert len(fig.axes) == 1
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert plots.histograms(runs["deep"], ax=axes) is fig  # 32 tensors: a colorbar, no legend
    assert "% of grads = 0" not in "".join(_texts(fig))
    with pytest.raises(ValueError, match="panel"):
        plots.histograms(runs["sigmoid"], ax=Figure().add_subplot())
    with pytest.raises(ValueError, match="which"):
        plots.histograms(runs["sigmoid"], which="bias")


def test_histograms_count_zero_gradients(runs):
    # the dead layer of the deep run has only zero gradients: said in the legend
    fig = plots.histograms(runs["deep"].model, which="grads")
    fig.canvas.draw()
    model = runs["deep"].model
    dead = model.parameters()["3.Residual.Sequential.0.Dense.W"]
    assert np.all(model.parameters().grad[dead.offset : dead.stop] == 0)


def test_training_curves_panels(runs):
    fig = plots.training_curves(runs["sigmoid"])
    loss_ax, grad_ax = fig.axes[0], fig.axes[1]
    assert "Loss" in loss_ax.get_title() and "accuracy" in loss_ax.get_title()
    assert grad_ax.get_yscale() == "log"
    labels = [t.get_text() for t in grad_ax.get_legend().get_texts()]
    assert "global (before clipping)" in labels
    assert any(a.get_ylabel() == "accuracy (%)" for a in fig.axes)
    # no accuracy (MSE): no accuracy axis
    fig = plots.training_curves(runs["lstm"])
    assert not any(a.get_ylabel() == "accuracy (%)" for a in fig.axes)
    assert "accuracy" not in fig.axes[0].get_title()


def test_through_time(runs):
    mon = runs["lstm"]
    fig = plots.through_time(mon)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("h_t" in s for s in labels) and any("c_t" in s for s in labels)
    T = mon.history.recurrent["0.LSTM"]["dh"].shape[1]
    assert f"T = {T}" in ax.get_title()
    assert any(line.get_linestyle() == "--" for line in ax.get_lines())
    assert plots.through_time(mon, layer=0, steps=[0]) is not None
    with pytest.raises(ValueError, match=r"no recurrent layer named '9\.LSTM'"):
        plots.through_time(mon, layer="9.LSTM")
    with pytest.raises(ValueError, match="no recurrent layer"):
        plots.through_time(runs["sigmoid"])
    assert plots.lstm_through_time is plots.through_time  # the older name
    assert mon.history.lstm.keys() == mon.history.recurrent.keys()


def test_through_time_of_a_simple_rnn_has_no_cell_state_line():
    rng = np.random.default_rng(0)
    model = gc.nn.Sequential(
        [
            gc.nn.SimpleRNN(2, 4, return_sequences=False, dtype=np.float64, seed=0),
            gc.nn.Dense(4, 1, "linear", dtype=np.float64, seed=1),
        ]
    )
    mon = gc.monitor.GradientMonitor(model)
    X = rng.standard_normal((8, 6, 2))
    model.fit(X, X[:, 0, :1], loss="mse", epochs=1, batch_size=4, callbacks=[mon], verbose=False)
    ax = plots.through_time(mon).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("h_t" in s for s in labels) and not any("c_t" in s for s in labels)
    assert "0.SimpleRNN" in ax.get_title()


def test_update_ratio_reference_and_band(runs):
    fig = plots.update_ratio(runs["sigmoid"])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "CS231n ~1e-3" in labels and "1e-3 reference" in labels
    assert any(np.allclose(line.get_ydata(), 1e-3) for line in ax.get_lines())
    # one record from a check-like pass: no update yet, the figure says so
    fig = plots.update_ratio(runs["one"])
    assert any("no update recorded" in t.get_text() for t in fig.axes[0].texts)


def test_saturation_bars_in_percent(runs):
    fig = plots.saturation(runs["deep"])
    ax = fig.axes[0]
    assert "%" in ax.get_ylabel()
    heights = [p.get_height() for p in ax.patches]
    assert heights and all(0 <= v <= 100 for v in heights)
    assert max(heights) == pytest.approx(100.0)  # the dead layer
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "dead units (ReLU)" in labels
    fig = plots.saturation(runs["sigmoid"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "saturated (sigmoid/tanh)" in labels
    # BN run: only the Activation(relu) layers have a value
    ticks = [t.get_text() for t in plots.saturation(runs["bn"]).axes[0].get_xticklabels()]
    assert ticks and all("Activation" in t for t in ticks)
    fig = plots.saturation(runs["lstm"])  # nothing applies: a message, no bars
    assert not fig.axes[0].patches[1:] and fig.axes[0].texts


def _strict_json(path):
    def no_nan(c):
        raise ValueError(f"non-standard JSON constant {c}")

    with open(path, encoding="utf-8") as f:
        return json.loads(f.read(), parse_constant=no_nan)


@pytest.mark.parametrize("run", ["sigmoid", "one"])
def test_save_report_writes_the_folder(runs, run, tmp_path):
    mon = runs[run]
    d = mon.diagnose()
    out = tmp_path / "a" / "b"
    paths = save_report(mon, out, diagnosis=d) if run == "sigmoid" else mon.save_report(out)
    assert set(paths) == {"report", "history", "figures"}
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(f"{k}.png" for k in paths["figures"])
    assert ("through_time.png" in pngs) == bool(mon.history.recurrent)
    assert "gradient_flow.png" in pngs and "update_ratio.png" in pngs
    for p in paths["figures"].values():
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    data = _strict_json(paths["history"])
    assert data["steps"] == mon.history.steps.tolist()
    assert data["diagnosis"]["status"] == d.status
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# gradcore gradient report: " + d.status.upper())
    for png in pngs:
        assert f"]({png})" in md
    for link in re.findall(r"\]\(([^)]+\.png)\)", md):
        assert (out / link).exists()
    assert "```text\ngradcore health report" in md
    # the numbers beside the figures
    assert "first/last ratio" in md
    if run == "sigmoid":
        assert "backward factor" in md and "vanishing" in md
        ur = md.split("## Update-to-weight ratio")[1]
        for row in d.layers:
            if math.isfinite(row.update_ratio):
                assert f"| `{row.name}` |" in ur
    else:
        assert "No update was recorded" in md


def test_plots_module_imports_without_matplotlib():
    # matplotlib only inside the functions; never pyplot
    for mod in (plots, sys.modules["gradcore.monitor.report"]):
        tree = ast.parse(inspect.getsource(mod))
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                assert not any(n.startswith("matplotlib") for n in names), ast.dump(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [getattr(node, "module", None) or ""] + [a.name for a in node.names]
                assert not any("pyplot" in n for n in names), ast.dump(node)
