"""gc.sweep: the grid, the results file (streaming, resume, errors), the local process pool,
a Dask LocalCluster on 127.0.0.1 (results, resume, a raising trial, a killed worker), the CLI,
and the trainability trial against the mean-field theory."""

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

import gradcore as gc
from gradcore import cli, sweep
from gradcore.sweep import _run

TRIALS = "gradcore.testing.sweep_trials"


# -- the grid ---------------------------------------------------------------------------------


def test_grid_is_the_product_in_axis_order_with_plain_values():
    g = sweep.Grid(depth=[10, 30], sigma_w2=np.linspace(0.5, 1.0, 3), seed=range(2))
    pts = g.points()
    assert len(g) == len(pts) == 12
    assert pts[0] == {"depth": 10, "sigma_w2": 0.5, "seed": 0}
    assert pts[1] == {"depth": 10, "sigma_w2": 0.5, "seed": 1}  # the last axis is fastest
    assert pts[-1] == {"depth": 30, "sigma_w2": 1.0, "seed": 1}
    assert all(type(p["sigma_w2"]) is float and type(p["depth"]) is int for p in pts)
    g = sweep.Grid(x=[np.int64(3)], fixed={"width": np.float32(2.0)})
    assert g.points() == [{"width": 2.0, "x": 3}]
    assert sweep.config_key("t", {"a": 1, "b": 2}) == sweep.config_key("t", {"b": 2, "a": 1})
    assert sweep.config_key("t", {"a": 1}) != sweep.config_key("u", {"a": 1})


@pytest.mark.parametrize(
    ("kw", "err", "match"),
    [
        ({}, ValueError, "at least one axis"),
        ({"x": []}, ValueError, "axis 'x' is empty"),
        ({"x": [1, 1]}, ValueError, "repeats a value"),
        ({"x": 3}, TypeError, "axis 'x' must be a sequence"),
        ({"x": "abc"}, TypeError, "axis 'x' must be a sequence"),
        ({"x": [object()]}, TypeError, "must hold numbers"),
        ({"x": [float("nan")]}, ValueError, "non-finite"),
        ({"x": [1], "fixed": {"x": 2}}, ValueError, "both as an axis and in fixed"),
    ],
)
def test_grid_errors(kw, err, match):
    with pytest.raises(err, match=match):
        sweep.Grid(**kw)


def test_parse_axis():
    assert sweep.parse_axis("depth=10,30,100") == ("depth", [10, 30, 100])
    name, v = sweep.parse_axis("sigma_w2=0.5:4:15")
    assert name == "sigma_w2" and len(v) == 15 and v[0] == 0.5 and v[-1] == 4.0
    assert sweep.parse_axis("act=tanh,relu") == ("act", ["tanh", "relu"])
    assert sweep.parse_axis("quick=true") == ("quick", [True])
    for bad in ("depth", "=1,2", "depth=", "d=1:2:0", "d=a:2:3", "1x=2"):
        with pytest.raises(ValueError, match="sweep:"):
            sweep.parse_axis(bad)


def test_trial_resolution_errors():
    with pytest.raises(TypeError, match="importable by the worker processes"):
        sweep.run(lambda x: {}, sweep.Grid(x=[1]), "unused.jsonl")
    with pytest.raises(ValueError, match=r"trial must be one of .*trainability"):
        sweep.run("no-such-trial", sweep.Grid(x=[1]), "unused.jsonl")
    with pytest.raises(ValueError, match="cannot import the trial"):
        sweep.run("no_such_module_xyz:f", sweep.Grid(x=[1]), "unused.jsonl")
    with pytest.raises(TypeError, match="grid must be"):
        sweep.run(f"{TRIALS}:quadratic", [1, 2], "unused.jsonl")


# -- the local process pool (no Dask) ------------------------------------------------------


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_local_pool_records_errors_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(_run, "_have_dask", lambda: False)
    out = tmp_path / "s" / "r.jsonl"
    grid = sweep.Grid(x=range(5))
    res = sweep.run(f"{TRIALS}:fails_at", grid, out, workers=2, progress=False)
    assert len(res) == 5 and len(res.ok) == 4 and len(res.errors) == 1
    bad = res.errors[0]
    assert bad["config"] == {"x": 3} and bad["error"] == "ValueError: x = 3 is the bad point"
    assert "Traceback" in bad["traceback"]
    assert {r["config"]["x"]: r["metrics"]["x2"] for r in res.ok} == {0: 0, 1: 1, 2: 4, 4: 16}
    rec = res.ok[0]
    assert rec["gradcore"] == gc.__version__ and rec["host"] and rec["backend"]
    assert rec["threads"] >= 1 and rec["seconds"] >= 0
    assert len(_lines(out)) == 5
    # A rerun skips the finished trials and runs the failed one again (it fails again).
    res = sweep.run(f"{TRIALS}:fails_at", grid, out, workers=2, progress=False)
    assert len(_lines(out)) == 6 and len(res) == 5 and len(res.errors) == 1
    assert "error at {'x': 3}: ValueError" in res.table()
    # A line cut short (a kill mid-write) is skipped, and counted.
    with open(out, "a") as f:
        f.write('{"trial": "x", "ke')
    assert sweep.load(out).unreadable_lines == 1 and len(sweep.load(out)) == 5


def test_results_table_pivot_and_heatmap(tmp_path, monkeypatch):
    monkeypatch.setattr(_run, "_have_dask", lambda: False)
    grid = sweep.Grid(x=[0.0, 1.0, 2.0], y=[-2.0, 0.0], seed=range(2))
    res = sweep.run(f"{TRIALS}:quadratic", grid, tmp_path / "q.jsonl", workers=2, progress=False)
    assert res.axes() == ["x", "y", "seed"] and res.metric_names() == ["loss", "distance"]
    xs, ys, Z = res.pivot("x", "y", "distance")
    assert xs.tolist() == [0.0, 1.0, 2.0] and ys.tolist() == [-2.0, 0.0]
    np.testing.assert_allclose(Z, np.hypot(xs[None] - 1, ys[:, None] + 2), rtol=1e-12)
    _, _, L = res.pivot("x", "y", "loss", reduce="min")
    assert L[0, 1] == pytest.approx(0.0, abs=0.05)  # the bowl's floor at (1, -2)
    text = res.table()
    assert text.splitlines()[0].split() == ["x", "y", "seed", "loss", "distance", "status"]
    with pytest.raises(ValueError, match="no metric 'nope'"):
        res.pivot("x", "y", "nope")
    with pytest.raises(ValueError, match="'z' is not a config key"):
        res.pivot("z", "y", "loss")
    pytest.importorskip("matplotlib")
    fig = res.plot_heatmap(x="x", y="y", value="distance")
    assert fig.axes[0].get_xlabel() == "x" and "distance" in fig.axes[0].get_title()


def test_out_must_be_a_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="out must be a file"):
        sweep.run(f"{TRIALS}:quadratic", sweep.Grid(x=[1.0]), tmp_path, progress=False)


# -- Dask: a LocalCluster on 127.0.0.1, 2 workers of 1 thread --------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # the HTTP server always starts; any free port
        silence_logs=logging.ERROR,
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_dask_results_resume_and_a_raising_trial(client, tmp_path):
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    out = tmp_path / "d.jsonl"
    grid = sweep.Grid(x=range(6))
    res = sweep.run(f"{TRIALS}:fails_at", grid, out, client=client, progress=False)
    assert len(res.ok) == 5 and [r["config"]["x"] for r in res.errors] == [3]
    assert len({r["pid"] for r in res.ok}) >= 1
    assert all(r["threads"] == 1 for r in res.ok)  # 1 on a given cluster unless told
    # Resume against the scheduler's address: only the failed trial runs again.
    res = sweep.run(
        f"{TRIALS}:fails_at", grid, out, client=client.scheduler.address, progress=False
    )
    assert len(_lines(out)) == 7 and len(res) == 6


def test_a_killed_worker_is_replaced_and_every_trial_reports_once(client, tmp_path):
    out = tmp_path / "k.jsonl"
    pids = sorted(client.run(os.getpid).values())
    assert len(pids) == 2
    grid = sweep.Grid(x=range(6), seconds=[1.5])
    done = {}

    def go():
        done["res"] = sweep.run(f"{TRIALS}:pid_and_sleep", grid, out, client=client, progress=False)

    t = threading.Thread(target=go)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        client.processing().values()
    ):  # wait until trials are running on the workers
        time.sleep(0.1)
    time.sleep(0.5)
    os.kill(pids[0], signal.SIGKILL)  # mid-trial
    t.join(timeout=120)
    assert not t.is_alive()
    res = done["res"]
    lines = _lines(out)
    assert len(lines) == 6 and len({r["key"] for r in lines}) == 6  # each trial reports once
    assert all(r["status"] == "ok" for r in lines), [r.get("error") for r in lines]
    assert sorted(r["metrics"]["x"] for r in res.ok) == list(range(6))
    assert pids[0] not in {r["metrics"]["pid"] for r in res.ok}  # died before it could report


# -- the CLI and the trainability trial ------------------------------------------------------


def test_cli_sweep(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_run, "_have_dask", lambda: False)
    out = tmp_path / "c.jsonl"
    argv = ["sweep", f"{TRIALS}:quadratic", "--grid", "x=0:2:3", "--set", "y=-2", "--seeds"]
    code = cli.main([*argv, "2", "--workers", "2", "--out", str(out), "--quiet"])
    assert code == 0
    cap = capsys.readouterr()
    assert "6 trials" in cap.err and "6 ok, 0 failed" in cap.out
    assert {tuple(sorted(r["config"].items())) for r in _lines(out)} == {
        (("seed", s), ("x", x), ("y", -2)) for s in (0, 1) for x in (0.0, 1.0, 2.0)
    }
    assert cli.main(["sweep", "x", "--grid", "depth", "--out", str(out)]) == 2
    assert "NAME=v1,v2" in capsys.readouterr().err
    assert cli.main(["sweep", "x", "--grid", "seed=1", "--seeds", "2", "--out", str(out)]) == 2
    assert "either as --seeds" in capsys.readouterr().err


def test_the_quick_trainability_sweep_follows_the_mean_field_theory(client, tmp_path):
    """The trainability sweep in small (2 depths x 3 sigma_w2, width 128, one epoch of the
    quick data) on the LocalCluster: the measured gain per hidden layer is sqrt(chi_1)."""
    pytest.importorskip("matplotlib")
    from gradcore.experiments import TRIALS as REGISTRY
    from gradcore.experiments import trainability as tr

    t = REGISTRY["trainability"]
    assert t.plot is tr.phase_diagram and t.summary is tr.summary
    grid = sweep.Grid(
        depth=[8, 16], sigma_w2=[1.0, 1.76, 3.0], fixed={"width": 128, "epochs": 1, "quick": True}
    )
    res = sweep.run("trainability", grid, tmp_path / "t.jsonl", client=client, progress=False)
    assert len(res.ok) == 6, [r.get("error") for r in res.errors]
    for r in res.ok:
        m, sw2 = r["metrics"], r["config"]["sigma_w2"]
        theory = gc.meanfield.mean_field(sw2, 0.05)
        assert m["predicted_gain"] == pytest.approx(theory.gain)
        assert m["chi_1"] == pytest.approx(theory.chi_1)
        # Within 6 % at width 128: ordered < 1 < chaotic shows in one backward pass.
        assert m["measured_gain"] == pytest.approx(theory.gain, rel=0.06), r["config"]
        assert r["monitor"]["status"] in ("healthy", "warning", "critical")
        assert len(m["measured_gain_per_layer"]) == r["config"]["depth"]
    paths = tr.phase_diagram(res, tmp_path / "pd.png")
    assert [os.path.basename(p) for p in paths] == ["pd.png", "pd_gain.png", "pd_edge.json"]
    assert all(os.path.getsize(p) > 10_000 for p in paths[:2])
    with open(paths[2]) as f:
        e = json.load(f)
    assert e["cells"] == 6 and 0 <= e["agree"] <= 6 and e["chance"] == 0.1
    assert [row["sigma_w2"] for row in e["rows"]] == [1.0, 1.76, 3.0]
    assert "of 6 cells" in tr.summary(res)
