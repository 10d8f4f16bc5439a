"""One thread-count setting for gradcore's own kernels, and a single-threaded GEMM provider.

gradcore runs its BLAS calls (scipy's bundled OpenBLAS, through ``scipy.linalg.cython_blas``)
on ONE thread and parallelises with its own OpenMP threads instead: large GEMMs are split over
their columns and the fused epilogues run in the same pool. Measured here, OpenBLAS at 2
threads interleaved with OpenMP kernels made a training step 14-17x slower (two pools spinning
against each other); see "Threads and BLAS" in DESIGN.md.

- :func:`set_num_threads` sets the kernels' OpenMP threads (default: ``OMP_NUM_THREADS``,
  else the core count) and numba's, when that backend is loaded.
- Each GEMM gradcore makes through scipy's OpenBLAS runs on one thread via OpenBLAS's
  thread-local ``openblas_set_num_threads_local`` (set to 1 around the call, then restored), so
  neither NumPy's BLAS nor the user's ``scipy.linalg`` calls change (``_kernels.
  BLAS_THREADS_PINNED``). Only if that symbol is missing (OpenBLAS < 0.3.27) does
  :func:`pin_gemm_blas` limit scipy's OpenBLAS to one thread process-wide, as a fallback.
"""

from __future__ import annotations

import os

__all__ = ["blas_info", "get_num_threads", "pin_gemm_blas", "set_num_threads"]

_pinned: list = []  # keep the threadpool_limits objects alive (the limit stays applied)


def _kernels():
    try:
        from . import _kernels
    except ImportError:
        return None
    return _kernels


def get_num_threads() -> int:
    """Threads gradcore's parallel kernels use (1 without OpenMP and numba)."""
    k = _kernels()
    if k is not None:
        return int(k.max_threads())
    try:
        import numba

        return int(numba.get_num_threads())
    except ImportError:
        return 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in gradcore's kernels (OpenMP in the C backend; numba's pool).

    The GEMM provider stays single-threaded whatever ``n`` is; large GEMMs are split across
    these ``n`` threads by gradcore itself.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    k = _kernels()
    if k is not None:
        k.set_num_threads(n)
    import sys

    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def _scipy_blas_paths() -> list[str]:
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS)
    from threadpoolctl import threadpool_info

    out = []
    for info in threadpool_info():
        path = info.get("filepath", "")
        if info.get("user_api") == "blas" and f"scipy.libs{os.sep}" in path:
            out.append(path)
    return out


def pin_gemm_blas() -> list[str]:
    """Limit scipy's bundled BLAS (gradcore's GEMM provider) to one thread; returns the
    library paths pinned (empty if none was found, e.g. a scipy built against system BLAS,
    which is then left alone). Idempotent."""
    if _pinned:
        return _pinned[0]
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    paths = _scipy_blas_paths()
    if paths:
        ctl = ThreadpoolController()
        sel = ctl.select(filepath=paths)
        _pinned.append(paths)
        _pinned.append(sel.limit(limits=1))
    else:
        _pinned.append([])
    return _pinned[0]


def blas_info() -> list[dict]:
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries (for ``gradcore info``/bench)."""
    from threadpoolctl import threadpool_info

    return threadpool_info()
