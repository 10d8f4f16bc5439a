"""The trainability sweep's trial (issue 14): a deep random tanh MLP at one (depth, sigma_w2),
trained for a fixed small budget, next to the mean-field prediction for it.

Schoenholz et al. 2017 (Deep Information Propagation): weights ``N(0, sigma_w2 / fan_in)``,
biases ``N(0, sigma_b2)``; the ordered phase (``chi_1 < 1``, gradients vanish) and the chaotic
one (``chi_1 > 1``, gradients explode) meet on the critical line ``chi_1 = 1``
(``sigma_w2 ~ 1.76`` at ``sigma_b2 = 0.05``), and a net of depth L trains only where
``L < ~6 xi_c``. :func:`trainability` returns the accuracy reached, the measured per-layer
backward gain (the monitor's ``||dL/dx|| / ||dL/dy||`` of the hidden layers at step 0) and
the theory's ``q*``, ``chi_1``, ``xi_c`` and gain ``sqrt(chi_1)``; :func:`phase_diagram`
draws a sweep of it, :func:`edge` compares its trainable region with ``6 xi_c``.

``gradcore sweep trainability --grid depth=10,30,100 sigma_w2=0.5:4:15 --seeds 3`` runs it.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np

from .. import meanfield, nn, optim
from .. import monitor as _monitor
from ._framework import load_dataset, trial

__all__ = ["edge", "phase_diagram", "trainability"]

DESCRIPTION = (
    "deep tanh MLP, weights N(0, sigma_w2/fan_in), biases N(0, sigma_b2), SGD for a fixed "
    "budget: accuracy, measured gain per layer, mean-field q*, chi_1, xi_c"
)


def _normal(std: float):
    def init(shape, rng, dtype):
        return rng.normal(0.0, std, size=shape).astype(dtype)

    return init


def build(d_in: int, width: int, depth: int, sigma_w2: float, sigma_b2: float, seed: int):
    """``depth`` hidden Dense(width, tanh) layers and a linear read-out, float32, every weight
    ``N(0, sigma_w2 / fan_in)`` and bias ``N(0, sigma_b2)`` (the read-out's too)."""
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(depth + 1):
        fan_in = d_in if i == 0 else width
        out = width if i < depth else 10
        layer = nn.Dense(
            fan_in,
            out,
            "tanh" if i < depth else "linear",
            init=_normal(math.sqrt(sigma_w2 / fan_in)),
            dtype=np.float32,
            seed=rng,
        )
        layer.params["b"][...] = rng.normal(0.0, math.sqrt(sigma_b2), out)
        layers.append(layer)
    return nn.Sequential(layers)


def trainability(
    *,
    depth: int,
    sigma_w2: float,
    sigma_b2: float = 0.05,
    width: int = 256,
    epochs: int = 2,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    data: str | None = None,
    quick: bool = False,
) -> dict:
    """Train the net once and measure it; returns a dict of numbers (and ``"monitor"``, the
    diagnosis' ``brief()``). ``data``: as the experiments' ``--data`` (the first available by
    default); ``quick`` takes its smaller sample. The data are the same for every seed (the
    seed draws the weights and the batch order)."""
    ds = load_dataset(data, quick=quick, seed=0)
    model = build(ds.n_features, int(width), int(depth), float(sigma_w2), float(sigma_b2), seed)
    steps_per_epoch = -(-len(ds.X_train) // batch_size)
    mon = _monitor.GradientMonitor(model, every=max(1, steps_per_epoch * epochs // 20))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.filterwarnings("ignore", "non-finite", RuntimeWarning)
        hist = model.fit(
            ds.X_train,
            ds.y_train,
            optimizer=optim.SGD(model.parameters(), lr=lr),
            epochs=epochs,
            batch_size=batch_size,
            callbacks=[mon],
            seed=seed,
            verbose=False,
            progress=False,
        )
    mon.detach()
    h = mon.history
    grad_in, grad_out = h.layer["grad_in"][0], h.layer["grad_out"][0]
    with np.errstate(all="ignore"):
        gains = grad_in / grad_out
    # Hidden layers only, after the first two (the input is not yet at the fixed point q*)
    # and without the first layer (no input gradient) or the read-out (linear).
    hidden = gains[2:depth] if depth > 3 else gains[1:depth]
    hidden = hidden[np.isfinite(hidden)]
    theory = meanfield.mean_field(sigma_w2, sigma_b2)
    with np.errstate(all="ignore"):
        test = model.evaluate(ds.X_test, ds.y_test)
        train = model.evaluate(ds.X_train, ds.y_train)
    ok = lambda v: float(v) if math.isfinite(float(v)) else None  # noqa: E731
    return {
        "test_accuracy": ok(test["accuracy"]),
        "train_accuracy": ok(train["accuracy"]),
        "train_loss": ok(train["loss"]),
        "diverged": int(hist.stop_reason is not None),
        "measured_gain": float(np.median(hidden)) if hidden.size else None,
        "measured_gain_per_layer": [ok(g) for g in gains[:depth]],
        "predicted_gain": theory.gain,
        "q_star": theory.q_star,
        "c_star": theory.c_star,
        "chi_1": theory.chi_1,
        "xi_c": theory.xi_c if math.isfinite(theory.xi_c) else None,
        "six_xi_c": 6 * theory.xi_c if math.isfinite(theory.xi_c) else None,
        "predicted_trainable": int(depth < 6 * theory.xi_c),
        "chance": 1.0 / ds.classes,
        "dataset": ds.name,
        "monitor": mon.diagnose().brief(),
    }


def phase_diagram(result, path, *, value: str = "test_accuracy") -> list[str]:
    """Two figures of a trainability sweep (``gc.sweep.SweepResult``): ``path`` (PNG), the
    ``value`` heatmap over (sigma_w2, depth) with the critical line and the ``6 xi_c`` curve
    of the mean-field theory, and ``path`` with ``_gain`` before the suffix, the measured
    per-layer gain against the predicted ``sqrt(chi_1)``, and ``_edge.json`` (:func:`edge`).
    Returns the three paths."""
    import matplotlib.pyplot as plt

    from ._framework import save_png

    xs, ys, Z = result.pivot("sigma_w2", "depth", value)
    sb2, lo = _sigma_b2(result), _chance(result)
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    xe, ye = result.edges(xs), result.edges(ys, log=True)
    hi = max(lo + 0.05, float(np.nanmax(Z)) if np.isfinite(Z).any() else 1.0)
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(Z), cmap="viridis", vmin=lo, vmax=hi)
    fig.colorbar(
        mesh, ax=ax, label=value.replace("_", " ") + f" (mean over seeds; bottom = chance {lo:g})"
    )
    if Z.size <= 200:  # small grids: the number in every cell
        for i, yy in enumerate(ys):
            for j, xx in enumerate(xs):
                if np.isfinite(Z[i, j]):
                    dark = Z[i, j] < lo + 0.6 * (hi - lo)
                    ax.text(xx, yy, f"{Z[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")  # fmt: skip
    crit = meanfield.critical_sigma_w2(sb2)
    ax.axvline(crit, color="white", ls="--", lw=1.5, label=f"critical line chi_1 = 1 ({crit:.2f})")
    fine = np.linspace(xe[0], xe[-1], 300)
    six = np.array([6 * meanfield.mean_field(s, sb2).xi_c for s in fine])
    ax.plot(fine, np.clip(six, ye[0], ye[-1] * 10), color="red", lw=2, label="6 xi_c (theory)")
    ax.set_yscale("log")
    ax.set_ylim(ye[0], ye[-1])
    ax.set_yticks(ys, [f"{int(d)}" for d in ys])
    ax.minorticks_off()
    ax.set_xlim(xe[0], xe[-1])
    ax.set_xlabel("sigma_w^2 (weight variance x fan_in)")
    ax.set_ylabel("depth (hidden layers, log)")
    ax.set_title(
        f"Deep tanh nets (width {_width(result)}, sigma_b^2 = {sb2:g}): "
        f"{value.replace('_', ' ')} after a fixed budget"
    )
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    save_png(fig, path)
    gain_path = str(path).rsplit(".", 1)[0] + "_gain.png"
    fig, ax = plt.subplots(figsize=(6.2, 5))
    pred, meas = result.values("predicted_gain"), result.values("measured_gain")
    depth = result.values("depth")
    for d, col in zip(ys, plt.get_cmap("plasma")(np.linspace(0, 0.85, len(ys))), strict=True):
        sel = depth == d
        ax.scatter(pred[sel], meas[sel], color=col, s=25, label=f"depth {int(d)}")
    lo = np.nanmin([np.nanmin(pred), np.nanmin(meas)]) * 0.95
    hi = np.nanmax([np.nanmax(pred), np.nanmax(meas)]) * 1.05
    ax.plot([lo, hi], [lo, hi], color="grey", ls=":", label="measured = predicted")
    ax.axhline(1, color="k", lw=0.6)
    ax.set_xlabel("predicted gain per layer: sqrt(chi_1) (mean field)")
    ax.set_ylabel("measured gain ||dL/dx|| / ||dL/dy|| (median layer, step 0)")
    ax.set_title(f"Backward gain per hidden layer (width {_width(result)})")
    ax.legend(fontsize=8)
    save_png(fig, gain_path)
    edge_path = str(path).rsplit(".", 1)[0] + "_edge.json"
    with open(edge_path, "w") as f:
        json.dump(edge(result, value=value), f, indent=1)
    return [str(path), gain_path, edge_path]


def edge(result, *, value: str = "test_accuracy") -> dict:
    """How closely the trainable region of a sweep follows the theory: for every sigma_w2,
    the depths that trained, the deepest one, and ``6 xi_c``. A (depth, sigma_w2) cell
    *trained* when its ``value`` (mean over seeds) is above the midpoint between chance and the
    best cell of the sweep (the budget is the same everywhere, so only relative levels mean
    anything). ``agree`` counts the cells where "trained" equals "depth < 6 xi_c"."""
    xs, ys, Z = result.pivot("sigma_w2", "depth", value)
    lo, sb2 = _chance(result), _sigma_b2(result)
    best = float(np.nanmax(Z))
    cut = lo + 0.5 * (best - lo)
    rows, agree, cells = [], 0, 0
    for j, sw2 in enumerate(xs):
        six = 6 * meanfield.mean_field(float(sw2), sb2).xi_c
        trained = [int(d) for i, d in enumerate(ys) if np.isfinite(Z[i, j]) and Z[i, j] > cut]
        for i, d in enumerate(ys):
            if np.isfinite(Z[i, j]):
                cells += 1
                agree += (Z[i, j] > cut) == (d < six)
        rows.append(
            {
                "sigma_w2": float(sw2),
                "six_xi_c": six if math.isfinite(six) else None,
                "trained_depths": trained,
                "deepest_trained": max(trained) if trained else None,
            }
        )
    return {"value": value, "threshold": cut, "best": best, "chance": lo, "sigma_b2": sb2,
            "rows": rows, "agree": int(agree), "cells": int(cells)}  # fmt: skip


def _sigma_b2(result) -> float:
    """The sweep's bias variance (the trial's default 0.05 if it varies or is not set)."""
    sb2 = {r["config"].get("sigma_b2", 0.05) for r in result.ok}
    return sb2.pop() if len(sb2) == 1 else 0.05


def _chance(result) -> float:
    """The chance accuracy of the sweep's data (0 if no record says)."""
    chance = result.values("chance")
    return float(np.nanmin(chance)) if np.isfinite(chance).any() else 0.0


def _width(result) -> str:
    w = {r["config"].get("width", 256) for r in result.ok}
    return ", ".join(str(x) for x in sorted(w))


def summary(result, *, value: str = "test_accuracy") -> str:
    """One line: how many cells of the sweep trained as ``depth < 6 xi_c`` predicts."""
    e = edge(result, value=value)
    deepest = ", ".join(
        f"{r['sigma_w2']:g}: {r['deepest_trained'] or '-'} (6 xi_c {r['six_xi_c'] or math.inf:.0f})"
        for r in e["rows"]
    )
    return (
        f"trained (mean {value} > {e['threshold']:.3f}, half-way from chance {e['chance']:g} to "
        f"the best cell {e['best']:.3f}) as depth < 6 xi_c predicts in {e['agree']} of "
        f"{e['cells']} cells; deepest trained per sigma_w2: {deepest}"
    )


trial("trainability", DESCRIPTION, plot=phase_diagram, summary=summary)(trainability)
