"""Experiment 7, optimizers: seven optimizers on one problem, and the AdaGrad illustration.

**The comparison.** One MLP (``F``-``width`` then two more hidden Dense(``width``, ReLU, He
normal) layers, a linear 10-way output, float32, the same init seed for every optimizer) is
trained with SGD, SGD + momentum 0.9, Nesterov (0.9), RMSprop, AdaGrad, Adam and AdamW (weight
decay 0.01), batch 32, on the same batch order. Each optimizer runs on one lr grid relative to
its usual default (:data:`DEFAULT_LR` times :data:`LR_FACTORS`: the same grid, the same budget
and the same rule for every one): the "defaults" setting is the factor-1 run of each, the
"tuned" one the grid point with the lowest training loss in the last epoch. Measured per run:
the training loss per step (smoothed over one epoch, :func:`smooth`), the number of steps to
reach ``target_loss``, the test accuracy per epoch.

**The AdaGrad illustration.** Three float32 tensors of ``size`` elements in one
:class:`~gradcore.params.ParameterArena` get the noisy gradients of a separable quadratic whose
scales are 1, 10 and 100 (:func:`scaled_gradients`); each of SGD, AdaGrad, RMSprop and Adam (the
real ``gc.optim`` classes, one lr) steps them, and the update norm ``||w_t - w_{t-1}||`` of
each tensor is recorded per step. SGD's updates are as far apart as the gradients (100x);
AdaGrad divides by each element's root sum of squared gradients, so all three get updates of
similar size (as do RMSprop and Adam, which divide by a running RMS).
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn, optim
from .._args import check_int
from ..callbacks import Callback
from ..params import ParameterArena
from ._framework import Context, register
from ._train import steps_per_epoch, watched_fit

NAME = "optimizers"

#: The usual default learning rate of each optimizer (where it comes from in the comment).
DEFAULT_LR = {
    "SGD": 1e-2,  # Keras SGD, and fit's "sgd"
    "SGD + momentum": 1e-2,  # momentum 0.9: the Keras/torch examples' setting
    "Nesterov": 1e-2,  # the same, nesterov=True
    "RMSprop": 1e-3,  # Keras RMSprop (torch's default is 1e-2)
    "AdaGrad": 1e-2,  # torch Adagrad (Keras: 1e-3)
    "Adam": 1e-3,  # Keras and torch
    "AdamW": 1e-3,  # torch AdamW, weight_decay 0.01
}
OPTIMIZERS = tuple(DEFAULT_LR)
#: The lr grid, relative to the default: one decade either side, in half-decades (the quick
#: run: in decades).
LR_FACTORS = (0.1, 10**-0.5, 1.0, 10**0.5, 10.0)
QUICK_LR_FACTORS = (0.1, 1.0, 10.0)
#: Gradient scales of the AdaGrad illustration's three tensors.
SCALES = (1.0, 10.0, 100.0)
ILLUSTRATED = ("SGD", "AdaGrad", "RMSprop", "Adam")

#: One line for ``gradcore experiment list``, and the headline the material reports.
DESCRIPTION = (
    "SGD, momentum, Nesterov, RMSprop, AdaGrad, Adam, AdamW on one MLP (lr grid); AdaGrad on "
    "gradients 1x/10x/100x"
)
EXPECTED = (
    "momentum and the adaptive methods reach a low training loss much faster than plain SGD; "
    "AdaGrad gives tensors whose gradients differ 10x and 100x updates of similar size"
)


def make_optimizer(kind: str, params, lr: float):
    """The ``gc.optim`` optimizer called ``kind`` (one of :data:`OPTIMIZERS`) at ``lr`` on
    ``params`` (an arena or a model)."""
    if kind == "SGD":
        return optim.SGD(params, lr=lr)
    if kind == "SGD + momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if kind == "Nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if kind == "RMSprop":
        return optim.RMSprop(params, lr=lr)
    if kind == "AdaGrad":
        return optim.AdaGrad(params, lr=lr)
    if kind == "Adam":
        return optim.Adam(params, lr=lr)
    if kind == "AdamW":
        return optim.AdamW(params, lr=lr, weight_decay=1e-2)
    raise ValueError(f"make_optimizer: kind must be one of {', '.join(OPTIMIZERS)}, got {kind!r}")


def build(d_in: int, width: int, hidden: int, seed: int) -> nn.Sequential:
    """``d_in``-``width`` then ``hidden - 1`` more Dense(``width``, ReLU, He normal), then 10
    logits (Xavier uniform); float32."""
    f32 = np.float32
    layers = [
        nn.Dense(
            d_in if i == 0 else width, width, "relu", init="he_normal", dtype=f32, seed=seed + i
        )
        for i in range(hidden)
    ]
    layers.append(nn.Dense(width, 10, "linear", init="xavier_uniform", dtype=f32, seed=seed + 99))
    return nn.Sequential(layers)


class _BatchLosses(Callback):
    """Records every step's mini-batch training loss."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, trainer, step, logs) -> None:
        self.losses.append(float(logs["loss"]))


def smooth(losses, window: int) -> np.ndarray:
    """The running mean of the last ``window`` (int >= 1) batch losses (fewer at the start):
    ``[T]`` float64 from ``losses`` ``[T]``; from a non-finite loss on, the mean is NaN/inf."""
    window = check_int("window", window, owner="smooth", min=1)
    x = np.asarray(losses, np.float64)
    c = np.concatenate([[0.0], np.cumsum(x)])
    t = np.arange(1, len(x) + 1)
    lo = np.maximum(t - window, 0)
    return (c[t] - c[lo]) / (t - lo)


def steps_to(curve: np.ndarray, target: float) -> int | None:
    """The first step (1-based) at which ``curve`` is below ``target``, ``None`` if never."""
    hit = np.flatnonzero(np.asarray(curve) < target)
    return int(hit[0]) + 1 if hit.size else None


def scaled_gradients(w: np.ndarray, target: np.ndarray, scale: float, noise: np.ndarray):
    """The gradient ``scale * (w - target + noise)`` of ``scale/2 ||w - target||^2`` with
    mini-batch-like noise: all ``[n]`` float32 (``scale`` a float)."""
    return (np.float32(scale) * (w - target + noise)).astype(np.float32)


def adagrad_illustration(*, steps: int, size: int, lr: float, noise: float, seed: int) -> dict:
    """Step three tensors (``[size]`` float32 each, start 0, targets N(0, 1)) whose gradients
    have the scales :data:`SCALES` with each optimizer of :data:`ILLUSTRATED` at ``lr`` for
    ``steps`` steps (the same gradient noise, N(0, noise^2), for every optimizer).
    Returns ``{optimizer: {"update_norms": [steps, 3], "grad_norms": [steps, 3]}}`` (float64)."""
    steps = check_int("steps", steps, owner="adagrad_illustration", min=1)
    size = check_int("size", size, owner="adagrad_illustration", min=1)
    rng = np.random.default_rng([seed, 7])
    k = len(SCALES)
    targets = rng.standard_normal((k, size)).astype(np.float32)
    xi = (noise * rng.standard_normal((steps, k, size))).astype(np.float32)
    out = {}
    for kind in ILLUSTRATED:
        arena = ParameterArena(
            [(f"w{i}", np.zeros(size, np.float32), np.zeros(size, np.float32)) for i in range(k)]
        )
        opt = make_optimizer(kind, arena, lr)
        W = [arena.param(f"w{i}") for i in range(k)]
        G = [arena.grad_of(f"w{i}") for i in range(k)]
        upd = np.zeros((steps, k))
        gn = np.zeros((steps, k))
        for t in range(steps):
            before = [w.copy() for w in W]
            for i, s in enumerate(SCALES):
                G[i][:] = scaled_gradients(W[i], targets[i], s, xi[t, i])
                gn[t, i] = np.linalg.norm(G[i].astype(np.float64))
            opt.step()
            for i in range(k):
                upd[t, i] = np.linalg.norm((W[i] - before[i]).astype(np.float64))
        out[kind] = {"update_norms": upd, "grad_norms": gn}
    return out


def recorded_fit(
    ctx: Context, model, ds, opt, *, epochs: int, batch_size: int, scheduler=None, records=20
):
    """:func:`~._train.watched_fit` with ``opt`` (and ``scheduler``) plus the loss of every
    batch: its dict and ``"batch_losses"`` [steps]."""
    rec = _BatchLosses()
    r = watched_fit(
        ctx, model, ds, epochs=epochs, batch_size=batch_size, optimizer=opt,
        scheduler=scheduler, callbacks=[rec], records=records,
    )  # fmt: skip
    return {**r, "batch_losses": rec.losses}


def _summary(r: dict, spe: int, target: float) -> dict:
    curve = smooth(r["batch_losses"], spe)
    final = r["train_loss"][-1] if r["train_loss"] else math.nan
    return {
        "final_train_loss": final,
        "steps_to_target": steps_to(curve, target),
        "final_test_accuracy": r["test_accuracy"][-1],
        "diverged": r["stop_reason"] is not None or not math.isfinite(final),
        "median_update_ratio": median_update_ratio(r["monitor"]),
    }


def median_update_ratio(mon) -> float:
    """The monitor's median ``||dW|| / ||W||`` over its records and the weight matrices (the
    size of a step relative to the weights; ~1e-3 is the usual rule of thumb), NaN if none."""
    h = mon.history
    cols = [i for i, shape in enumerate(h.tensor_shapes) if len(shape) >= 2]
    r = h.update_ratio()[:, cols]
    r = r[np.isfinite(r)]
    return float(np.median(r)) if r.size else math.nan


def _rank_key(s: dict) -> tuple:
    """Fewest steps to the target first; those that never reach it by final training loss."""
    n = s["steps_to_target"]
    loss = s["final_train_loss"]
    return (n is None, n or 0, loss if loss is not None and math.isfinite(loss) else math.inf)


@register(7, NAME, DESCRIPTION, EXPECTED)
def run(ctx: Context) -> dict:
    ds = ctx.dataset()
    factors = QUICK_LR_FACTORS if ctx.quick else LR_FACTORS
    cfg = {
        "optimizers": list(OPTIMIZERS),
        "default_lr": dict(DEFAULT_LR),
        "lr_factors": [round(f, 4) for f in factors],
        "tuning": "the same lr grid (default x lr_factors), budget and init for every "
        "optimizer; tuned = the grid point with the lowest mean training loss in the last epoch",
        "hidden_layers": 3,
        "width": 64 if ctx.quick else 128,
        "epochs": 4 if ctx.quick else 20,
        "batch_size": 32,
        "target_loss": 1.75 if ctx.quick else 1.0,
        "steps_to_target": "first step at which the mean batch loss of the last epoch's worth "
        "of steps is below target_loss",
        "model": "Dense(ReLU, he_normal) x hidden_layers -> Dense(10, xavier_uniform), float32",
        "hyper": "momentum/Nesterov 0.9; RMSprop alpha 0.99, eps 1e-8; AdaGrad eps 1e-10; "
        "Adam/AdamW betas (0.9, 0.999), eps 1e-8; AdamW weight_decay 0.01",
        "input_features": ds.n_features,
        "illustration": {
            "scales": list(SCALES),
            "optimizers": list(ILLUSTRATED),
            "steps": 100 if ctx.quick else 300,
            "size": 100,
            "lr": 1e-2,
            "noise_std": 0.5,
            "loss": "sum_i scale_i/2 ||w_i - target_i||^2, gradient scale_i (w_i - target_i + "
            "noise), w_i start at 0",
        },
    }
    spe = steps_per_epoch(len(ds.X_train), cfg["batch_size"])
    ctx.open_bar(spe * cfg["epochs"] * len(OPTIMIZERS) * len(factors))
    runs: dict[str, dict[float, dict]] = {}
    for kind in OPTIMIZERS:
        runs[kind] = {}
        for f in factors:
            lr = DEFAULT_LR[kind] * f
            ctx.stage(f"{kind} lr {lr:.2g}")
            model = build(ds.n_features, cfg["width"], cfg["hidden_layers"], ctx.seed)
            runs[kind][f] = recorded_fit(
                ctx, model, ds, make_optimizer(kind, model, lr),
                epochs=cfg["epochs"], batch_size=cfg["batch_size"],
            )  # fmt: skip

    target = cfg["target_loss"]
    measured: dict = {"defaults": {}, "tuned": {}, "lr_grid": {}}
    for kind in OPTIMIZERS:
        sums = {f: _summary(runs[kind][f], spe, target) for f in factors}
        measured["lr_grid"][kind] = {
            "lr": [DEFAULT_LR[kind] * f for f in factors],
            "final_train_loss": [sums[f]["final_train_loss"] for f in factors],
            "steps_to_target": [sums[f]["steps_to_target"] for f in factors],
            "final_test_accuracy": [sums[f]["final_test_accuracy"] for f in factors],
        }
        best = min(
            factors,
            key=lambda f: (sums[f]["diverged"], _nan_last(sums[f]["final_train_loss"])),
        )
        for setting, f in (("defaults", 1.0), ("tuned", best)):
            r = runs[kind][f]
            measured[setting][kind] = {
                "lr": DEFAULT_LR[kind] * f,
                "lr_factor": f,
                **sums[f],
                "train_loss_per_epoch": r["train_loss"],
                "test_accuracy_per_epoch": r["test_accuracy"],
            }
    for setting in ("defaults", "tuned"):
        m = measured[setting]
        order = sorted(OPTIMIZERS, key=lambda k: _rank_key(m[k]))
        measured[f"ranking_{setting}"] = order
        ctx.table(
            f"{setting}: steps to a smoothed training loss < {target} ({spe} steps per epoch, "
            f"{cfg['epochs']} epochs)",
            [
                "optimizer",
                "lr",
                "steps to target",
                "final train loss",
                "final test acc",
                "median ||dW||/||W||",
            ],
            [
                [
                    k,
                    f"{m[k]['lr']:.3g}",
                    "never" if m[k]["steps_to_target"] is None else m[k]["steps_to_target"],
                    f"{m[k]['final_train_loss']:.3f}",
                    f"{m[k]['final_test_accuracy']:.3f}",
                    f"{m[k]['median_update_ratio']:.1e}",
                ]
                for k in order
            ],
        )
    ctx.table(
        f"The lr grid: mean training loss in epoch {cfg['epochs']} (lr = default x factor; "
        "the lowest of each row is its tuned lr)",
        ["optimizer", "default lr", *(f"x {f:.3g}" for f in factors)],
        [
            [k, f"{DEFAULT_LR[k]:.3g}",
             *(f"{v:.3f}" if math.isfinite(_nan_last(v)) else "diverged"
               for v in measured["lr_grid"][k]["final_train_loss"])]
            for k in OPTIMIZERS
        ],
    )  # fmt: skip

    ctx.stage("AdaGrad illustration")
    il = cfg["illustration"]
    ill = adagrad_illustration(
        steps=il["steps"], size=il["size"], lr=il["lr"], noise=il["noise_std"], seed=ctx.seed
    )
    measured["illustration"] = {}
    rows = []
    for kind, d in ill.items():
        u = d["update_norms"].mean(axis=0)
        g = d["grad_norms"].mean(axis=0)
        m = {
            "mean_update_norm": u.tolist(),
            "mean_grad_norm": g.tolist(),
            "update_spread": float(u.max() / u.min()),
            "grad_spread": float(g.max() / g.min()),
            "first_step_update_norm": d["update_norms"][0].tolist(),
        }
        measured["illustration"][kind] = m
        rows.append(
            [
                kind,
                *(f"{v:.3g}" for v in g),
                *(f"{v:.3g}" for v in u),
                f"{m['grad_spread']:.0f}x",
                f"{m['update_spread']:.2f}x",
            ]
        )
    sc = [f"x{s:g}" for s in SCALES]
    ctx.table(
        f"AdaGrad illustration: mean norms over {il['steps']} steps (lr {il['lr']}, tensors of "
        f"{il['size']} elements)",
        ["optimizer", *(f"||g|| {s}" for s in sc), *(f"||update|| {s}" for s in sc),
         "grad spread", "update spread"],
        rows,
    )  # fmt: skip

    _figures(ctx, runs, measured, ill, cfg, spe)
    return _conclude(ctx, cfg, measured)


def _nan_last(v) -> float:
    return v if v is not None and math.isfinite(v) else math.inf


def _conclude(ctx: Context, cfg: dict, measured: dict) -> dict:
    target = cfg["target_loss"]
    ill = measured["illustration"]
    ada, sgd_ill = ill["AdaGrad"]["update_spread"], ill["SGD"]["update_spread"]
    fast = ("SGD + momentum", "Nesterov", "RMSprop", "Adam", "AdamW")

    def n(setting, k):
        v = measured[setting][k]["steps_to_target"]
        return math.inf if v is None else v

    def twice_as_fast(setting, k):  # reaches the target, in at most half of SGD's steps
        return n(setting, k) < math.inf and 2 * n(setting, k) <= n(setting, "SGD")

    d = measured["defaults"]
    faster = {k: twice_as_fast("defaults", k) for k in fast}
    faster_tuned = {k: twice_as_fast("tuned", k) for k in fast}
    measured["faster_than_sgd_2x_defaults"] = faster
    measured["faster_than_sgd_2x_tuned"] = faster_tuned
    adagrad_ok = ada < 3 and sgd_ill > 30
    reproduced = all(faster.values()) and adagrad_ok

    def shown(setting, k):
        v = measured[setting][k]["steps_to_target"]
        return "never" if v is None else str(v)

    rank = measured["ranking_defaults"]
    headline = (
        f"steps to train loss < {target} at the default lrs: "
        + ", ".join(f"{k} {shown('defaults', k)}" for k in rank)
        + " (tuned: "
        + ", ".join(f"{k} {shown('tuned', k)}" for k in measured["ranking_tuned"])
        + f"); AdaGrad updates within {ada:.2f}x for gradients {ill['AdaGrad']['grad_spread']:.0f}x"
        f" apart (SGD {sgd_ill:.0f}x)"
    )
    ctx.notes.append(
        f"The comparison runs every optimizer at {len(cfg['lr_factors'])} learning rates (its "
        f"usual default times {', '.join(f'{f:.3g}' for f in cfg['lr_factors'])}) with the "
        "same init, batch order and budget; "
        "'defaults' is the factor-1 run, 'tuned' the grid point with the lowest final training "
        "loss. Plain SGD's default (0.01) is 10x smaller than momentum's effective step "
        "lr / (1 - 0.9), so the default comparison mixes two effects; the tuned one separates "
        "them."
    )
    accs = [measured["tuned"][k]["final_test_accuracy"] for k in OPTIMIZERS]
    ctx.notes.append(
        f"At their best grid lrs the seven end within {min(accs):.1%} - {max(accs):.1%} test "
        f"accuracy after {cfg['epochs']} epochs (final training losses "
        f"{min(measured['tuned'][k]['final_train_loss'] for k in OPTIMIZERS):.3f} - "
        f"{max(measured['tuned'][k]['final_train_loss'] for k in OPTIMIZERS):.3f}): what "
        "separates them here is how fast they get to a low training loss, not where they end."
    )
    slow = [k for k, ok in faster.items() if not ok]
    if slow:
        ctx.notes.append(
            "Not reproduced for " + ", ".join(slow) + f" at the default lrs: they do not reach "
            f"the target loss in half of plain SGD's steps ({shown('defaults', 'SGD')})."
        )
    slow_t = [k for k, ok in faster_tuned.items() if not ok]
    if slow_t:
        ctx.notes.append(
            "With every optimizer at its best grid lr, plain SGD "
            f"(lr {d['SGD']['lr']:.3g} -> {measured['tuned']['SGD']['lr']:.3g}) reaches the "
            f"target in {shown('tuned', 'SGD')} steps: not 2x slower than "
            + ", ".join(f"{k} ({shown('tuned', k)})" for k in slow_t)
            + ". Much of the default-lr gap is the step size, not the method."
        )
    if not adagrad_ok:
        ctx.notes.append(
            f"AdaGrad illustration not as expected: update spread {ada:.2f}x (want < 3x), SGD's "
            f"{sgd_ill:.0f}x (want > 30x)."
        )
    return ctx.finish(config=cfg, measured=measured, headline=headline, reproduced=reproduced)


def _figures(ctx, runs, measured, ill, cfg, spe) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    target = cfg["target_loss"]
    colors = dict(zip(OPTIMIZERS, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    which = {"defaults": "default lrs", "tuned": "best lr of the grid"}
    chance = math.log(10)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    for ax, setting in zip(axes, which, strict=True):
        for k in OPTIMIZERS:
            m = measured[setting][k]
            curve = smooth(runs[k][m["lr_factor"]]["batch_losses"], spe)
            every = max(1, len(curve) // 400)  # at most ~400 points a line (the PNG's size)
            t = np.arange(1, len(curve) + 1)[::every]
            ax.plot(t, curve[::every], color=colors[k], label=f"{k} (lr {m['lr']:.2g})")
        ax.axhline(target, color="grey", ls=":", label=f"target {target}")
        ax.axhline(chance, color="grey", ls="--", lw=0.8, label="chance level (ln 10)")
        ax.set_ylim(top=1.3 * chance)  # a spike at the start (a high lr) would squash the rest
        ax.set_xlabel(f"step (batch of {cfg['batch_size']})")
        ax.set_ylabel("training loss (running mean over one epoch)")
        ax.set_title(f"training loss, {which[setting]}")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.figure(
        fig,
        "training_loss.png",
        "Training loss per step (running mean over one epoch) of the seven optimizers at their "
        "default lrs and at their best grid lrs.",
    )

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2), sharey=True)
    for ax, setting in zip(axes[:2], which, strict=True):
        for k in OPTIMIZERS:
            acc = measured[setting][k]["test_accuracy_per_epoch"]
            ax.plot(range(len(acc)), acc, "o-", ms=3, color=colors[k], label=k)
        ax.axhline(0.1, color="grey", ls=":", label="chance (10 %)")
        ax.set_xlabel("epoch (0 = before training)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.set_title(f"test accuracy, {which[setting]}")
    ax = axes[2]
    for k in OPTIMIZERS:
        g = measured["lr_grid"][k]
        ax.plot(g["lr"], g["final_test_accuracy"], "o-", color=colors[k], label=k)
    ax.axhline(0.1, color="grey", ls=":", label="chance (10 %)")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log)")
    ax.set_ylabel(f"test accuracy after epoch {cfg['epochs']}")
    ax.set_title("lr sensitivity (the tuning grid; Adam under AdamW)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.figure(
        fig,
        "test_accuracy.png",
        "Test accuracy per epoch of every optimizer (default and best grid lr), and the final "
        "test accuracy against the lr.",
    )

    fig, axes = plt.subplots(1, len(ill), figsize=(4 * len(ill), 3.8), sharey=True)
    for ax, (kind, d) in zip(axes, ill.items(), strict=True):
        steps = np.arange(1, d["update_norms"].shape[0] + 1)
        for i, s in enumerate(SCALES):
            ax.plot(steps, d["update_norms"][:, i], label=f"gradient x{s:g}")
        m = measured["illustration"][kind]
        ax.set_title(
            f"{kind}: gradients {m['grad_spread']:.0f}x apart,\nupdates {m['update_spread']:.3g}x"
        )
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("||w_t - w_(t-1)|| per tensor (log)")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "Three tensors whose gradients differ 10x and 100x "
        f"(lr {cfg['illustration']['lr']} for every optimizer)"
    )
    fig.tight_layout()
    ctx.figure(
        fig,
        "adagrad_updates.png",
        "Update norm per step of three tensors whose gradients are 1x, 10x and 100x: SGD's "
        "updates are as far apart as the gradients, AdaGrad's (and RMSprop's, Adam's) are not.",
    )
