"""Experiment 10 (timeseries): on the quick run the normalised, clipped LSTM forecasts clearly
better than persistence, the raw-units run does not learn, clipping is measured, the files are
written, and the run is deterministic given its seed."""

import json

import numpy as np
import pytest
from _experiments import quick_run

from gradcore import experiments
from gradcore.experiments import timeseries as ts

pytest.importorskip("matplotlib")

PERS = "persistence (last value)"


quick = quick_run("timeseries")


def _ar_name(m):
    return next(k for k in m if k.startswith("linear AR("))


def test_registered_as_experiment_10():
    e = experiments.get("timeseries")
    assert e.number == 10 and e.description and e.expected


def test_lstm_beats_persistence_by_a_margin(quick):
    m = quick[1]["measured"]
    lstm, pers, ar = m[ts.NORMALISED], m[PERS], m[_ar_name(m)]
    assert lstm["ratio_to_persistence"] < 0.8
    assert lstm["mse_normalised"] < 0.8 * pers["mse_normalised"]
    # the same holds in the original units, feature by feature
    for a, b in zip(
        lstm["mse_original_units_per_feature"], pers["mse_original_units_per_feature"], strict=True
    ):
        assert a < b
    # the least-squares AR is a strong baseline: well below persistence too
    assert ar["ratio_to_persistence"] < 0.8
    assert quick[1]["headline"]["reproduced"] is True
    # nothing leaks from the future: no forecaster beats the target's own observation noise
    floor = m["noise_floor"]["mse_normalised"]
    for name in (PERS, _ar_name(m), ts.NORMALISED):
        assert m[name]["mse_normalised"] > floor, name
    # the LSTM learned: its validation loss fell by more than 10x from its value at init
    val = lstm["val_loss_per_epoch"]
    assert val[-1] < 0.1 * val[0]


def test_without_normalisation_it_does_not_learn_and_every_step_is_clipped(quick):
    m = quick[1]["measured"]
    raw, lstm = m[ts.RAW], m[ts.NORMALISED]
    assert raw["ratio_to_persistence"] > 100  # far worse than predicting the last value
    assert raw["fraction_of_steps_clipped"] == 1.0
    assert raw["grad_norm_before_clip_median"] > 100
    # normalised: only the first steps exceed the threshold, the typical norm is below it
    assert lstm["fraction_of_steps_clipped"] < 0.2
    assert lstm["grad_norm_before_clip_median"] < 1.0
    assert (
        lstm["grad_norm_before_clip_first_epoch_mean"]
        > lstm["grad_norm_before_clip_last_epoch_mean"]
    )


def test_ar_baseline_recovers_a_known_linear_process():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3, 2))
    W = rng.standard_normal((7, 2))
    y = X.reshape(400, -1) @ W[:-1] + W[-1]
    w = ts.ar_fit(X, y)
    np.testing.assert_allclose(w, W, atol=1e-10)
    np.testing.assert_allclose(ts.ar_predict(w, X), y, atol=1e-10)


def test_normalisation_comes_from_the_training_span(quick):
    r = quick[1]
    c = r["config"]
    from gradcore import data

    s = data.coupled_oscillators(
        c["n_steps"], c["n_features"], noise=c["noise"], offset=c["offset"], scale=c["scale"],
        seed=0,
    )  # fmt: skip
    norm = r["measured"]["normalisation"]
    a = norm["from_steps"][1]
    assert a == round(0.7 * c["n_steps"])
    np.testing.assert_allclose(norm["mean"], s[:a].mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm["std"], s[:a].std(0), rtol=1e-12)
    assert not np.allclose(norm["mean"], s.mean(0), rtol=1e-6)  # not the whole series'


def test_files_written_and_results_json_is_what_run_returned(quick):
    out, r = quick
    folder = out / "timeseries"
    assert json.loads((folder / "results.json").read_text()) == r
    assert [f["file"] for f in r["figures"]] == ["forecast.png", "loss.png", "clipping.png"]
    for f in r["figures"]:
        assert 10_000 < (folder / f["file"]).stat().st_size < 200_000, f
    assert r["dataset"]["name"] == "coupled_oscillators" and r["dataset"]["n_train"] > 0
    assert len(r["tables"]) == 2 and len(r["tables"][0]["rows"]) == 5
    md = experiments.render([r], quick=True)
    assert "](timeseries/forecast.png)" in md


def test_deterministic_given_the_seed(quick, tmp_path):
    again = experiments.run("timeseries", quick=True, seed=0, out=tmp_path, progress=False)
    first = dict(quick[1])
    first.pop("wall_seconds"), again.pop("wall_seconds")
    assert again == first
