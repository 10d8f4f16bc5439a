"""STREAM-style triad ``a = b + s c``: the memory bandwidth the streaming kernels are set
against (the roofline of optimizer steps and clipping).

Implementations (each on ``n`` float32 elements per array, far beyond the caches):

- ``numpy``: ``np.multiply(c, s, out=a); np.add(a, b, out=a)`` -- allocation-free but TWO
  passes (5 array-sized transfers: read c, write a; read a, read b, write a), single-threaded.
  Reported both in the STREAM convention (3 transfers per element, comparable with the
  others) and as the traffic it really moves (5 transfers).
- ``numba``: one ``prange`` pass (when numba is installed), at the benchmark's thread count.
- ``c``: one pass of C99 compiled at run time with the system C compiler (``cc -O3
  -fopenmp``, loaded with ctypes) at 1 thread and at the benchmark's thread count; skipped
  (with the reason recorded) when no compiler or OpenMP is available.

The roofline reference is the best single-pass triad (C, numba) at the benchmark's thread
count; without one, NumPy's real traffic rate.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np

from .timing import Impl, measure

__all__ = ["measure_triad"]

_C_SRC = r"""
#include <stdint.h>
void triad_f32(float *restrict a, const float *restrict b, const float *restrict c,
               float s, int64_t n, int nthreads) {
    #pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}
"""


def _c_triad(tmpdir: str):
    """A ctypes function ``triad_f32(a, b, c, s, n, nthreads)`` or (None, reason)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler found"
    src = os.path.join(tmpdir, "triad.c")
    lib = os.path.join(tmpdir, "libtriad.so")
    with open(src, "w", encoding="utf-8") as fh:
        fh.write(_C_SRC)
    cmd = [cc, "-O3", "-std=c99", "-fopenmp", "-fPIC", "-shared", src, "-o", lib]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"compiling the C triad failed ({' '.join(cmd)}): {exc}"
    dll = ctypes.CDLL(lib)
    fn = dll.triad_f32
    fp = ctypes.POINTER(ctypes.c_float)
    fn.argtypes = [fp, fp, fp, ctypes.c_float, ctypes.c_int64, ctypes.c_int]
    fn.restype = None
    return (fn, " ".join(cmd)), ""


def _numba_triad():
    try:
        import numba
    except ImportError:
        return None, "numba not installed"

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def triad(a, b, c, s):  # pragma: no cover - compiled
        for i in numba.prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    return triad, ""


def measure_triad(
    n: int, threads: int, *, repeats: int, warmup: int, min_time: float, warmup_time: float = 0.0
) -> dict:
    """Measure the triads; returns ``{"results": [...], "reference": {...}, "skipped": {...}}``
    (GB/s in 1e9 bytes per second)."""
    dt = np.dtype(np.float32)
    rng = np.random.default_rng(0)
    a = np.empty(n, dt)
    b = rng.standard_normal(n).astype(dt)
    c = rng.standard_normal(n).astype(dt)
    s = dt.type(3.0)
    impls: list[Impl] = []
    meta: dict[str, dict] = {}
    skipped: dict[str, str] = {}

    def np_triad():
        np.multiply(c, s, out=a)
        np.add(a, b, out=a)

    impls.append(Impl("numpy", "triad", np_triad))
    meta["numpy"] = {
        "threads": 1,
        "passes": 2,
        "traffic_words": 5,
        "how": "np.multiply(c, s, out=a); np.add(a, b, out=a)",
    }
    nb, why = _numba_triad()
    if nb is None:
        skipped["numba"] = why
    else:
        impls.append(Impl("numba", "triad", lambda: nb(a, b, c, s)))
        meta["numba"] = {
            "threads": threads,
            "passes": 1,
            "traffic_words": 3,
            "how": "@njit(parallel=True) prange loop",
        }
    with tempfile.TemporaryDirectory(prefix="gradcore-triad-") as tmp:
        got, why = _c_triad(tmp)
        if got is None:
            skipped["c"] = why
        else:
            fn, cmd = got
            fp = ctypes.POINTER(ctypes.c_float)
            pa, pb, pc = (x.ctypes.data_as(fp) for x in (a, b, c))
            for k in sorted({1, threads}):
                name = f"c-{k}t"
                impls.append(Impl(name, "triad", lambda k=k: fn(pa, pb, pc, float(s), n, k)))
                meta[name] = {"threads": k, "passes": 1, "traffic_words": 3, "how": cmd}
        st = measure(
            impls,
            repeats=repeats,
            warmup=max(warmup, 1),
            min_time=min_time,
            warmup_time=warmup_time,
        )
    results = []
    word = dt.itemsize * n
    for name, stat in st.items():
        m = meta[name]
        results.append(
            {
                "impl": name,
                "n": n,
                "dtype": dt.name,
                **m,
                "median_s": stat.median,
                "iqr_s": stat.iqr,
                "gbps_stream": 3 * word / stat.median / 1e9,
                "gbps_traffic": m["traffic_words"] * word / stat.median / 1e9,
            }
        )
    single = [r for r in results if r["passes"] == 1 and r["threads"] == threads]
    if single:
        best = max(single, key=lambda r: r["gbps_stream"])
        ref = {"impl": best["impl"], "gbps": best["gbps_stream"], "basis": "single-pass triad"}
    else:
        npr = next(r for r in results if r["impl"] == "numpy")
        ref = {
            "impl": "numpy",
            "gbps": npr["gbps_traffic"],
            "basis": "numpy two-pass triad, real traffic (5 words/element)",
        }
    return {"results": results, "reference": ref, "skipped": skipped}
