"""Thread settings: one knob for gradcore's kernels; gradcore's BLAS pinned, NumPy's untouched."""

import subprocess
import sys

import pytest

import gradcore as gc


def test_set_num_threads_validates_and_round_trips():
    with pytest.raises(ValueError, match="positive int"):
        gc.set_num_threads(0)
    with pytest.raises(ValueError, match="positive int"):
        gc.set_num_threads(True)
    before = gc.get_num_threads()
    try:
        gc.set_num_threads(1)
        if gc.threads._kernels() is not None and gc.threads._kernels().have_openmp():
            assert gc.get_num_threads() == 1
    finally:
        gc.set_num_threads(before)


def test_pinning_touches_only_scipys_blas():
    # in a fresh process: numpy's OpenBLAS keeps its threads, scipy's goes to 1
    code = """
import threadpoolctl, numpy, scipy.linalg
before = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
import gradcore.threads as t
pinned = t.pin_gemm_blas()
after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
for path, n in after.items():
    if path in pinned:
        assert n == 1, (path, n)
    else:
        assert n == before.get(path, n), (path, before.get(path), n)
bundled = any("scipy.libs" in p for p in before)
assert bool(pinned) == bundled, (pinned, list(before))
print(len(pinned))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() in {"0", "1"}
