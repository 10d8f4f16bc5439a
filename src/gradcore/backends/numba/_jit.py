"""Shared plumbing of the numba backend: the ``jit`` decorator, the parallel threshold and
helpers that hand kernels C-contiguous buffers.

Caching: kernels are compiled with ``cache=True``, so a warm process loads machine code from
disk instead of compiling. Numba looks for a writable place in order: ``NUMBA_CACHE_DIR``,
the package's ``__pycache__``, the user-wide cache folder (``~/.cache``). If none is writable
(read-only install, read-only HOME), numba refuses ``cache=True`` with a ``RuntimeError`` at
decoration time; :func:`jit` then compiles without a cache (slower first calls, same results)
and logs that once at DEBUG level -- never a warning, so ``-W error`` stays green.

``NUMBA_DISABLE_JIT=1`` makes every kernel plain Python (``prange`` is ``range``): slow but
identical code paths, which the test suite exercises.
"""

from __future__ import annotations

import functools
import logging
import threading

import numba
import numpy as np

from ... import threads as _threads

__all__ = [
    "CHUNK",
    "PARALLEL_LOCK",
    "PARALLEL_THRESHOLD",
    "InOut",
    "c",
    "cache_disabled_functions",
    "jit",
    "prange",
    "scratch",
]

prange = numba.prange

#: Below this many elements the serial kernel runs: thread start-up (~10-50 µs) costs more
#: than it saves on 2-8 cores for shorter streams.
PARALLEL_THRESHOLD = 65536
#: Parallel kernels split the work into fixed chunks of this many elements (results therefore
#: do not depend on the number of threads: reductions combine per-chunk partials in order).
CHUNK = 16384


class _ParallelGate:
    """Held around every call of a ``parallel=True`` kernel (``with PARALLEL_LOCK:``).

    - A lock: numba's fallback threading layer ("workqueue", used when neither OpenMP nor TBB
      is available) aborts the process when two Python threads launch parallel kernels at
      once; serializing the (large, already multi-threaded) parallel calls costs nothing
      measurable.
    - The thread count: numba's ``set_num_threads`` is thread-local, gradcore's is
      process-wide, so the calling thread gets gradcore's setting here
      (``gradcore.threads.numba_threads()``; numba's default when never set)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self):
        self._lock.acquire()
        try:
            n = _threads.numba_threads()
            if n is not None and numba.get_num_threads() != n:
                numba.set_num_threads(n)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


PARALLEL_LOCK = _ParallelGate()

_log = logging.getLogger(__name__)
_uncached: list[str] = []


def jit(parallel: bool = False):
    """``numba.njit(cache=True)``, falling back to an uncached ``njit`` where no cache
    directory is writable (see the module docstring). No ``fastmath``: IEEE semantics.

    ``error_model="numpy"``: a float division by zero gives inf/NaN as in NumPy and torch
    (numba's default "python" model raises ``ZeroDivisionError`` -- e.g. RMSprop with
    ``eps=0`` and a zero gradient -- and its checks also keep loops from vectorizing)."""
    opts = {"parallel": parallel, "nogil": True, "error_model": "numpy"}

    def deco(fn):
        if numba.config.DISABLE_JIT:
            return _quiet(fn)
        try:
            return numba.njit(cache=True, **opts)(fn)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            if not _uncached:
                _log.debug("numba cache unavailable, compiling without it: %s", exc)
            _uncached.append(fn.__qualname__)
            return numba.njit(**opts)(fn)

    return deco


def _quiet(fn):
    """Pure-Python mode (``NUMBA_DISABLE_JIT=1``): NumPy scalars would warn where compiled code
    silently follows IEEE (overflow to inf, NaN from invalid operations); keep them silent."""

    @functools.wraps(fn)
    def wrapper(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    return wrapper


def cache_disabled_functions() -> list[str]:
    """Names of the kernels that could not be cached (empty when caching works)."""
    return list(_uncached)


class InOut:
    """A C-contiguous stand-in for an output/in-place array.

    ``InOut(a).buf`` is ``a`` itself when ``a`` is C-contiguous, else a contiguous copy
    (``copy=True``, for arrays read and written) or an uninitialised one (``copy=False``, for
    pure outputs); :meth:`done` writes a stand-in back into ``a``.
    """

    __slots__ = ("arr", "buf")

    def __init__(self, arr: np.ndarray, copy: bool = True) -> None:
        self.arr = arr
        if arr.flags.c_contiguous:
            self.buf = arr
        else:
            self.buf = np.ascontiguousarray(arr) if copy else np.empty(arr.shape, arr.dtype)

    def done(self) -> None:
        if self.buf is not self.arr:
            self.arr[...] = self.buf


def c(a: np.ndarray) -> np.ndarray:
    """An input as a C-contiguous array (no copy if it already is one)."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def scratch(ws, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A scratch array from the caller's Workspace, or a fresh one without it."""
    if ws is not None:
        return ws.get(name, shape, dtype)
    return np.empty(shape, dtype)
