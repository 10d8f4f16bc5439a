"""The Layer base class and the input checks every layer shares.

A layer is small and explicit: ``params`` and ``grads`` dicts with the same keys (gradients
ACCUMULATE across backward calls until ``zero_grad``), optional ``buffers`` (state that is not
trained, e.g. BatchNorm running statistics), ``forward(x, training=True)`` and
``backward(dy) -> dx``. A layer remembers only what its last forward needs for backward (one
cache, replaced on every forward; never a growing list) and holds no optimizer.
Kernels come from the active backend (``gc.set_backend``) at call time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..backends import Workspace, get_backend

__all__ = ["Layer", "check_array", "check_dtype"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype) -> np.dtype:
    """Normalise a layer dtype argument; only float32 and float64 are supported."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in _FLOATS:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dt}")
    return dt


def check_array(
    x,
    name: str,
    *,
    owner: str,
    dtype: np.dtype,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Validate an input array and return it C-contiguous.

    ``shape`` entries of ``None`` are free; a non-contiguous array is copied once (documented
    behaviour); a wrong type, dtype, rank or size raises with a message naming ``owner`` and
    ``name``, what was expected and what was given.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != dtype:
        raise TypeError(
            f"{owner}: {name} has dtype {x.dtype}, expected {dtype} (the layer's dtype); "
            f"convert with {name}.astype(np.{dtype})"
        )
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{owner}: {name} must be {ndim}-D, got shape {x.shape}")
    if shape is not None:
        for axis, (want, got) in enumerate(zip(shape, x.shape, strict=True)):
            if want is not None and want != got:
                pretty = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
                raise ValueError(
                    f"{owner}: {name} must have shape {pretty}, got {x.shape} "
                    f"(axis {axis}: expected {want}, got {got})"
                )
    return np.ascontiguousarray(x)


class Layer:
    """Base class: parameter/gradient dicts, buffers, a workspace and a single forward cache."""

    def __init__(self, dtype=np.float32) -> None:
        self.dtype = check_dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.ws = Workspace()
        self._cache: dict | None = None

    # -- parameters -------------------------------------------------------------------
    def _add_param(self, name: str, value: np.ndarray) -> None:
        value = np.ascontiguousarray(value, dtype=self.dtype)
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def zero_grad(self) -> None:
        """Set every gradient to zero (gradients accumulate across ``backward`` calls)."""
        for g in self.grads.values():
            g.fill(0)

    def children(self) -> list[tuple[str, Layer]]:
        """Sub-layers with their path names (containers override)."""
        return []

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """This layer and every sub-layer, depth first, with dotted path names."""
        yield prefix, self
        for name, child in self.children():
            yield from child.named_layers(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(path, param, grad)`` for every parameter of this layer and its sub-layers."""
        for path, layer in self.named_layers():
            for key in layer.params:
                full = f"{path}.{key}" if path else key
                yield full, layer.params[key], layer.grads[key]

    @property
    def num_params(self) -> int:
        return sum(p.size for _, p, _ in self.named_parameters())

    # -- running --------------------------------------------------------------------
    @property
    def backend(self):
        return get_backend()

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = True, **kwargs) -> np.ndarray:
        return self.forward(x, training=training, **kwargs)

    def _need_cache(self) -> dict:
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward (or twice after one "
                "forward with a layer that frees its cache)"
            )
        return self._cache

    def _check_dy(self, dy, shape: tuple[int, ...]) -> np.ndarray:
        return check_array(
            dy, "dy", owner=f"{type(self).__name__}.backward", dtype=self.dtype, shape=shape
        )

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
