"""Experiment 4, activations: sigmoid, tanh, relu, leaky_relu, elu, silu, gelu.

(a) At init: the weight-gradient norm reaching the first layer of Dense stacks of depth 5, 10
and 20 (each activation with its recommended gain, ``N(0, gain^2 / fan_in)``), one monitored
forward/backward of a data batch. (b) Training: depth 10, Adam lr 1e-3, batch 32: test accuracy
per epoch, and at the end the fraction of dead units (ReLU family: 0 for every row of the
batch), as the gradient monitor records them.
"""

from __future__ import annotations

import numpy as np

from .. import init as _init
from .. import nn
from ._framework import Context, register
from ._train import ADAM_1E3, monitored_step, steps_per_epoch, watched_fit

NAME = "activations"
ACTS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "silu", "gelu")
DEPTHS = (5, 10, 20)


def gain_init(act: str):
    """``W ~ N(0, (gain / sqrt(fan_in))^2)`` with ``gc.init.calculate_gain(act)`` (PyTorch's
    recommended gains: 1 for sigmoid, 5/3 tanh, sqrt 2 for the ReLU family): each activation
    gets the scale meant for it, so what differs with depth is the activation's derivative."""
    gain = _init.calculate_gain(act)

    def init(shape, rng, dtype):
        return rng.normal(0.0, gain / np.sqrt(shape[0]), size=shape).astype(dtype)

    return init


def build(act: str, d_in: int, width: int, depth: int, seed: int) -> nn.Sequential:
    f32 = np.float32
    w = gain_init(act)
    layers = [
        nn.Dense(d_in if i == 0 else width, width, act, w, f32, seed + i) for i in range(depth)
    ]
    layers.append(nn.Dense(width, 10, "linear", init="xavier_normal", dtype=f32, seed=seed + 999))
    return nn.Sequential(layers)


def first_layer_grad(model, X, y) -> float:
    """``||dL/dW||`` of the first layer after one monitored forward/backward of ``(X, y)``."""
    return float(monitored_step(model, X, y).layer_grad_norms()[1][0, 0])


#: One line for ``gradcore experiment list``, and the headline the material reports.
DESCRIPTION = (
    "sigmoid/tanh/relu/leaky_relu/elu/silu/gelu: first-layer gradient vs depth, dead units, "
    "training curves"
)
EXPECTED = (
    "the first-layer gradient vanishes with depth for sigmoid (derivative <= 0.25), not for the "
    "others at their recommended gain; ReLU nets have dead units"
)


@register(4, NAME, DESCRIPTION, EXPECTED)
def run(ctx: Context) -> dict:
    ds = ctx.dataset()
    cfg = {
        "depths_at_init": list(DEPTHS),
        "train_depth": 10,
        "width": 64 if ctx.quick else 256,
        "epochs": 2 if ctx.quick else 10,
        **ADAM_1E3,
        "init": "N(0, gain^2 / fan_in), gain = gc.init.calculate_gain(activation)",
        "input_features": ds.n_features,
    }
    rng = np.random.default_rng(ctx.seed)
    idx = rng.choice(len(ds.X_train), size=min(256, len(ds.X_train)), replace=False)
    X, y = ds.X_train[idx], ds.y_train[idx]
    spe = steps_per_epoch(len(ds.X_train), cfg["batch_size"])
    ctx.open_bar(len(ACTS) * (len(DEPTHS) + spe * cfg["epochs"]))
    grads = {}
    for act in ACTS:
        for depth in DEPTHS:
            ctx.stage(f"{act} depth {depth} at init")
            grads[(act, depth)] = first_layer_grad(
                build(act, ds.n_features, cfg["width"], depth, ctx.seed), X, y
            )
            ctx.bar.update(1)
    runs = {}
    for act in ACTS:
        ctx.stage(f"{act}: training")
        model = build(act, ds.n_features, cfg["width"], cfg["train_depth"], ctx.seed)
        runs[act] = watched_fit(
            ctx, model, ds, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
            records=20,
        )  # fmt: skip

    measured, rows = {}, []
    for act in ACTS:
        dead = runs[act]["monitor"].history.layer["dead"][-1, : cfg["train_depth"]]
        m = {
            "first_layer_grad_at_init": {str(d): grads[(act, d)] for d in DEPTHS},
            "test_accuracy_per_epoch": runs[act]["test_accuracy"],
            "final_test_accuracy": runs[act]["test_accuracy"][-1],
            "dead_unit_fraction_end": float(np.mean(dead)) if np.isfinite(dead).all() else None,
        }
        measured[act] = m
        rows.append(
            [act]
            + [f"{grads[(act, d)]:.2e}" for d in DEPTHS]
            + [
                f"{m['final_test_accuracy']:.3f}",
                "-"
                if m["dead_unit_fraction_end"] is None
                else f"{m['dead_unit_fraction_end']:.1%}",
            ]
        )
    ctx.table(
        f"First-layer ||dL/dW|| at init, and training at depth {cfg['train_depth']} "
        f"({cfg['epochs']} epochs)",
        ["activation", *[f"grad, depth {d}" for d in DEPTHS], "test acc", "dead ReLU units (end)"],
        rows,
    )
    _figures(ctx, grads, runs, cfg)
    deep = DEPTHS[-1]
    order = sorted(ACTS, key=lambda a: grads[(a, deep)])
    others = min(grads[(a, deep)] for a in ACTS if a != "sigmoid")
    reproduced = grads[("sigmoid", deep)] < 1e-3 * others
    headline = (
        f"first-layer grad at depth {deep}: sigmoid {grads[('sigmoid', deep)]:.1e}, tanh "
        f"{grads[('tanh', deep)]:.1e}, relu {grads[('relu', deep)]:.1e}; best accuracy "
        f"{max(ACTS, key=lambda a: measured[a]['final_test_accuracy'])}"
    )
    if not reproduced:
        ctx.notes.append(
            f"Not reproduced as stated: the sigmoid net's first-layer gradient at depth {deep} "
            f"is not 1000x below every other's (smallest first: {', '.join(order)})."
        )
    return ctx.finish(config=cfg, measured=measured, headline=headline, reproduced=reproduced)


def _figures(ctx: Context, grads: dict, runs: dict, cfg: dict) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    colors = dict(zip(ACTS, plt.get_cmap("tab10").colors, strict=False))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for act in ACTS:
        a1.plot(DEPTHS, [grads[(act, d)] for d in DEPTHS], "o-", color=colors[act], label=act)
        acc = runs[act]["test_accuracy"]
        a2.plot(range(len(acc)), acc, "o-", color=colors[act], label=act)
    a1.set_yscale("log")
    a1.set_xticks(DEPTHS)
    a1.set_xlabel("depth (Dense layers, init with the activation's gain)")
    a1.set_ylabel("first-layer ||dL/dW|| at init (log)")
    a1.set_title("gradient reaching the first layer vs depth")
    a2.axhline(0.1, color="grey", ls=":", label="chance")
    a2.set_ylim(0, 1)
    a2.set_xlabel("epoch (0 = before training)")
    a2.xaxis.set_major_locator(MaxNLocator(integer=True))
    a2.set_ylabel("test accuracy")
    a2.set_title(
        f"training at depth {cfg['train_depth']}, width {cfg['width']}, Adam lr {cfg['lr']}"
    )
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.figure(
        fig,
        "activations.png",
        "Left: first-layer gradient at init against depth. Right: test accuracy per epoch.",
    )
