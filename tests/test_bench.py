"""The benchmark harness runs and writes its reports (``gradcore bench --quick``).

For running, not timing: no assertion here looks at a time. One quick run (tiny sizes, one
repeat, no warm-up) is shared by the tests of this module.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import gradcore as gc
from gradcore import cli
from gradcore.bench import FAMILIES

HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
FAST = ["--quick", "--repeats", "1", "--warmup", "0", "--warmup-time", "0", "--min-time", "0"]


def _thread_state():
    state = {}
    if HAVE_TORCH:
        import torch

        state["torch"] = torch.get_num_threads()
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        state["pools"] = sorted((d["filepath"], d["num_threads"]) for d in threadpool_info())
    return state


@pytest.fixture(scope="module", autouse=True)
def _in_process():
    """Run the bench in this process: without OPENBLAS_THREAD_TIMEOUT it re-executes itself
    (tested on its own below)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENBLAS_THREAD_TIMEOUT", "4")
        yield


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    before = _thread_state()
    backend = gc.get_backend_name()
    assert cli.main(["bench", *FAST, "--out", str(out)]) == 0
    return {
        "out": out,
        "run": json.loads((out / "bench.json").read_text()),
        "threads_before": before,
        "threads_after": _thread_state(),
        "backend_before": backend,
        "backend_after": gc.get_backend_name(),
    }


def test_quick_bench_writes_json_with_every_case_and_backend(quick_run):
    run = quick_run["run"]
    assert run["meta"]["quick"] is True
    assert run["meta"]["backends"][0] == "numpy"
    assert set(run["meta"]["backends"]) == set(gc.available_backends())
    assert {c["family"] for c in run["cases"]} == set(FAMILIES)
    expected = set(gc.available_backends()) | ({"torch"} if HAVE_TORCH else set())
    for case in run["cases"]:
        impls = case["impls"]
        assert expected <= set(impls), case["name"]
        assert ("gemm" in impls) == (case["family"] in ("dense", "lstm")), case["name"]
        for rec in impls.values():
            assert rec["median_s"] > 0 and len(rec["times_s"]) == 1
    # machine, libraries and threads are recorded
    meta = run["meta"]
    assert meta["machine"]["cpu_model"]
    assert meta["libraries"]["numpy"]
    assert meta["threads"]["threads"] == 2
    assert "gemm_provider" in meta["gradcore_kernels"] or "error" in meta["gradcore_kernels"]
    # roofline, memory check and targets
    assert run["triad"]["reference"]["gbps"] > 0
    assert {m["backend"] for m in run["memory"]} == set(gc.available_backends())
    assert {t["target"] for t in run["targets"]} >= {"opt-numpy", "dense-gemm", "mlp-torch"}


def test_quick_bench_writes_markdown_and_png(quick_run):
    out, run = quick_run["out"], quick_run["run"]
    md = (out / "bench.md").read_text()
    assert md.startswith("# gradcore benchmark (quick)")
    for section in (
        "## Machine, threads, BLAS",
        "## Performance targets",
        "## Roofline",
        "## Memory",
    ):
        assert section in md
    for case in run["cases"]:
        assert f"| {case['name']} |" in md
    for b in run["meta"]["backends"]:
        assert f"| {b} ms |" in md or f" {b} ms |" in md
    if HAVE_TORCH:
        assert "torch ms" in md and "numpy vs torch" in md
    png = out / "bench.png"
    if HAVE_MPL:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "not written" in run["meta"]["png"]


def test_quick_bench_restores_threads_and_backend(quick_run):
    before, after = quick_run["threads_before"], quick_run["threads_after"]
    assert before.get("torch") == after.get("torch")
    # libraries loaded during the run (the C triad's OpenMP, numba's) may join the list
    assert set(before.get("pools", [])) <= set(after.get("pools", []))
    assert quick_run["backend_after"] == quick_run["backend_before"]


def test_bench_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["bench", "--backends", "nonexistent", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        cli.main(["bench", "--cases", "nonexistent", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        cli.main(["bench", "--dtypes", "float16", "--out", str(tmp_path)])


def test_default_out_is_bench_results_in_the_source_tree(tmp_path, monkeypatch):
    from gradcore.bench import default_out

    monkeypatch.chdir(tmp_path)
    assert default_out() == tmp_path.resolve() / "bench-results"
    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "README.md").is_file():
        pytest.skip("not in a source tree with bench/")
    monkeypatch.chdir(root / "tests")
    assert default_out() == root / "bench" / "results"


def test_bench_reports_every_backend_generically(tmp_path, monkeypatch):
    """A second backend gets its own columns, ratios, targets and chart series: here the
    reference registered under the name ``numba`` when no compiled backend is installed."""
    from gradcore import backends

    if gc.available_backends() == ["numpy"]:
        import gradcore.backends.reference as ref

        monkeypatch.setitem(backends._CANDIDATES, "numba", "gradcore.backends.reference")
        monkeypatch.setitem(backends._loaded, "numba", ref)
    names = gc.available_backends()
    other = next(b for b in names if b != "numpy")
    args = [*FAST, "--cases", "adam_op,dense,mlp_step", "--no-triad", "--no-torch"]
    assert cli.main(["bench", *args, "--out", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "bench.json").read_text())
    assert run["meta"]["backends"] == ["numpy"] + [b for b in names if b != "numpy"]
    for case in run["cases"]:
        assert set(names) <= set(case["impls"])
    md = (tmp_path / "bench.md").read_text()
    assert f"| {other} ms |" in md and f"{other} vs numpy" in md
    rows = [t for t in run["targets"] if t["backend"] == other and t["target"] == "mlp-numpy"]
    assert len(rows) == 1 and rows[0]["value"] > 0 and rows[0]["met"] in (True, False)
    assert {m["backend"] for m in run["memory"]} == set(names)


def test_bench_reports_a_failing_backend_op_and_carries_on(tmp_path, monkeypatch):
    """A backend missing an op (a compiled backend part-way done) is reported, not fatal."""
    import types

    import gradcore.backends.reference as ref
    from gradcore import backends

    partial = types.ModuleType("partial_backend")
    partial.__dict__.update({k: getattr(ref, k) for k in ref.__all__})

    def adam_step(*args, **kwargs):
        raise NotImplementedError("adam_step is not in this backend yet")

    partial.adam_step = adam_step
    monkeypatch.setitem(backends._CANDIDATES, "c", "partial_backend")
    monkeypatch.setitem(backends._loaded, "c", partial)
    args = [*FAST, "--cases", "adam_op,clip,mlp_step", "--no-triad", "--no-torch"]
    assert cli.main(["bench", *args, "--backends", "c,numpy", "--out", str(tmp_path)]) == 0
    run = json.loads((tmp_path / "bench.json").read_text())
    failed = {(e["case"].split()[0], e["impl"]) for e in run["errors"]}
    assert ("adam_op", "c") in failed and ("mlp_step", "c") in failed
    assert ("memory", "c") in failed
    clip = next(c for c in run["cases"] if c["family"] == "clip")
    assert {"c", "numpy"} <= set(clip["impls"])
    assert "## Errors" in (tmp_path / "bench.md").read_text()


def test_bench_reexecutes_with_a_short_openblas_thread_timeout(tmp_path):
    """NumPy's idle OpenBLAS threads spin ~0.1 s after each call and steal the other pools'
    cores: the bench runs its grid in a child process with OPENBLAS_THREAD_TIMEOUT=4."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    args = [sys.executable, "-m", "gradcore.bench", *FAST, "--cases", "overhead_scale",
            "--no-torch", "--no-triad", "--no-memory", "--out", str(tmp_path)]  # fmt: skip
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    text = (tmp_path / "bench.json").read_text()
    assert '"OPENBLAS_THREAD_TIMEOUT": "4"' in text
