"""Experiment 5, normalization: the BatchNorm paper's MNIST setup, then none vs BatchNorm vs
LayerNorm on a deeper net.

1. **The BatchNorm paper's setup** (Ioffe & Szegedy 2015, section 4.1, Figure 1): three hidden
   layers of 100 sigmoid units, weights from a small random Gaussian (std 0.1; the paper gives
   no number), a linear 10-way output, cross-entropy, plain SGD (no momentum; the paper gives
   no learning rate: lr 0.1 here, one that trains both nets) on mini-batches of 60 for 50 000
   steps. The BN net puts BatchNorm *before* each sigmoid (Dense(linear) -> BatchNorm ->
   sigmoid); the plain net is Dense(linear) -> sigmoid. At about 50 checkpoints (step 0 and
   the last step always among them) a :class:`PercentileProbe` records, per unit, the 15th,
   50th and 85th percentiles of the input of the last hidden layer's sigmoid over one fixed
   held-out batch (the first rows of the test set), on a copy of the model in *training* mode:
   the distribution the sigmoid sees while training (BatchNorm normalises with the batch's own
   statistics; evaluation mode would use the lagging running averages, and a training-mode
   pass on the model itself would move them). Test accuracy (evaluation mode) at the same
   checkpoints (quick: 1500 steps on the quick sample). "Drift" is measured per unit and
   summarised by the median over the 100 units (a typical sigmoid), split into location and
   spread (:func:`drift`): how far the median still moves after the first 10 % of training
   and how far it travels in all, and how much the 15-85 spread grows; the plain net drifts
   in both, the BN net's location stays put while its spread follows BN's learned scale.
   ``reproduced``: the plain net's late median drift > 2x the BN net's, its spread growth >
   2x the BN net's, and BN ahead at 10 % of training and not behind at the end.
2. **None vs BatchNorm vs LayerNorm** on 10 hidden layers of sigmoid units (Glorot uniform;
   width 256, quick 64), Dense(linear) -> [norm] -> sigmoid, Adam lr 1e-3, batch 32, 10 epochs
   (quick 3), watched by the gradient monitor: test accuracy per epoch and every layer's
   ``||dL/dW||`` at step 0.
   Sigmoid because that is where normalization matters most (without it the deep sigmoid
   stack's first-layer gradient vanishes) and where BatchNorm and LayerNorm differ most.
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np

from .. import init as _init
from .. import nn, optim
from ..callbacks import Callback
from ..train import evaluate
from ._framework import Context, register
from ._train import first_record_grads, steps_per_epoch, watched_fit

__all__ = ["PercentileProbe", "build_deep", "build_paper", "drift", "percentile_checkpoints"]

NAME = "normalization"

#: The percentiles the paper plots (Figure 1b, 1c).
PERCENTILES = (15.0, 50.0, 85.0)

#: The deeper comparison's variants (part 2).
NORMS = ("none", "BatchNorm", "LayerNorm")

#: One line for ``gradcore experiment list``, and the headline the material reports.
DESCRIPTION = (
    "BatchNorm paper's 3x100 sigmoid net (SGD, batch 60): last hidden input's 15/50/85th "
    "percentiles over training; none vs BN vs LN on 10 sigmoid layers (Adam)"
)
EXPECTED = (
    "without BN the sigmoid's input distribution drifts (the percentiles move a lot, early "
    "on); with BN it stays stable and the net reaches higher accuracy faster "
    "(Ioffe & Szegedy 2015, Fig. 1)"
)


class PercentileProbe:
    """A :class:`gradcore.nn.probe.Probe` that keeps the percentiles of one layer's output.

    ``layer``: the layer's path as ``model.parameters()`` names it (``"5.Dense"``,
    ``"6.BatchNorm"``); ``q``: the percentiles (reals in [0, 100]). On each forward pass of that
    layer it stores ``self.values = np.percentile(y, q, axis=0)`` (float64 ``[len(q), C]`` for
    an output ``y`` of shape ``[N, C]``: per unit, over the batch) and ``self.calls += 1``.
    It only reads ``y`` and ignores the backward pass.
    """

    def __init__(self, layer: str, q=PERCENTILES) -> None:
        if not isinstance(layer, str) or not layer:
            raise TypeError(f"PercentileProbe: layer must be a non-empty str, got {layer!r}")
        q = np.asarray(q, dtype=np.float64)
        if q.ndim != 1 or q.size == 0 or not np.all((q >= 0) & (q <= 100)):
            raise ValueError(
                f"PercentileProbe: q must be a non-empty 1-D sequence of reals in [0, 100], "
                f"got {q.tolist()!r}"
            )
        self.layer, self.q = layer, q
        self.values: np.ndarray | None = None
        self.calls = 0

    def forward(self, name: str, layer, y: np.ndarray, training: bool) -> None:
        if name == self.layer:
            if y.ndim != 2:
                raise ValueError(
                    f"PercentileProbe.forward: layer {name!r} must give a 2-D output [N, C], "
                    f"got shape {y.shape}"
                )
            self.values = np.percentile(np.asarray(y, np.float64), self.q, axis=0)
            self.calls += 1

    def backward(self, name: str, layer, dy: np.ndarray, dx: np.ndarray | None) -> None:
        pass


def build_paper(bn: bool, d_in: int, seed: int, *, width: int = 100, std: float = 0.1):
    """The paper's net: 3 x [Dense(``width``, linear, N(0, ``std``^2)) -> (BatchNorm) ->
    sigmoid], then Dense(10, linear); float32. Returns ``(model, name of the layer whose
    output is the last hidden sigmoid's input)``."""
    f32 = np.float32
    w_init = functools.partial(_init.normal, std=std)
    layers: list = []
    fan_in = d_in
    for i in range(3):
        layers.append(nn.Dense(fan_in, width, "linear", init=w_init, dtype=f32, seed=seed + i))
        if bn:
            layers.append(nn.BatchNorm(width, dtype=f32))
        layers.append(nn.Activation("sigmoid", dtype=f32))
        fan_in = width
    target = len(layers) - 2
    layers.append(nn.Dense(width, 10, "linear", init=w_init, dtype=f32, seed=seed + 99))
    model = nn.Sequential(layers)
    return model, f"{target}.{type(layers[target]).__name__}"


def build_deep(norm: str, d_in: int, width: int, hidden: int, seed: int) -> nn.Sequential:
    """``hidden`` x [Dense(``width``, linear, Glorot uniform) -> (``norm``) -> sigmoid], then
    Dense(10, linear); ``norm`` one of :data:`NORMS`; float32."""
    if norm not in NORMS:
        raise ValueError(f"build_deep: norm must be one of {', '.join(NORMS)}, got {norm!r}")
    f32 = np.float32
    layers: list = []
    fan_in = d_in
    for i in range(hidden):
        layers.append(
            nn.Dense(fan_in, width, "linear", init="xavier_uniform", dtype=f32, seed=seed + i)
        )
        if norm == "BatchNorm":
            layers.append(nn.BatchNorm(width, dtype=f32))
        elif norm == "LayerNorm":
            layers.append(nn.LayerNorm(width, dtype=f32))
        layers.append(nn.Activation("sigmoid", dtype=f32))
        fan_in = width
    layers.append(nn.Dense(width, 10, "linear", init="xavier_uniform", dtype=f32, seed=seed + 99))
    return nn.Sequential(layers)


class _Checkpoints(Callback):
    """At the given steps (before that step's update: the state after ``step`` updates), the
    percentiles of ``layer``'s output on ``X_probe`` (training mode, on a copy of the model)
    and the test accuracy (evaluation mode); stops training after ``steps[-1]`` updates."""

    def __init__(self, layer: str, X_probe, X_test, y_test, steps) -> None:
        self.layer, self.X_probe, self.X_test, self.y_test = layer, X_probe, X_test, y_test
        self.steps = list(steps)
        self.todo = set(self.steps)
        self.percentiles: list[np.ndarray] = []
        self.accuracy: list[float] = []

    def measure(self, model) -> None:
        m = copy.deepcopy(model)  # the measurement leaves the running statistics alone
        probe = PercentileProbe(self.layer)
        m.set_probe(probe)
        m.forward(self.X_probe, training=True)
        m.set_probe(None)
        self.percentiles.append(probe.values)
        self.accuracy.append(evaluate(m, self.X_test, self.y_test)["accuracy"])

    def on_batch_end(self, trainer, step, logs) -> None:
        if step in self.todo:
            self.measure(trainer.model)
        if step == self.steps[-1] - 1:
            trainer.stop_training = True
            trainer.stop_reason = f"reached {self.steps[-1]} steps"

    def on_train_end(self, trainer) -> None:
        self.measure(trainer.model)  # after the last update: step == steps[-1]


def percentile_checkpoints(total: int, count: int) -> list[int]:
    """About ``count`` steps from 0 to ``total`` (both included), evenly spaced, increasing."""
    return sorted(set(np.rint(np.linspace(0, total, count)).astype(np.int64).tolist()))


def drift(steps, P: np.ndarray, after: float = 0.1) -> dict:
    """How much the percentile paths ``P`` (``[K, 3, C]``: checkpoint, 15/50/85th percentile,
    unit) move; ``steps`` ``[K]`` increasing, ``steps[-1]`` the end of training.

    Per unit, then the median over the units (``*_typical``; ``*_unit0`` for the figure's unit):

    - ``median_late``: the largest ``|p50[k] - p50[-1]|`` over the checkpoints with
      ``steps[k] >= after * steps[-1]`` (the location still moving late in training);
    - ``median_range``: ``max_k p50[k] - min_k p50[k]`` (how far it travels, early part included);
    - ``all_late``: ``median_late`` over all three percentiles (location and spread);
    - ``spread_growth``: ``(p85 - p15)`` at the end over ``(p85 - p15)`` at step 0.
    """
    steps = np.asarray(steps)
    late = steps >= after * steps[-1]
    med = P[:, 1, :]
    spread = P[:, 2, :] - P[:, 0, :]
    per_unit = {
        "median_late": np.abs(med[late] - med[-1]).max(axis=0),
        "median_range": med.max(axis=0) - med.min(axis=0),
        "all_late": np.abs(P[late] - P[-1]).max(axis=(0, 1)),
        "spread_growth": spread[-1] / np.maximum(spread[0], 1e-12),
    }
    out = {}
    for k, v in per_unit.items():
        out[f"{k}_typical"] = float(np.median(v))
        out[f"{k}_unit0"] = float(v[0])
    return out


def _paper_run(ctx: Context, ds, bn: bool, cfg: dict) -> dict:
    model, layer = build_paper(bn, ds.n_features, ctx.seed, width=cfg["width"], std=cfg["std"])
    steps = percentile_checkpoints(cfg["steps"], cfg["checkpoints"])
    X_probe = ds.X_test[: cfg["probe_batch"]]
    cb = _Checkpoints(layer, X_probe, ds.X_test, ds.y_test, steps)
    spe = steps_per_epoch(len(ds.X_train), cfg["batch_size"])
    model.fit(
        ds.X_train,
        ds.y_train,
        optimizer=optim.SGD(model.parameters(), lr=cfg["lr"]),
        epochs=-(-cfg["steps"] // spe),
        batch_size=cfg["batch_size"],
        callbacks=[cb],
        seed=ctx.seed,
        progress=ctx.fit_bar,
        verbose=False,
    )
    P = np.stack(cb.percentiles)  # [K, 3, C]
    last = model.layers[int(layer.split(".")[0])]
    gamma = float(last.params["gamma"].mean()) if bn else None
    acc = cb.accuracy
    tenth = next(k for k, s in enumerate(steps) if s >= 0.1 * steps[-1])
    return {
        "layer": layer,
        "steps": steps,
        "percentiles": P,
        "test_accuracy": acc,
        "drift": drift(steps, P),
        "final_test_accuracy": acc[-1],
        "test_accuracy_at_10pct": acc[tenth],
        "step_10pct": steps[tenth],
        "final_gamma_mean": gamma,
    }


@register(5, NAME, DESCRIPTION, EXPECTED)
def run(ctx: Context) -> dict:
    ds = ctx.dataset()
    paper = {
        "width": 100,
        "hidden": 3,
        "std": 0.1,
        "optimizer": "SGD",
        "lr": 0.1,
        "batch_size": 60,
        "steps": 1500 if ctx.quick else 50000,
        "checkpoints": 50,
        "probe_batch": min(1000, len(ds.X_test)),
        "probe_mode": "training (batch statistics), on a copy of the model",
    }
    deep = {
        "width": 64 if ctx.quick else 256,
        "hidden": 10,
        "activation": "sigmoid",
        "init": "glorot (xavier) uniform",
        "epochs": 3 if ctx.quick else 10,
        "batch_size": 32,
        "lr": 1e-3,
        "optimizer": "Adam",
    }
    cfg = {"paper_setup": paper, "deep_comparison": deep, "input_features": ds.n_features}
    spe = steps_per_epoch(len(ds.X_train), deep["batch_size"])
    ctx.open_bar(2 * paper["steps"] + spe * deep["epochs"] * len(NORMS))

    runs = {}
    for bn in (False, True):
        kind = "BatchNorm" if bn else "plain"
        ctx.stage(f"paper setup, {kind}")
        runs[kind] = _paper_run(ctx, ds, bn, paper)
    deep_runs = {}
    for norm in NORMS:
        ctx.stage(f"10 sigmoid layers, {norm}")
        model = build_deep(norm, ds.n_features, deep["width"], deep["hidden"], ctx.seed)
        deep_runs[norm] = watched_fit(
            ctx, model, ds, epochs=deep["epochs"], batch_size=deep["batch_size"],
            lr=deep["lr"], records=10,
        )  # fmt: skip

    measured = _measure(ctx, runs, deep_runs, paper, deep)
    _figures(ctx, runs, deep_runs, paper, deep, ds.classes)
    plain, bnr = measured["paper_setup"]["plain"], measured["paper_setup"]["BatchNorm"]
    ratio = measured["paper_setup"]["drift_ratio_plain_over_bn"]
    growth_p = plain["drift"]["spread_growth_typical"]
    stable = ratio > 2.0 and growth_p > 2.0 * bnr["drift"]["spread_growth_typical"]
    better = (
        bnr["final_test_accuracy"] >= plain["final_test_accuracy"] - 0.01
        and bnr["test_accuracy_at_10pct"] > plain["test_accuracy_at_10pct"]
    )
    reproduced = stable and better
    dp, db = plain["drift"], bnr["drift"]
    d3 = measured["deep_comparison"]
    headline = (
        f"paper setup: the last sigmoid's input median still moves {dp['median_late_typical']:.2f}"
        f" (plain) vs {db['median_late_typical']:.2f} (BN) after 10 % of training (range "
        f"{dp['median_range_typical']:.2f} vs {db['median_range_typical']:.2f}), its 15-85 "
        f"spread grows {dp['spread_growth_typical']:.1f}x vs {db['spread_growth_typical']:.1f}x;"
        f" test acc at 10 %: "
        f"{plain['test_accuracy_at_10pct']:.1%} vs {bnr['test_accuracy_at_10pct']:.1%}, final "
        f"{plain['final_test_accuracy']:.1%} vs {bnr['final_test_accuracy']:.1%}; 10 sigmoid "
        f"layers: none {d3['none']['final_test_accuracy']:.1%}, BN "
        f"{d3['BatchNorm']['final_test_accuracy']:.1%}, LN "
        f"{d3['LayerNorm']['final_test_accuracy']:.1%}"
    )
    _notes(ctx, measured, paper, deep, stable, better, ds)
    return ctx.finish(config=cfg, measured=measured, headline=headline, reproduced=reproduced)


def _measure(ctx: Context, runs: dict, deep_runs: dict, paper: dict, deep: dict) -> dict:
    ps = {}
    rows = []
    for kind, r in runs.items():
        P = r["percentiles"]
        ps[kind] = {
            "layer": r["layer"],
            "steps": r["steps"],
            "test_accuracy": r["test_accuracy"],
            "final_test_accuracy": r["final_test_accuracy"],
            "test_accuracy_at_10pct": r["test_accuracy_at_10pct"],
            "percentiles_unit0": {
                f"p{int(q)}": P[:, i, 0].tolist() for i, q in enumerate(PERCENTILES)
            },
            "drift": r["drift"],
            "final_gamma_mean": r["final_gamma_mean"],
        }
        d = r["drift"]
        rows.append(
            [
                kind,
                f"{d['median_late_typical']:.3f} ({d['median_late_unit0']:.3f})",
                f"{d['median_range_typical']:.3f} ({d['median_range_unit0']:.3f})",
                f"{d['spread_growth_typical']:.2f} ({d['spread_growth_unit0']:.2f})",
                f"{d['all_late_typical']:.3f} ({d['all_late_unit0']:.3f})",
                f"{r['test_accuracy_at_10pct']:.3f}",
                f"{r['final_test_accuracy']:.3f}",
            ]
        )
    ratio = ps["plain"]["drift"]["median_late_typical"] / max(
        ps["BatchNorm"]["drift"]["median_late_typical"], 1e-12
    )
    target = ps["plain"]["final_test_accuracy"]
    reach = next(
        (s for s, a in zip(ps["BatchNorm"]["steps"], ps["BatchNorm"]["test_accuracy"],
                           strict=True) if a >= target),
        None,
    )  # fmt: skip
    ps["drift_ratio_plain_over_bn"] = ratio
    ps["bn_steps_to_plain_final_accuracy"] = reach
    ctx.table(
        f"Paper setup ({paper['steps']} SGD steps, batch {paper['batch_size']}): drift of the last "
        "hidden sigmoid's input, median over its units (unit 0, the figure's, in brackets), "
        "and test accuracy",
        [
            "net",
            "p50: max |p50 - final| after 10 %",
            "p50: range over the run",
            "(p85 - p15): end / step 0",
            "p15/50/85: max |p - final| after 10 %",
            f"test acc at step {runs['plain']['step_10pct']}",
            "final test acc",
        ],
        rows,
    )

    dc = {}
    rows = []
    for norm, r in deep_runs.items():
        _, g0 = first_record_grads(r["monitor"])
        m = {
            "test_accuracy_per_epoch": r["test_accuracy"],
            "final_test_accuracy": r["test_accuracy"][-1],
            "first_layer_grad_norm_at_start": float(g0[0]),
            "output_layer_grad_norm_at_start": float(g0[-1]),
            "first_over_output_at_start": float(g0[0] / g0[-1]) if g0[-1] > 0 else math.nan,
            "grad_norms_at_start": [float(v) for v in g0],
        }
        dc[norm] = m
        rows.append(
            [
                norm,
                f"{m['test_accuracy_per_epoch'][1]:.3f}",
                f"{m['final_test_accuracy']:.3f}",
                f"{m['first_layer_grad_norm_at_start']:.2e}",
                f"{m['first_over_output_at_start']:.1e}",
            ]
        )
    ctx.table(
        f"{deep['hidden']} sigmoid layers of {deep['width']}, Adam lr {deep['lr']}, batch "
        f"{deep['batch_size']}: test accuracy and ||dL/dW|| at step 0",
        ["norm", "test acc after epoch 1", f"after {deep['epochs']}", "first layer",
         "first / output layer"],
        rows,
    )  # fmt: skip
    return {"paper_setup": ps, "deep_comparison": dc}


def _notes(ctx: Context, measured: dict, paper: dict, deep: dict, stable, better, ds) -> None:
    ps, dc = measured["paper_setup"], measured["deep_comparison"]
    chance = 1.0 / ds.classes
    ctx.notes.append(
        "The paper gives neither the Gaussian's std nor the learning rate: std 0.1 and plain SGD "
        f"at lr {paper['lr']} here (batch {paper['batch_size']}, {paper['steps']} steps). The "
        f"data is {ds.name}, not MNIST, unless the dataset says otherwise: accuracies are not "
        "comparable with the paper's (~97-98 % on MNIST)."
    )
    ctx.notes.append(
        "The percentiles are taken per unit of the last hidden layer's sigmoid input over a "
        f"fixed held-out batch of {paper['probe_batch']} test rows, in training mode (what the "
        "sigmoid sees while training); drift numbers are medians over the units, the figures "
        "show unit 0 (the paper plots one 'typical' sigmoid)."
    )
    dp, db = ps["plain"]["drift"], ps["BatchNorm"]["drift"]
    ctx.notes.append(
        "Drift is split into location and spread. The median (location) of the BN net's "
        f"sigmoid input stays put (moves {db['median_late_typical']:.2f} after 10 % of training "
        f"vs {dp['median_late_typical']:.2f} without BN, ratio "
        f"{ps['drift_ratio_plain_over_bn']:.1f}). Its 15-85 spread is not constant: it grows "
        f"{db['spread_growth_typical']:.1f}x (without BN {dp['spread_growth_typical']:.0f}x, "
        "from almost nothing) because BN's learned scale gamma grows (mean gamma of the last "
        f"BN layer at the end: {ps['BatchNorm']['final_gamma_mean']:.2f}): the net sharpens its "
        "sigmoids. Counting all three percentiles, they still move "
        f"{dp['all_late_typical']:.2f} (plain) vs {db['all_late_typical']:.2f} (BN) after 10 % "
        "of training."
    )
    if not stable:
        ctx.notes.append(
            "Not reproduced: the plain net's input distribution does not drift clearly more than "
            f"the BN net's (median drift ratio {ps['drift_ratio_plain_over_bn']:.2f}, needs > 2; "
            f"spread growth {dp['spread_growth_typical']:.1f}x vs "
            f"{db['spread_growth_typical']:.1f}x, needs a factor 2)."
        )
    if not better:
        ctx.notes.append(
            "Not reproduced: the BN net is not ahead of the plain one both at 10 % of training "
            f"({ps['BatchNorm']['test_accuracy_at_10pct']:.1%} vs "
            f"{ps['plain']['test_accuracy_at_10pct']:.1%}) and at the end "
            f"({ps['BatchNorm']['final_test_accuracy']:.1%} vs "
            f"{ps['plain']['final_test_accuracy']:.1%})."
        )
    ctx.notes.append(
        f"10 sigmoid layers: the first layer's ||dL/dW|| at step 0 is "
        f"{dc['none']['first_layer_grad_norm_at_start']:.1e} without normalization, "
        f"{dc['BatchNorm']['first_layer_grad_norm_at_start']:.1e} with BatchNorm and "
        f"{dc['LayerNorm']['first_layer_grad_norm_at_start']:.1e} with LayerNorm. BatchNorm "
        "standardises each unit over the batch, so the small differences between examples "
        "that survive a sigmoid layer are blown back up to unit scale; LayerNorm standardises "
        "each example over its units, which fixes the scale and offset of a layer but not a "
        "representation in which all examples look alike, so the deep sigmoid stack still "
        f"starts with a small first-layer gradient. {_ln_outcome(dc, deep, chance)}"
    )
    reach = ps["bn_steps_to_plain_final_accuracy"]
    if reach is not None:
        ctx.notes.append(
            f"The BN net reaches the plain net's final test accuracy "
            f"({ps['plain']['final_test_accuracy']:.1%} after {paper['steps']} steps) at step "
            f"{reach} ({reach / paper['steps']:.0%} of training)."
        )


def _ln_outcome(dc: dict, deep: dict, chance: float) -> str:
    ln, none = dc["LayerNorm"]["test_accuracy_per_epoch"], dc["none"]["final_test_accuracy"]
    if ln[-1] < chance + 0.05:
        return (
            f"Here it does not learn at all in {deep['epochs']} epochs ({ln[-1]:.1%}, chance "
            f"{chance:.0%}; no normalization {none:.1%}): on this stack LayerNorm does not "
            "replace BatchNorm."
        )
    late = next(e for e, a in enumerate(ln[1:], 1) if a >= chance + 0.05)
    return (
        f"It leaves chance only after {late} epoch{'s' if late > 1 else ''} and ends at "
        f"{ln[-1]:.1%} "
        f"(BatchNorm {dc['BatchNorm']['final_test_accuracy']:.1%}, none {none:.1%})."
    )


def _figures(ctx: Context, runs: dict, deep_runs: dict, paper: dict, deep: dict, classes: int):
    import matplotlib.pyplot as plt

    chance = 1.0 / classes
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for kind, style in (("plain", "-"), ("BatchNorm", "-")):
        r = runs[kind]
        ax.plot(r["steps"], r["test_accuracy"], style, marker=".", label=f"{kind}")
    ax.axhline(chance, color="grey", ls=":", label=f"chance ({chance:.0%})")
    ax.set_xlabel(f"training step (SGD lr {paper['lr']}, batch {paper['batch_size']})")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("(a) 3 x 100 sigmoid units: test accuracy, with and without BatchNorm")
    ax.grid(alpha=0.3)
    ax.legend()
    ctx.figure(fig, "accuracy_bn_paper.png", "The paper's Fig. 1a: test accuracy against steps.")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    colors = ("tab:blue", "tab:red", "tab:green")
    for ax, kind, letter in zip(axes, ("plain", "BatchNorm"), "bc", strict=True):
        r = runs[kind]
        P = r["percentiles"]
        for i, (q, c) in enumerate(zip(PERCENTILES, colors, strict=True)):
            ax.plot(r["steps"], P[:, i, 0], color=c, label=f"{int(q)}th percentile")
        ax.axvline(0.1 * r["steps"][-1], color="grey", ls=":", lw=1, label="10 % of training")
        ax.set_xlabel("training step")
        ax.set_title(
            f"({letter}) {'without' if kind == 'plain' else 'with'} BatchNorm: input of a last-"
            "layer sigmoid"
        )
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("sigmoid input (unit 0, held-out batch)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    ctx.figure(
        fig,
        "percentiles.png",
        "The paper's Fig. 1b/1c: 15th/50th/85th percentiles of one last-hidden-layer sigmoid's "
        "input over a fixed held-out batch (training mode), same y-axis: without BN they drift, "
        "with BN the median stays put.",
    )

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2))
    for norm, r in deep_runs.items():
        acc = r["test_accuracy"]
        a1.plot(range(len(acc)), acc, marker="o", label=norm)
        _, g0 = first_record_grads(r["monitor"])
        a2.plot(range(1, len(g0) + 1), g0, marker="o", label=norm)
    a1.axhline(chance, color="grey", ls=":", label=f"chance ({chance:.0%})")
    a1.set_xlabel("epoch (0 = before training)")
    a1.set_xticks(range(deep["epochs"] + 1))
    a1.set_ylabel("test accuracy")
    a1.set_ylim(0, 1)
    a1.set_title(f"(d) {deep['hidden']} sigmoid layers of {deep['width']}, Adam: test accuracy")
    a2.set_yscale("log")
    a2.set_xlabel("Dense layer (1 = input side, last = output)")
    a2.set_ylabel("||dL/dW|| at step 0 (log)")
    a2.set_title("gradient reaching each layer at step 0")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.figure(
        fig,
        "deep_norms.png",
        "None vs BatchNorm vs LayerNorm on 10 sigmoid layers: test accuracy per epoch and "
        "the weight gradient of every Dense layer at step 0.",
    )
