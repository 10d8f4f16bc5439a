"""Experiment 7 (optimizers): on the quick run, AdaGrad gives three tensors whose gradients
differ 10x and 100x updates of the same size while SGD's are 100x apart; momentum and the
adaptive methods reach the target loss much sooner than plain SGD at the usual default lrs;
files, and determinism (one run of the grid again)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from _experiments import needs_data, quick_run

from gradcore import experiments
from gradcore.experiments import optimizers as exp7
from gradcore.experiments._framework import _NoBar

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


pytestmark = needs_data


quick = quick_run("optimizers")


def test_adagrad_equalises_the_update_sizes_sgd_keeps_them_100x_apart(quick):
    r = quick[1]
    ill = r["measured"]["illustration"]
    lr, size = r["config"]["illustration"]["lr"], r["config"]["illustration"]["size"]
    for kind in exp7.ILLUSTRATED:
        assert ill[kind]["grad_spread"] > 30, kind  # the gradients do differ ~100x
    sgd = ill["SGD"]
    assert 30 < sgd["update_spread"] < 300
    # SGD's update is lr * g: its mean norm is lr times the mean gradient norm
    np.testing.assert_allclose(sgd["mean_update_norm"], lr * np.array(sgd["mean_grad_norm"]), 1e-4)
    for kind in ("AdaGrad", "RMSprop", "Adam"):
        assert ill[kind]["update_spread"] < 3, kind
    assert ill["AdaGrad"]["update_spread"] < 1.1
    # AdaGrad's first step is lr * g / |g| = lr * sign(g) per element: lr sqrt(size) for each
    np.testing.assert_allclose(ill["AdaGrad"]["first_step_update_norm"], lr * size**0.5, 1e-4)
    assert r["headline"]["reproduced"]


def test_momentum_and_adaptive_methods_reach_the_target_much_sooner_than_sgd(quick):
    m = quick[1]["measured"]
    d = m["defaults"]
    sgd = d["SGD"]["steps_to_target"]
    for kind in ("SGD + momentum", "Nesterov", "RMSprop", "AdaGrad", "Adam", "AdamW"):
        n = d[kind]["steps_to_target"]
        assert n is not None, kind
        assert sgd is None or 2 * n <= sgd, kind
        assert d[kind]["final_train_loss"] < d["SGD"]["final_train_loss"] - 0.3, kind
    assert m["ranking_defaults"][-1] == "SGD"
    # the monitor's step size relative to the weights: plain SGD at lr 0.01 takes the smallest
    ratios = {k: d[k]["median_update_ratio"] for k in exp7.OPTIMIZERS}
    assert all(0 < v < 0.1 for v in ratios.values()), ratios
    assert min(ratios, key=ratios.get) == "SGD"
    # at its best grid lr (10x its default) plain SGD does reach the target: the note says so
    assert m["tuned"]["SGD"]["lr"] > d["SGD"]["lr"]
    assert m["tuned"]["SGD"]["steps_to_target"] is not None
    assert any("best grid lr" in n for n in quick[1]["notes"])


def test_the_same_grid_and_rule_for_every_optimizer(quick):
    r = quick[1]
    m, factors = r["measured"], r["config"]["lr_factors"]
    for kind in exp7.OPTIMIZERS:
        g = m["lr_grid"][kind]
        np.testing.assert_allclose(g["lr"], [exp7.DEFAULT_LR[kind] * f for f in factors], 1e-3)
        best = int(np.nanargmin([np.inf if v is None else v for v in g["final_train_loss"]]))
        assert m["tuned"][kind]["lr"] == pytest.approx(g["lr"][best])
        assert m["defaults"][kind]["lr"] == pytest.approx(exp7.DEFAULT_LR[kind])


def test_files_written_and_results_json_is_what_run_returned(quick):
    out, r = quick
    folder = out / "optimizers"
    assert json.loads((folder / "results.json").read_text()) == r
    assert {f["file"] for f in r["figures"]} == {
        "training_loss.png",
        "test_accuracy.png",
        "adagrad_updates.png",
    }
    for f in r["figures"]:
        assert 10_000 < (folder / f["file"]).stat().st_size < 200_000, f
    assert len(r["tables"]) == 4


def test_deterministic_one_run_of_the_grid_again(quick):
    """The quick run takes > 8 s: one of its runs (momentum at the default lr) and the
    illustration are computed again and must give the same numbers."""
    r = quick[1]
    cfg = r["config"]
    ds = experiments.load_dataset(None, quick=True, seed=0)
    ctx = SimpleNamespace(seed=0, fit_bar=False, bar=_NoBar())
    kind = "SGD + momentum"
    model = exp7.build(ds.n_features, cfg["width"], cfg["hidden_layers"], 0)
    again = exp7.recorded_fit(
        ctx,
        model,
        ds,
        exp7.make_optimizer(kind, model, exp7.DEFAULT_LR[kind]),
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
    )
    d = r["measured"]["defaults"][kind]
    assert again["train_loss"] == d["train_loss_per_epoch"]
    assert again["test_accuracy"] == d["test_accuracy_per_epoch"]
    il = cfg["illustration"]
    ill = exp7.adagrad_illustration(
        steps=il["steps"], size=il["size"], lr=il["lr"], noise=il["noise_std"], seed=0
    )
    for kind, v in ill.items():
        assert (
            v["update_norms"].mean(axis=0).tolist()
            == (r["measured"]["illustration"][kind]["mean_update_norm"])
        )


def test_bad_optimizer_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"make_optimizer: kind must be one of SGD, .*got 'LBFGS'"):
        exp7.make_optimizer("LBFGS", None, 0.1)
