"""STREAM-style triad ``a = b + s c``: the memory bandwidth the streaming kernels are set
against (the roofline of optimizer steps and clipping).

Measured at two sizes: ``n_ref`` elements per array, the size of the largest optimizer case
(P = 1e7 in the full grid: the same kind of working set as the kernels it judges), and
``n_dram`` elements, four times the last-level cache over three arrays (main memory: this VM
reports a 480 MiB L3). The roofline reference is the best one-pass triad measured at either
size (a roofline is an upper bound: the higher rate is the honest one; which size wins
varied here with the load: 24 vs 16.6 GB/s on a quiet thread, 7.5 vs 15 GB/s under load).

Implementations (float32):

- ``numpy``: ``np.multiply(c, s, out=a); np.add(a, b, out=a)`` -- allocation-free but TWO
  passes (5 array-sized transfers: read c, write a; read a, read b, write a), single-threaded.
  Reported both in the STREAM convention (3 transfers per element, comparable with the
  others) and as the traffic it really moves (5 transfers).
- ``numba``: one ``prange`` pass (when numba is installed), at the benchmark's thread count.
- ``c``: one pass of C99 compiled at run time with the system C compiler (``cc -O3
  -fopenmp``, loaded with ctypes) at 1 thread and at the benchmark's thread count; skipped
  (with the reason recorded) when no compiler or OpenMP is available.

The roofline reference is the best one-pass triad (C, numba; 1 thread or the benchmark's
count, either size); without one, NumPy's real traffic rate at ``n_ref``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np

from .timing import Impl, measure

__all__ = ["dram_size", "llc_bytes", "measure_triad"]


def llc_bytes() -> int | None:
    """Size of the last-level cache in bytes (Linux sysfs), or None."""
    best = None
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = os.listdir(base)
    except OSError:
        return None
    for e in entries:
        try:
            with open(os.path.join(base, e, "size"), encoding="ascii") as fh:
                txt = fh.read().strip()
        except OSError:
            continue
        mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(txt[-1:], 1)
        try:
            size = int(txt.rstrip("KMG")) * mult
        except ValueError:
            continue
        best = size if best is None else max(best, size)
    return best


def dram_size(minimum: int = 1 << 24) -> int:
    """Elements per float32 array so three arrays are >= 4x the last-level cache."""
    llc = llc_bytes() or 0
    return max(minimum, -(-4 * llc // 12))


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
    n_ref: int,
    n_dram: int | None,
    threads: int,
    *,
    repeats: int,
    warmup: int,
    min_time: float,
    warmup_time: float = 0.0,
) -> dict:
    """Measure the triads; returns ``{"results": [...], "reference": {...}, "skipped": {...}}``
    (GB/s in 1e9 bytes per second; ``results`` has one row per implementation and size)."""
    results: list[dict] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="gradcore-triad-") as tmp:
        c_fn, why = _c_triad(tmp)
        if c_fn is None:
            skipped["c"] = why
        nb, why = _numba_triad()
        if nb is None:
            skipped["numba"] = why
        for n, level, reps in (
            (n_ref, "same size as the largest kernel case", repeats),
            (n_dram, "beyond the last-level cache", min(repeats, 5)),
        ):
            if n is None:
                continue
            rows = _measure_size(
                n,
                threads,
                c_fn,
                nb,
                repeats=reps,
                warmup=warmup,
                min_time=min_time,
                warmup_time=warmup_time,
            )
            for r in rows:
                r["level"] = level
            results += rows
    single = [r for r in results if r["passes"] == 1]
    if single:
        best = max(single, key=lambda r: r["gbps_stream"])
        ref = {
            "impl": best["impl"],
            "gbps": best["gbps_stream"],
            "n": best["n"],
            "basis": "best one-pass triad measured",
        }
    else:
        npr = next(r for r in results if r["impl"] == "numpy" and r["n"] == n_ref)
        ref = {
            "impl": "numpy",
            "gbps": npr["gbps_traffic"],
            "n": n_ref,
            "basis": "numpy two-pass triad, real traffic (5 words/element)",
        }
    return {"results": results, "reference": ref, "skipped": skipped, "llc_bytes": llc_bytes()}


def _measure_size(n, threads, c_fn, nb, *, repeats, warmup, min_time, warmup_time) -> list:
    dt = np.dtype(np.float32)
    rng = np.random.default_rng(0)
    a = np.empty(n, dt)
    b = rng.random(n, dtype=dt)
    c = rng.random(n, dtype=dt)
    s = dt.type(3.0)
    impls: list[Impl] = []
    meta: dict[str, dict] = {}

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
    if nb is not None:
        impls.append(Impl("numba", "triad", lambda: nb(a, b, c, s)))
        meta["numba"] = {
            "threads": threads,
            "passes": 1,
            "traffic_words": 3,
            "how": "@njit(parallel=True) prange loop",
        }
    if c_fn is not None:
        fn, cmd = c_fn
        fp = ctypes.POINTER(ctypes.c_float)
        pa, pb, pc = (x.ctypes.data_as(fp) for x in (a, b, c))
        for k in sorted({1, threads}):
            name = f"c-{k}t"
            impls.append(Impl(name, "triad", lambda k=k: fn(pa, pb, pc, float(s), n, k)))
            meta[name] = {"threads": k, "passes": 1, "traffic_words": 3, "how": cmd}
    st = measure(
        impls, repeats=repeats, warmup=max(warmup, 1), min_time=min_time, warmup_time=warmup_time
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
    return results
