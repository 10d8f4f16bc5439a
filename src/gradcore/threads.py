"""One thread-count setting for gradcore's own kernels, and a single-threaded GEMM provider.

gradcore runs its BLAS calls (scipy's bundled OpenBLAS, through ``scipy.linalg.cython_blas``)
on ONE thread and parallelises with its own OpenMP threads instead: large GEMMs are split over
their columns and the fused epilogues run in the same pool. Measured here, OpenBLAS at 2
threads interleaved with OpenMP kernels made a training step 14-17x slower (two pools spinning
against each other); see "Threads and BLAS" in DESIGN.md.

- :func:`set_num_threads` sets the kernels' thread count, **process-wide** (every Python
  thread's kernels use it; OpenMP's own ``omp_set_num_threads`` only reaches the calling OS
  thread), and numba's (capped at ``NUMBA_NUM_THREADS``), in every thread that runs a numba
  parallel kernel. Default: ``OMP_NUM_THREADS``, else the core count (at most
  :data:`MAX_THREADS`).
- The count fixes how each kernel cuts its work, hence its rounding: results are bit-identical
  for a given count (not across counts: e.g. a GEMM split over 2 threads may round its last bit
  differently from the unsplit one). How many threads actually *run* a region is decided per
  call (``kernels/gc_parallel.h``): small work does not fork, and when a parallel region finds
  its peer descheduled (another process competes for the cores) the kernels run on the calling
  thread for a while (20 ms, doubling to 1 s while it recurs). Neither changes a result.
  ``gradcore._kernels.fork_policy()`` shows and tunes it.
- Each GEMM gradcore makes through scipy's OpenBLAS runs on one thread via OpenBLAS's
  thread-local ``openblas_set_num_threads_local`` (set to 1 around the call, then restored), so
  neither NumPy's BLAS nor the user's ``scipy.linalg`` calls change (``_kernels.
  BLAS_THREADS_PINNED``). Only if that symbol is missing (OpenBLAS < 0.3.27) does
  :func:`pin_gemm_blas` limit scipy's OpenBLAS to one thread process-wide, as a fallback.
"""

from __future__ import annotations

import os
import sys

from ._args import check_int

__all__ = ["MAX_THREADS", "blas_info", "get_num_threads", "pin_gemm_blas", "set_num_threads"]

#: The largest count :func:`set_num_threads` accepts: 8 threads per core, at most 256.
#: Beyond a few threads per core no kernel gets faster; the bound keeps every value safe:
#: libgomp puts ~0.1 KiB per team thread on the forking thread's stack (100000 threads
#: overflowed an 8 MiB stack: the segfault of issue 11) and each thread costs a stack
#: mapping. 256 is also the compiled kernels' own clamp (``_kernels.MAX_THREADS``).
MAX_THREADS = min(256, 8 * (os.cpu_count() or 1))

#: what set_num_threads last set (None: the default); the numba backend applies it in every
#: thread that launches a parallel kernel (numba's own setting is thread-local)
_num_threads: int | None = None

_pinned: list = []  # keep the threadpool_limits objects alive (the limit stays applied)


def _kernels():
    try:
        from . import _kernels
    except ImportError:
        return None
    return _kernels


def get_num_threads() -> int:
    """The configured thread count of gradcore's parallel kernels (1 without OpenMP and
    numba); a region may run on fewer (small work, contention), never on more."""
    k = _kernels()
    if k is not None:
        return int(k.max_threads())
    try:
        import numba

        return int(numba.get_num_threads())
    except ImportError:
        return 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in gradcore's kernels, process-wide (OpenMP in the C backend; numba's
    pool, capped at ``NUMBA_NUM_THREADS``).

    ``n``: an int (or NumPy integer; not bool) in ``[1, MAX_THREADS]`` (``TypeError`` /
    ``ValueError`` otherwise). The GEMM provider stays single-threaded whatever ``n`` is;
    large GEMMs are split across these ``n`` threads by gradcore itself.
    """
    global _num_threads
    n = check_int("n", n, owner="set_num_threads", min=1, max=MAX_THREADS)
    k = _kernels()
    if k is not None:
        k.set_num_threads(n)
    _num_threads = n
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def numba_threads() -> int | None:
    """numba's share of the setting: ``min(n, NUMBA_NUM_THREADS)`` after
    :func:`set_num_threads`, else None (numba's default). For the numba backend."""
    if _num_threads is None:
        return None
    import numba

    return min(_num_threads, numba.config.NUMBA_NUM_THREADS)


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
