"""The machine, the libraries and the thread settings a benchmark ran with.

:func:`fixed_threads` pins every thread pool a case can use -- gradcore's OpenMP kernels
(``gradcore._kernels.set_num_threads``), Numba (``numba.set_num_threads``), PyTorch
(``torch.set_num_threads``), NumPy's own BLAS (``threadpoolctl`` limits on the BLAS library
shipped in ``numpy.libs``) and the BLAS gradcore's GEMM path calls (scipy's OpenBLAS in
``scipy.libs``, through ``gradcore._kernels``: 1 thread by default, as DESIGN.md "Threads
and BLAS" prescribes: gradcore's own OpenMP threads split large GEMMs) -- and restores them
afterwards. Every setting is recorded, with ``threadpool_info()`` as it was inside the block.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

__all__ = ["cpu_model", "fixed_threads", "gradcore_kernels_info", "library_versions", "machine"]

#: environment variables that change BLAS/OpenMP behaviour; recorded with every run
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "OMP_WAIT_POLICY",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "GRADCORE_BACKEND",
    "GRADCORE_GEMM",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def _llc() -> int | None:
    from .triad import llc_bytes

    return llc_bytes()


def machine() -> dict:
    return {
        "cpu_model": cpu_model(),
        "cpu_flags": _cpu_flags(),
        "llc_bytes": _llc(),
        "logical_cpus": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
    }


def _version(dist: str) -> str | None:
    try:
        return _dist_version(dist)
    except PackageNotFoundError:
        return None


def library_versions() -> dict:
    import numpy as np

    out = {"numpy": np.__version__}
    for dist in ("gradcore", "scipy", "torch", "numba", "threadpoolctl", "matplotlib"):
        out[dist] = _version(dist)
    return out


def torch_info() -> dict | None:
    """torch's build and threading configuration (``torch.__config__``), if installed."""
    torch = torch_module()
    if torch is None:
        return None
    info = {"version": torch.__version__}
    try:
        info["parallel_info"] = torch.__config__.parallel_info()
        info["mkldnn"] = bool(torch.backends.mkldnn.is_available())
        info["mkl"] = bool(torch.backends.mkl.is_available())
    except (AttributeError, RuntimeError) as exc:
        info["error"] = repr(exc)
    return info


def gradcore_kernels_info() -> dict:
    """What ``gradcore._kernels`` reports (or why it is not importable)."""
    try:
        from gradcore import _kernels
    except ImportError as exc:
        return {"importable": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "importable": True,
        "gemm_provider": getattr(_kernels, "GEMM_PROVIDER", None),
        "have_openmp": bool(_kernels.have_openmp()),
        "max_threads": int(_kernels.max_threads()),
    }


def torch_module():
    """``torch`` if installed (imported once), else None."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def numba_module():
    """``numba`` if it is already in use (imported by a backend) or importable, else None."""
    if "numba" in sys.modules:
        return sys.modules["numba"]
    try:
        return importlib.import_module("numba")
    except ImportError:
        return None


def _blas_paths(info: list[dict], package: str) -> list[str]:
    """BLAS libraries loaded from ``<package>.libs`` (wheels) or a ``<package>`` folder."""
    paths = []
    for lib in info:
        if lib.get("user_api") != "blas":
            continue
        fp = lib.get("filepath") or ""
        parts = fp.split(os.sep)
        if f"{package}.libs" in parts or package in parts:
            paths.append(fp)
    return paths


def _restore_pools(before: list[dict]) -> None:
    """Set every threadpoolctl pool that still exists back to its thread count in ``before``."""
    from threadpoolctl import ThreadpoolController

    ctl = ThreadpoolController()
    for lib in before:
        sel = ctl.select(filepath=lib["filepath"])
        if sel and sel.info() and sel.info()[0]["num_threads"] != lib["num_threads"]:
            sel.limit(limits=lib["num_threads"])  # applied now; the object is dropped


@contextlib.contextmanager
def fixed_threads(
    threads: int,
    numpy_blas_threads: int | None = None,
    gemm_blas_threads: int = 1,
    use_torch: bool = True,
) -> Iterator[dict]:
    """Pin gradcore/numba/torch threads to ``threads``, NumPy's BLAS to
    ``numpy_blas_threads`` (default: ``threads``) and the BLAS of gradcore's GEMM path
    (scipy's) to ``gemm_blas_threads`` for the block; yields a record of what was set (and
    ``threadpool_info()`` inside the block). Restores the previous settings."""
    nb_threads = threads if numpy_blas_threads is None else numpy_blas_threads
    record: dict = {
        "threads": threads,
        "numpy_blas_threads": nb_threads,
        "gemm_blas_threads": gemm_blas_threads,
    }
    undo: list = []
    try:
        from threadpoolctl import ThreadpoolController

        # torch.set_num_threads also reaches an MKL loaded in the process (gradcore's MKL
        # provider): on exit every pool goes back to what it was here, after the undos below
        pools_before = ThreadpoolController().info()
        undo.append(lambda: _restore_pools(pools_before))
    except ImportError:
        pass
    with contextlib.ExitStack() as stack:
        try:
            from gradcore import _kernels
        except ImportError:
            record["gradcore_kernels_threads"] = None
        else:
            prev = int(_kernels.max_threads())
            _kernels.set_num_threads(threads)
            undo.append(lambda: _kernels.set_num_threads(prev))
            record["gradcore_kernels_threads"] = int(_kernels.max_threads())
        numba = numba_module()
        if numba is not None:
            prev_nb = numba.get_num_threads()
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            undo.append(lambda: numba.set_num_threads(prev_nb))
            record["numba_threads"] = numba.get_num_threads()
        torch = torch_module() if use_torch else None
        if torch is not None:
            prev_t = torch.get_num_threads()
            torch.set_num_threads(threads)
            undo.append(lambda: torch.set_num_threads(prev_t))
            record["torch_threads"] = torch.get_num_threads()
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            record["threadpoolctl"] = "not installed: NumPy's BLAS threads not pinned"
        else:
            ctl = ThreadpoolController()
            info = ctl.info()
            notes = []
            for key, package, n in (
                ("numpy_blas_libraries", "numpy", nb_threads),
                ("gemm_blas_libraries", "scipy", gemm_blas_threads),
            ):
                paths = _blas_paths(info, package)
                record[key] = paths
                if paths:
                    stack.enter_context(ctl.select(filepath=paths).limit(limits=n))
                else:
                    notes.append(f"{package}'s BLAS not found by threadpoolctl: not pinned")
            if notes:
                record["threadpoolctl"] = "; ".join(notes)
            record["threadpool_info"] = ThreadpoolController().info()
        try:
            yield record
        finally:
            for fn in reversed(undo):
                fn()
