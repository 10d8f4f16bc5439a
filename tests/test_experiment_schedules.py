"""Experiment 8 (schedules): on the quick run, every recorded lr path is its schedule's formula
(recomputed here from the config; the plateau rule replayed on the recorded validation
losses), the decaying schedules end at a lower training loss and a higher test accuracy than
the constant lr, reduce-on-plateau cut the lr after stalls; files, determinism (one schedule
again)."""

import json
import math
from types import SimpleNamespace

import pytest
from _experiments import needs_data, quick_run

from gradcore import experiments, optim
from gradcore.experiments import optimizers as exp7
from gradcore.experiments import schedules as exp8
from gradcore.experiments._framework import _NoBar

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


pytestmark = needs_data


quick = quick_run("schedules")


def test_recorded_lr_paths_are_the_schedules_formulas(quick):
    r = quick[1]
    cfg, m = r["config"], r["measured"]
    E, b = cfg["epochs"], cfg["base_lr"]
    approx = lambda v: pytest.approx(v, rel=1e-12, abs=1e-15)  # noqa: E731
    assert m["constant"]["lr_per_epoch"] == approx([b] * E)
    s = cfg["step"]
    assert m["step"]["lr_per_epoch"] == approx(
        [b * s["gamma"] ** (e // s["step_size"]) for e in range(E)]
    )
    assert m["step"]["lr_cut_at_epochs"] == list(range(s["step_size"], E, s["step_size"]))
    g = cfg["exponential"]["gamma"]
    assert m["exponential"]["lr_per_epoch"] == approx([b * g**e for e in range(E)])
    assert m["exponential"]["lr_after_last_epoch"] == approx(b * 0.01)  # 1 % after the last
    c = cfg["cosine"]
    cos = [
        c["eta_min"] + (b - c["eta_min"]) * (1 + math.cos(math.pi * e / E)) / 2 for e in range(E)
    ]
    assert m["cosine"]["lr_per_epoch"] == approx(cos)
    assert m["cosine"]["lr_after_last_epoch"] == approx(c["eta_min"])  # the endpoint
    assert m["cosine"]["lr_per_epoch"][0] == b
    for kind in exp8.SCHEDULES:
        assert m[kind]["lr_follows_formula"], kind
        # the monitor's lr at its recorded steps is the rate of that step's epoch
        rec = m[kind]["monitor_lr"]
        spe = -(-r["dataset"]["n_train"] // cfg["batch_size"])
        assert len(rec["steps"]) >= 10
        want = [m[kind]["lr_per_epoch"][s // spe] for s in rec["steps"]]
        assert rec["lr"] == approx(want), kind


def test_reduce_on_plateau_cuts_after_patience_stalled_epochs(quick):
    r = quick[1]
    cfg, m = r["config"], r["measured"]["plateau"]
    p = cfg["plateau"]
    val = m["test_loss_per_epoch"][1:]  # the val_loss fit hands the rule after each epoch
    lr = m["lr_per_epoch"]
    assert m["lr_cut_at_epochs"], "the validation loss stalled at least once in the quick run"
    best, bad = math.inf, 0
    for e, v in enumerate(val[:-1]):
        if v < best * (1 - 1e-4):
            best, bad = v, 0
        else:
            bad += 1
        cut = bad > p["patience"]
        if cut:
            bad = 0
        assert lr[e + 1] == pytest.approx(lr[e] * (p["factor"] if cut else 1.0), rel=1e-12), e
    # a cut only ever follows a validation loss no better than the best so far
    for e in m["lr_cut_at_epochs"]:
        assert val[e - 1] >= min(val[: e - 1])


def test_decaying_schedules_end_lower_and_more_accurate_than_constant(quick):
    r = quick[1]
    m = r["measured"]
    const = m["constant"]
    for kind in ("step", "exponential", "cosine", "plateau"):
        assert m[kind]["final_train_loss"] < const["final_train_loss"] - 0.2, kind
        assert m[kind]["final_test_accuracy"] > const["final_test_accuracy"] + 0.03, kind
    assert r["headline"]["reproduced"]
    assert not any(v["diverged"] for k, v in m.items() if k in exp8.SCHEDULES)


def test_files_written_and_results_json_is_what_run_returned(quick):
    out, r = quick
    folder = out / "schedules"
    assert json.loads((folder / "results.json").read_text()) == r
    assert [f["file"] for f in r["figures"]] == ["schedules.png"]
    assert 10_000 < (folder / "schedules.png").stat().st_size < 200_000
    assert r["tables"] and len(r["tables"][0]["rows"]) == len(exp8.SCHEDULES)


def test_deterministic_one_schedule_again(quick):
    """The quick run takes > 8 s: its cosine run is computed again and must match."""
    r = quick[1]
    cfg = r["config"]
    ds = experiments.load_dataset(None, quick=True, seed=0)
    model = exp7.build(ds.n_features, cfg["width"], cfg["hidden_layers"], 0)
    opt = optim.SGD(model, lr=cfg["base_lr"], momentum=cfg["momentum"])
    again = exp7.recorded_fit(
        SimpleNamespace(seed=0, fit_bar=False, bar=_NoBar()),
        model,
        ds,
        opt,
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        scheduler=exp8.make_schedule("cosine", opt, cfg),
    )
    m = r["measured"]["cosine"]
    assert again["lr"] == m["lr_per_epoch"]
    assert again["train_loss"] == m["train_loss_per_epoch"]
    assert again["test_loss"] == m["test_loss_per_epoch"]


def test_bad_schedule_name_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"make_schedule: kind must be one of constant, .*'linear'"
    ):
        exp8.make_schedule("linear", None, exp8.settings(True))
    with pytest.raises(ValueError, match=r"expected_lr: the plateau rule needs val_losses"):
        exp8.expected_lr("plateau", exp8.settings(True))
