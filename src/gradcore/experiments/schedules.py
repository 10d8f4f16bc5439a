"""Experiment 8, learning-rate schedules: constant, step, exponential, cosine, reduce-on-plateau.

One problem, one optimizer, one init: the MLP of experiment 7 (:func:`.optimizers.build`)
trained with SGD + momentum 0.9 at a deliberately high base rate ``base_lr``, batch 32, for
``epochs`` epochs, under five schedules (``gc.optim``; each stepped once per epoch by ``fit``):

- constant: ``base_lr`` throughout;
- step: ``StepLR(step_size, gamma=0.1)``, two drops of 10x;
- exponential: ``ExponentialLR(gamma)`` with ``gamma = 0.01 ** (1 / epochs)`` (1 % of the base
  rate after the last epoch);
- cosine: ``CosineAnnealingLR(T_max=epochs)`` to 0;
- plateau: ``ReduceLROnPlateau(factor, patience)`` on the validation loss (the test set, which
  every experiment here uses as ``validation_data``).

Measured: the lr each epoch ran at (``History["lr"]``) and whether it is the schedule's formula
(for the plateau rule: a replay of the rule on the recorded validation losses), the training
loss and test loss/accuracy per epoch.
"""

from __future__ import annotations

import math

import numpy as np

from .. import optim
from ._framework import Context, register
from ._train import steps_per_epoch
from .optimizers import build, recorded_fit

NAME = "schedules"
SCHEDULES = ("constant", "step", "exponential", "cosine", "plateau")
DECAYING = ("step", "exponential", "cosine")

#: One line for ``gradcore experiment list``, and the headline the material reports.
DESCRIPTION = (
    "constant, step, exponential, cosine, reduce-on-plateau on one MLP (SGD + momentum, high lr)"
)
EXPECTED = (
    "a decaying schedule ends at a lower loss / higher accuracy than the constant lr; "
    "reduce-on-plateau cuts the lr when the validation loss stalls"
)


def settings(quick: bool) -> dict:
    """The experiment's configuration (also what the tests recompute the lr paths from)."""
    epochs = 12 if quick else 30
    return {
        "epochs": epochs,
        "base_lr": 0.1,
        "optimizer": "SGD",
        "momentum": 0.9,
        "batch_size": 32,
        "hidden_layers": 3,
        "width": 64 if quick else 128,
        "step": {"step_size": epochs // 3, "gamma": 0.1},
        "exponential": {"gamma": 0.01 ** (1 / epochs)},
        "cosine": {"T_max": epochs, "eta_min": 0.0},
        "plateau": {"factor": 0.2, "patience": 1 if quick else 2, "metric": "val_loss (test set)"},
    }


def make_schedule(kind: str, opt, cfg: dict):
    """The ``gc.optim`` schedule ``kind`` (one of :data:`SCHEDULES`) on ``opt`` with the
    settings of ``cfg`` (:func:`settings`); ``None`` for ``"constant"``."""
    if kind == "constant":
        return None
    if kind == "step":
        return optim.StepLR(opt, **cfg["step"])
    if kind == "exponential":
        return optim.ExponentialLR(opt, **cfg["exponential"])
    if kind == "cosine":
        return optim.CosineAnnealingLR(opt, **cfg["cosine"])
    if kind == "plateau":
        p = cfg["plateau"]
        return optim.ReduceLROnPlateau(opt, factor=p["factor"], patience=p["patience"])
    raise ValueError(f"make_schedule: kind must be one of {', '.join(SCHEDULES)}, got {kind!r}")


def expected_lr(kind: str, cfg: dict, val_losses=None) -> list[float]:
    """The rate of every epoch ``0 .. epochs - 1`` by the schedule's formula (the plateau rule
    replayed on ``val_losses``, ``[epochs]`` floats, with a fresh ``ReduceLROnPlateau``)."""
    E, b = cfg["epochs"], cfg["base_lr"]
    if kind == "constant":
        return [b] * E
    if kind == "step":
        s = cfg["step"]
        return [b * s["gamma"] ** (e // s["step_size"]) for e in range(E)]
    if kind == "exponential":
        return [b * cfg["exponential"]["gamma"] ** e for e in range(E)]
    if kind == "cosine":
        c = cfg["cosine"]
        return [
            c["eta_min"] + (b - c["eta_min"]) * (1 + math.cos(math.pi * e / c["T_max"])) / 2
            for e in range(E)
        ]
    if kind == "plateau":
        if val_losses is None:
            raise ValueError("expected_lr: the plateau rule needs val_losses, got None")
        p = cfg["plateau"]
        best, bad, lr, out = math.inf, 0, b, []
        for v in val_losses:
            out.append(lr)
            if v < best * (1 - 1e-4):  # torch's default threshold, mode min, rel
                best, bad = v, 0
            else:
                bad += 1
            if bad > p["patience"]:
                if lr - lr * p["factor"] > 1e-8:  # the rule's default eps
                    lr = lr * p["factor"]
                bad = 0
        return out
    raise ValueError(f"expected_lr: kind must be one of {', '.join(SCHEDULES)}, got {kind!r}")


@register(8, NAME, DESCRIPTION, EXPECTED)
def run(ctx: Context) -> dict:
    ds = ctx.dataset()
    cfg = {**settings(ctx.quick), "input_features": ds.n_features}
    spe = steps_per_epoch(len(ds.X_train), cfg["batch_size"])
    ctx.open_bar(spe * cfg["epochs"] * len(SCHEDULES))
    runs = {}
    for kind in SCHEDULES:
        ctx.stage(kind)
        model = build(ds.n_features, cfg["width"], cfg["hidden_layers"], ctx.seed)
        opt = optim.SGD(model, lr=cfg["base_lr"], momentum=cfg["momentum"])
        sched = make_schedule(kind, opt, cfg)
        r = recorded_fit(
            ctx, model, ds, opt, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
            scheduler=sched,
        )  # fmt: skip
        r["lr_after"] = float(opt.lr)
        runs[kind] = r

    measured = {}
    for kind, r in runs.items():
        want = expected_lr(kind, cfg, r["test_loss"][1:])
        ok = len(r["lr"]) == cfg["epochs"] and all(
            math.isclose(a, w, rel_tol=1e-9, abs_tol=1e-15)
            for a, w in zip(r["lr"], want, strict=False)
        )
        mon = r["monitor"].history
        spe_lr = [r["lr"][int(e)] for e in mon.epochs]  # the epoch's rate at each record
        monitor_ok = len(mon) > 0 and np.allclose(mon.lr, spe_lr, rtol=1e-12, atol=0)
        cuts = [e for e in range(1, len(r["lr"])) if r["lr"][e] < r["lr"][e - 1] * (1 - 1e-9)]
        measured[kind] = {
            "lr_per_epoch": r["lr"],
            "lr_after_last_epoch": r["lr_after"],
            "lr_follows_formula": ok,
            "monitor_lr_matches": bool(monitor_ok),
            "monitor_lr": {"steps": mon.steps.tolist(), "lr": mon.lr.tolist()},
            "lr_cut_at_epochs": cuts,
            "train_loss_per_epoch": r["train_loss"],
            "test_loss_per_epoch": r["test_loss"],
            "test_accuracy_per_epoch": r["test_accuracy"],
            "final_train_loss": r["train_loss"][-1] if r["train_loss"] else math.nan,
            "final_test_loss": r["test_loss"][-1],
            "final_test_accuracy": r["test_accuracy"][-1],
            "best_test_accuracy": max(r["test_accuracy"]),
            "diverged": r["stop_reason"] is not None,
        }
    ctx.table(
        f"After {cfg['epochs']} epochs of SGD + momentum {cfg['momentum']}, base lr "
        f"{cfg['base_lr']}",
        ["schedule", "final lr", "lr cut at epochs", "lr = formula", "train loss", "test loss",
         "test acc", "best test acc"],
        [
            [
                k, f"{m['lr_per_epoch'][-1]:.3g}",
                _cuts(m["lr_cut_at_epochs"], cfg["epochs"]),
                "yes" if m["lr_follows_formula"] else "NO",
                f"{m['final_train_loss']:.3f}", f"{m['final_test_loss']:.3f}",
                f"{m['final_test_accuracy']:.3f}", f"{m['best_test_accuracy']:.3f}",
            ]
            for k, m in measured.items()
        ],
    )  # fmt: skip
    _figure(ctx, measured, cfg, spe)
    return _conclude(ctx, cfg, measured)


def _cuts(cuts: list[int], epochs: int) -> str:
    if len(cuts) == epochs - 1:
        return "every epoch"
    return ", ".join(map(str, cuts)) or "-"


def _conclude(ctx: Context, cfg: dict, measured: dict) -> dict:
    const = measured["constant"]
    lower_loss = {k: measured[k]["final_train_loss"] < const["final_train_loss"] for k in DECAYING}
    higher_acc = {
        k: measured[k]["final_test_accuracy"] > const["final_test_accuracy"] for k in DECAYING
    }
    plateau_cut = bool(measured["plateau"]["lr_cut_at_epochs"])
    formulas = all(m["lr_follows_formula"] and m["monitor_lr_matches"] for m in measured.values())
    measured["decay_lower_train_loss"] = lower_loss
    measured["decay_higher_test_accuracy"] = higher_acc
    reproduced = formulas and plateau_cut and all(lower_loss.values()) and all(higher_acc.values())
    headline = (
        "final test acc / train loss: "
        + ", ".join(
            f"{k} {m['final_test_accuracy']:.1%} / {m['final_train_loss']:.3f}"
            for k, m in ((k, measured[k]) for k in SCHEDULES)
        )
        + f"; plateau cut the lr at epochs {measured['plateau']['lr_cut_at_epochs'] or 'none'}"
    )
    acc = const["test_accuracy_per_epoch"]
    peak = int(np.argmax(acc))
    if acc[peak] - acc[-1] > 0.05:
        ctx.notes.append(
            f"At base lr {cfg['base_lr']} (momentum {cfg['momentum']}: an effective step of "
            f"{cfg['base_lr'] / (1 - cfg['momentum']):.2g}) the constant run does not just "
            f"stall, it degrades: its test accuracy peaked at {acc[peak]:.1%} after epoch {peak} "
            f"and ended at {acc[-1]:.1%} (training loss {min(const['train_loss_per_epoch']):.3f} "
            f"at best, {const['final_train_loss']:.3f} at the end), without a non-finite step."
        )
    if not formulas:
        bad = [k for k in SCHEDULES if not measured[k]["lr_follows_formula"]]
        ctx.notes.append("The recorded lr does NOT follow the formula for: " + ", ".join(bad))
    if not all(lower_loss.values()):
        ctx.notes.append(
            "Not reproduced: "
            + ", ".join(k for k, v in lower_loss.items() if not v)
            + " did not end at a lower training loss than the constant lr "
            f"({const['final_train_loss']:.3f})."
        )
    if not all(higher_acc.values()):
        ctx.notes.append(
            "Not reproduced: "
            + ", ".join(k for k, v in higher_acc.items() if not v)
            + " did not end at a higher test accuracy than the constant lr "
            f"({const['final_test_accuracy']:.1%})."
        )
    if not plateau_cut:
        ctx.notes.append(
            "Reduce-on-plateau never cut the lr: the validation loss kept improving within "
            f"patience {cfg['plateau']['patience']}."
        )
    return ctx.finish(config=cfg, measured=measured, headline=headline, reproduced=reproduced)


def _figure(ctx: Context, measured: dict, cfg: dict, spe: int) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    E = cfg["epochs"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.2))
    colors = {"constant": "k", "step": "C0", "exponential": "C1", "cosine": "C2", "plateau": "C3"}
    (a_lr, a_tr), (a_te, a_acc) = axes
    for kind in SCHEDULES:
        m = measured[kind]
        # constant: black, dashed and under the rest (plateau starts on the same rate)
        st = {"color": colors[kind], "zorder": 2}
        if kind == "constant":
            st.update(ls="--", zorder=1)
        lr = np.asarray(m["lr_per_epoch"])
        a_lr.step(np.arange(len(lr) + 1) * spe, np.append(lr, lr[-1]), where="post", label=kind,
                  **st)  # fmt: skip
        ep = np.arange(1, len(m["train_loss_per_epoch"]) + 1)
        a_tr.plot(ep, m["train_loss_per_epoch"], label=kind, **st)
        a_te.plot(range(len(m["test_loss_per_epoch"])), m["test_loss_per_epoch"], label=kind,
                  **st)  # fmt: skip
        a_acc.plot(range(len(m["test_accuracy_per_epoch"])), m["test_accuracy_per_epoch"],
                   label=kind, **st)  # fmt: skip
    for e in measured["plateau"]["lr_cut_at_epochs"]:
        a_te.axvline(e, color=colors["plateau"], ls="--", lw=0.8, alpha=0.7)
    a_lr.set_yscale("log")
    a_lr.set_xlabel(f"step (batch of {cfg['batch_size']}; {spe} steps per epoch)")
    a_lr.set_ylabel("learning rate (log)")
    a_lr.set_title(f"lr per step (SGD + momentum {cfg['momentum']}, base lr {cfg['base_lr']})")
    a_tr.set_xlabel("epoch")
    a_tr.set_ylabel("training loss, mean over the epoch")
    a_tr.set_title("training loss")
    a_te.set_xlabel("epoch (0 = before training)")
    a_te.set_ylabel("test (validation) loss")
    a_te.set_title("test loss (red dashes: plateau cut the lr after that epoch)")
    a_acc.axhline(0.1, color="grey", ls=":", label="chance (10 %)")
    a_acc.set_ylim(0, 1)
    a_acc.set_xlabel("epoch (0 = before training)")
    a_acc.set_ylabel("test accuracy")
    a_acc.set_title("test accuracy")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if ax is not a_lr:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a_lr.set_xlim(0, E * spe)
    fig.tight_layout()
    ctx.figure(
        fig,
        "schedules.png",
        "The five schedules: lr per step (log), training loss, test loss and test accuracy per "
        "epoch.",
    )
