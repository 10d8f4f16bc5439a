"""Hypothesis strategies for gradient checks and property tests.

- :func:`shapes`: array shapes, shrinking towards fewer and smaller dimensions (sides of 1,
  i.e. batch 1 and width 1, are always in range unless excluded).
- :func:`scales` / :func:`arrays`: well-conditioned float arrays whose magnitude is drawn as a
  power of ten (default 1e-3 ... 1e2, shrinking towards 1): ``scale * N(0, 1)`` from a seeded
  NumPy generator. Values are finite, never subnormal and never all equal, unlike element-wise
  drawn arrays, which hypothesis fills with many copies of one value (a constant batch makes a
  BatchNorm's variance 0: ill-conditioned, not a bug).
- :func:`activations`: activation names; ``smooth=True`` leaves out those with a kink at 0.
- :func:`labels`: int64 class labels in ``[0, k)``.
- :func:`seeds`: seeds for layer initializers and NumPy generators.

Every size argument takes an int or a strategy of ints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.strategies import SearchStrategy

from gradcore.backends import ACTIVATIONS

__all__ = [
    "ACTIVATIONS",
    "KINKED_ACTIVATIONS",
    "activations",
    "arrays",
    "labels",
    "scales",
    "seeds",
    "shapes",
]

#: Activations whose derivative jumps at 0 (finite differences across 0 see a kink).
KINKED_ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu")


def _draw(draw: Any, v: Any) -> Any:
    return draw(v) if isinstance(v, SearchStrategy) else v


def _check_int(name: str, v: int, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < low:
        raise ValueError(f"{name} must be >= {low}, got {v}")


def shapes(
    ndim: int | None = None,
    *,
    min_dims: int = 1,
    max_dims: int = 3,
    min_side: int = 1,
    max_side: int = 5,
) -> SearchStrategy[tuple[int, ...]]:
    """Shapes with ``ndim`` dimensions (or ``min_dims..max_dims``), sides ``min_side..max_side``.

    ``shapes(2)`` draws ``(N, C)`` matrices such as ``(1, 1)``, ``(3, 5)``.
    """
    if ndim is not None:
        min_dims = max_dims = ndim
    for name, v, low in (("min_dims", min_dims, 0), ("min_side", min_side, 0)):
        _check_int(name, v, low)
    _check_int("max_dims", max_dims, min_dims)
    _check_int("max_side", max_side, min_side)
    side = st.integers(min_side, max_side)
    return st.lists(side, min_size=min_dims, max_size=max_dims).map(tuple)


def scales(min_exponent: int = -3, max_exponent: int = 2) -> SearchStrategy[float]:
    """Powers of ten ``10.0**e`` for integer ``e`` in ``[min_exponent, max_exponent]``.

    Shrinks towards ``e = 0`` (scale 1) when it is in range.
    """
    _check_int("min_exponent", min_exponent, -300)
    _check_int("max_exponent", max_exponent, min_exponent)
    if max_exponent > 300:
        raise ValueError(f"max_exponent must be <= 300, got {max_exponent}")
    return st.integers(min_exponent, max_exponent).map(lambda e: 10.0**e)


def seeds() -> SearchStrategy[int]:
    """Seeds for ``np.random.default_rng`` and layer initializers (``0 .. 2**32 - 1``)."""
    return st.integers(0, 2**32 - 1)


def arrays(
    shape: int | tuple[int, ...] | SearchStrategy[tuple[int, ...]],
    *,
    scale: float | SearchStrategy[float] | None = None,
    min_exponent: int = -3,
    max_exponent: int = 2,
    dtype: Any = np.float64,
) -> SearchStrategy[np.ndarray]:
    """Arrays ``scale * N(0, 1)`` of ``shape`` and floating ``dtype``, C-contiguous, writable.

    ``scale`` is a number, a strategy of numbers, or ``None`` for
    ``scales(min_exponent, max_exponent)``. The values come from a NumPy generator seeded by a
    drawn seed, so they are distinct, finite and well-conditioned (no subnormals for any scale
    >= 1e-290); hypothesis explores and shrinks the shape, the scale and the seed.
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    if scale is None:
        scale = scales(min_exponent, max_exponent)
    elif not isinstance(scale, SearchStrategy):
        scale = float(scale)
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be finite and > 0, got {scale}")

    @st.composite
    def _arrays(draw: Any) -> np.ndarray:
        shp = _draw(draw, shape)
        s = float(_draw(draw, scale))
        seed = draw(seeds())
        a = np.random.default_rng(seed).standard_normal(shp) * s
        return np.array(a, dtype=dtype, order="C")  # 0-d stays 0-d

    return _arrays()


def activations(*, smooth: bool = False, exclude: tuple[str, ...] = ()) -> SearchStrategy[str]:
    """Activation names from ``gradcore.backends.ACTIVATIONS``.

    ``smooth=True`` leaves out :data:`KINKED_ACTIVATIONS`; ``exclude`` leaves out more.
    """
    unknown = set(exclude) - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f"unknown activations in exclude: {sorted(unknown)}")
    drop = set(exclude) | (set(KINKED_ACTIVATIONS) if smooth else set())
    names = [a for a in ACTIVATIONS if a not in drop]
    if not names:
        raise ValueError("every activation is excluded")
    return st.sampled_from(names)


def labels(n: int | SearchStrategy[int], k: int | SearchStrategy[int]) -> SearchStrategy:
    """int64 arrays of ``n`` class labels in ``[0, k)`` (shrinking towards all zeros)."""

    @st.composite
    def _labels(draw: Any) -> np.ndarray:
        nn, kk = _draw(draw, n), _draw(draw, k)
        _check_int("n", nn, 0)
        _check_int("k", kk, 1)
        return draw(hnp.arrays(np.int64, int(nn), elements=st.integers(0, int(kk) - 1)))

    return _labels()
