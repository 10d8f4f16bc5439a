"""Backend registry: one switch chooses which implementation of the kernel contract runs.

The contract (every op, its signature and semantics) is written down in ``docs/kernels.md``
and, as data, in ``backends/_contract.py`` (op names and parameters, dtypes, activations): the
registry checks a backend against it when it loads it (:func:`._contract.verify`) and lists a
backend that misses an op as unavailable, with the reason. ``numpy`` (the reference) is always
available; ``c`` and ``numba`` are used when they are built/installed.

Floors: ``_contract`` (stdlib + NumPy) < ``_validate`` < the backends < this registry. The
backends import only the modules below them, never this one.

The active backend is process-wide. It is chosen, in order, by :func:`set_backend` /
:func:`use_backend`, else the environment variable ``GRADCORE_BACKEND``, else the fastest
available one (``c`` > ``numba`` > ``numpy``).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import threading
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from .._args import describe
from ._contract import ACTIVATIONS, ieee_silent, verify

__all__ = [
    "ACTIVATIONS",
    "Workspace",
    "available_backends",
    "get_backend",
    "get_backend_name",
    "ieee_silent",
    "set_backend",
    "use_backend",
]

# name -> module path. Order is preference order for the default.
_CANDIDATES: dict[str, str] = {
    "c": "gradcore.backends.c",
    "numba": "gradcore.backends.numba",
    "numpy": "gradcore.backends.reference",
}
_PREFERENCE = ["c", "numba", "numpy"]

_loaded: dict[str, ModuleType] = {}
_failed: dict[str, str] = {}
_state = threading.local()
_global: dict[str, str | None] = {"name": None}


def _try_load(name: str) -> ModuleType | None:
    if name in _loaded:
        return _loaded[name]
    if name in _failed or name not in _CANDIDATES:
        return None
    try:
        mod = importlib.import_module(_CANDIDATES[name])
        verify(mod)  # a backend that misses an op (or names its parameters otherwise) is refused
    except ImportError as exc:  # optional backend not built / not installed / incomplete
        _failed[name] = f"{type(exc).__name__}: {exc}"
        return None
    _loaded[name] = mod
    return mod


def available_backends() -> list[str]:
    """Names of the backends that can be used here, fastest first (e.g. ``["c", "numpy"]``)."""
    return [n for n in _PREFERENCE if n in _CANDIDATES and _try_load(n) is not None]


def _check(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(
            f"set_backend: name must be one of {', '.join(map(repr, _PREFERENCE))}, "
            f"got {describe(name)}"
        )
    key = name.strip().lower()
    if _try_load(key) is None:
        avail = ", ".join(repr(n) for n in available_backends())
        why = f" ({_failed[key]})" if key in _failed else ""
        raise ValueError(f"unknown or unavailable backend {name!r}{why}; available: {avail}")
    return key


def _default_name() -> str:
    env = os.environ.get("GRADCORE_BACKEND", "").strip()
    if env:
        try:
            return _check(env)
        except ValueError as exc:
            raise ValueError(f"GRADCORE_BACKEND={env!r}: {exc}") from None
    # The first backend that loads, trying no further: with `c` built, numba (~0.5 s to
    # import) is not imported unless it is asked for by name or listed.
    return next(n for n in _PREFERENCE if _try_load(n) is not None)


def get_backend_name() -> str:
    """Name of the active backend."""
    override = getattr(_state, "stack", None)
    if override:
        return override[-1]
    if _global["name"] is None:
        _global["name"] = _default_name()
    return _global["name"]


def get_backend(name: str | None = None) -> ModuleType:
    """The active backend: a module implementing the kernel contract (``docs/kernels.md``).

    With ``name`` (e.g. ``"numpy"``), that backend, without making it the active one
    (``ValueError`` if it is unknown or unavailable, as :func:`set_backend`)."""
    if name is None:
        return _loaded[get_backend_name()]
    return _loaded[_check(name)]


def set_backend(name: str) -> None:
    """Make ``name`` the process-wide active backend. Unknown names raise ``ValueError``."""
    _global["name"] = _check(name)


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[ModuleType]:
    """Context manager: run the block with backend ``name`` (this thread only)."""
    key = _check(name)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(key)
    try:
        yield _loaded[key]
    finally:
        stack.pop()


class Workspace:
    """Reusable scratch arrays, keyed by name, owned by a layer (or any caller).

    ``ws.get("dz", (N, O), np.float32)`` returns an array of that shape and dtype whose
    contents are undefined; the same buffer is handed out again on the next call with a shape
    that fits, so a training step allocates nothing once warm.
    """

    __slots__ = ("_bufs",)

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = math.prod(shape)  # (np.prod costs ~3 us: this is on every kernel call)
        if size < 0 or (shape and min(shape) < 0):  # a negative size: a caller's bug, not []
            raise ValueError(f"Workspace.get: shape must have sizes >= 0, got {tuple(shape)}")
        buf = self._bufs.get(name)
        if buf is None or buf.dtype != dtype or buf.size < size:
            buf = np.empty(max(size, 1), dtype=dtype)
            self._bufs[name] = buf
        return buf[:size].reshape(shape)

    def clear(self) -> None:
        self._bufs.clear()

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self._bufs.values())
