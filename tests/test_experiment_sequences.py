"""Experiment 9 (sequences): on the quick run (the adding problem at T = 100 and 200, 60 steps)
the tanh RNN's gradient through time decays orders of magnitude faster than the LSTM's once
trained; the verdict follows the measurement; files; determinism."""

import json
import math

import numpy as np
import pytest
from _experiments import quick_run

from gradcore import data, experiments
from gradcore.experiments import sequences

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


quick = quick_run("sequences")


def _runs(r):
    return {k: v for k, v in r["measured"].items() if k.startswith("T=")}


def test_quick_run_uses_every_T_of_its_config(quick):
    r = quick[1]
    assert list(_runs(r)) == [f"T={T}" for T in r["config"]["T"]]
    assert r["experiment"] == "sequences" and r["dataset"]["name"] == "adding problem"


def test_rnn_gradient_through_time_decays_faster_than_the_lstms_after_training(quick):
    """Measured (seed 0, 60 steps): log10(||dL/dh_0|| / ||dL/dh_T-1||) RNN/LSTM -11.6/-7.4 at
    T = 100, -36.1/-14.1 at T = 200. A swap of the cells, or a decay read from the wrong end
    of the sequence, fails by decades."""
    r = quick[1]
    for key, m in _runs(r).items():
        rnn, lstm = m["tanh RNN"], m["LSTM"]
        assert rnn["decay_after_training"] < lstm["decay_after_training"] - 2.0, key
        assert rnn["decay_after_training"] < -8.0, key  # vanished: 1e8x smaller at t = 0
        assert r["measured"]["decay_gap_after_training"][key] > 2.0, key
        # the curve is the figure's: ||dL/dh_t|| grows towards the last step for the RNN
        g = np.asarray(rnn["grad_through_time_after_training"])
        assert len(g) == int(key[2:]) and g[-1] > 1e6 * g[0], key


def test_training_opens_the_gap_that_is_small_at_initialisation(quick):
    """At init (orthogonal Wh, forget bias 1) the decays are 1.6 (T = 100) and 3.6 (T = 200)
    decades apart; training steepens the RNN's far more than the LSTM's, so the gap is
    measured after training, not only at init."""
    for key, m in _runs(quick[1]).items():
        rnn, lstm = m["tanh RNN"], m["LSTM"]
        gap_init = lstm["decay_at_init"] - rnn["decay_at_init"]
        gap_after = lstm["decay_after_training"] - rnn["decay_after_training"]
        assert gap_after > gap_init + 1.5, key
        assert rnn["decay_after_training"] < rnn["decay_at_init"] - 3.0, key
    T100, T200 = (_runs(quick[1])[k]["tanh RNN"]["decay_at_init"] for k in ("T=100", "T=200"))
    assert T200 < T100 - 2.0  # exponential in T: twice as long, about twice the decades


def test_the_monitor_records_both_cells_gradient_through_time_during_training(quick):
    for key, m in _runs(quick[1]).items():
        for cell in sequences.CELLS:
            r = m[cell]
            during = r["decay_during_training"]
            assert len(during) == len(r["recorded_steps"]) >= 10, (key, cell)
            assert all(v is not None and math.isfinite(v) for v in during), (key, cell)
            assert r["recorded_steps"][0] == 0
            assert during[0] == pytest.approx(r["decay_at_init"], abs=1.0), (key, cell)


def test_quick_mse_is_measured_against_the_constant_predictor(quick):
    """60 steps do not reach the LSTM's escape from the plateau (~1700 steps at T = 100 in the
    full run), so the quick run is honest about it: both cells at the baseline, not
    reproduced, and the note says the budget is why."""
    r = quick[1]
    for key, m in _runs(r).items():
        base = m["constant_predictor_mse"]
        assert 0.12 < base < 0.2, key  # Var(U1 + U2) = 1/6
        for cell in sequences.CELLS:
            mse = m[cell]["test_mse_per_epoch"]
            assert len(mse) == r["config"]["epochs"][key[2:]] + 1, (key, cell)
            assert mse[0] > 2 * base  # at init the head's output is off
            assert m[cell]["verdict"] == sequences._verdict(mse[-1], base)
    assert r["headline"]["reproduced"] is False
    assert any("LSTM does not solve the task" in n for n in r["notes"])


def _full_like(lstm_mse, rnn_mse, rnn_decay=-13.0):
    """A measured dict shaped as the full run's (its numbers, seed 0, rounded)."""
    m = {}
    for T in (50, 100, 200):
        run = {"decay_at_init": -T / 25, "decay_during_training": [-T / 25, -1.0]}
        m[f"T={T}"] = {
            "constant_predictor_mse": 0.165,
            "tanh RNN": {
                **run,
                "final_test_mse": rnn_mse[T],
                "verdict": sequences._verdict(rnn_mse[T], 0.165),
                "decay_after_training": -0.6 if T == 50 else rnn_decay,
                "underflow": False,
            },
            "LSTM": {
                **run,
                "final_test_mse": lstm_mse[T],
                "verdict": sequences._verdict(lstm_mse[T], 0.165),
                "decay_after_training": -0.9,
                "underflow": False,
            },
        }
    return m


def test_the_verdict_is_computed_from_the_measurement(tmp_path):
    from gradcore.experiments._framework import Context

    cfg = sequences._config(False)
    solved = {50: 6e-4, 100: 2e-4, 200: 9e-4}
    cases = [
        (solved, {50: 0.026, 100: 0.21, 200: 0.16}, -13.0, True),  # the full run's numbers
        ({**solved, 200: 0.16}, {50: 0.026, 100: 0.21, 200: 0.16}, -13.0, False),  # budget
        (solved, {50: 0.026, 100: 0.21, 200: 0.01}, -13.0, False),  # the RNN solves T=200
        (solved, {50: 0.026, 100: 0.21, 200: 0.16}, -1.2, False),  # no gap through time
    ]
    for lstm, rnn, rnn_decay, want in cases:
        ctx = Context("sequences", quick=False, seed=0, data=None, out=tmp_path, progress=False)
        r = sequences._finish(ctx, _full_like(lstm, rnn, rnn_decay), cfg)
        assert r["headline"]["reproduced"] is want, (lstm, rnn, rnn_decay)
        assert any("At T=50" in n and "within the plain RNN's reach" in n for n in r["notes"])
        if not want:
            assert any(n.startswith("Not reproduced as stated") for n in r["notes"])


def test_files_written_and_results_json_is_what_run_returned(quick):
    out, r = quick
    folder = out / "sequences"
    assert json.loads((folder / "results.json").read_text()) == r
    assert {f["file"] for f in r["figures"]} == {
        "through_time.png",
        "test_mse.png",
        "decay_during_training.png",
    }
    for f in r["figures"]:
        size = (folder / f["file"]).stat().st_size
        assert 10_000 < size < 150_000, f
    assert r["tables"] and len(r["tables"][0]["rows"]) == 2 * len(r["config"]["T"])
    assert set(r["headline"]) == {"measured", "reproduced"}
    assert isinstance(r["headline"]["reproduced"], bool) and r["notes"]
    md = experiments.render([r], quick=True)
    assert "](sequences/through_time.png)" in md and "Dataset: **adding problem**" in md


def test_training_and_the_through_time_probe_are_deterministic():
    """The quick run takes > 8 s, so determinism is checked on its parts: the same seed gives
    the same trained weights and the same gradient through time, bit for bit."""
    X, y = data.adding_problem(256, 20, seed=3)
    X, y = X.astype(np.float32), y.astype(np.float32)
    got = []
    for _ in range(2):
        for cell in sequences.CELLS:
            model = sequences.build(cell, 8, seed=5)
            model.fit(X, y, loss="mse", epochs=1, batch_size=32, clip=1.0, seed=5, verbose=False)
            got.append(sequences.through_time(model, X, y, 32))
    for a, b in zip(got[:2], got[2:], strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[0].shape == (sequences.PROBES, 20)


def test_decay_of_an_underflowed_norm_is_a_bound_and_bad_input_is_named():
    assert sequences.decay(np.array([1e-3, 1.0])) == (pytest.approx(-3.0), False)
    assert sequences._verdict(math.nan, 0.16) == "diverged"
    assert [sequences._verdict(v, 0.16) for v in (0.01, 0.1, 0.15)] == [
        "solved",
        "partly",
        "at baseline",
    ]
    v, under = sequences.decay(np.array([0.0, 1.0]))
    assert under and v == pytest.approx(math.log10(np.finfo(np.float32).smallest_subnormal))
    with pytest.raises(ValueError, match=r"sequences.build: cell must be one of"):
        sequences.build("GRU", 4, 0)
    model = sequences.build("LSTM", 4, 0)
    X = np.zeros((10, 5, 2), np.float32)
    with pytest.raises(ValueError, match=r"sequences.through_time: X must hold at least 5 batch"):
        sequences.through_time(model, X, np.zeros((10, 1), np.float32), 4)
