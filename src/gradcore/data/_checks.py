"""Argument validation of the dataset generators: the package-wide checks of
:mod:`gradcore._args`, with the positional ``minimum`` the generators were written with and the
owner (the public function) named first.

Every message names the function, the argument, what was expected and what was given, e.g.
``spirals: n_per_class must be an integer >= 1, got 0``.
"""

from __future__ import annotations

import numpy as np

from .._args import check_bool, check_choice, check_seed, describe
from .._args import check_int as _check_int
from .._args import check_real as _check_real

__all__ = ["as_examples", "check_bool", "check_choice", "check_int", "check_real", "check_seed"]


def check_int(name: str, value: object, minimum: int, owner: str | None = None) -> int:
    """``value`` as a Python int ``>= minimum`` (NumPy integers accepted, ``bool`` refused)."""
    return _check_int(name, value, owner=owner, min=minimum)


def check_real(
    name: str,
    value: object,
    minimum: float = 0.0,
    owner: str | None = None,
    *,
    maximum: float | None = None,
    open_interval: bool = False,
) -> float:
    """``value`` as a float; a finite real number ``>= minimum`` (and ``<= maximum``), both
    ends excluded with ``open_interval=True``."""
    return _check_real(
        name,
        value,
        owner=owner,
        min=minimum,
        max=maximum,
        min_open=open_interval,
        max_open=open_interval,
    )


def as_examples(name: str, value: object, owner: str) -> np.ndarray:
    """``np.asarray(value)`` with a first axis of examples: a scalar, a string, ``None`` or
    another non-array is a ``TypeError``; a ragged nested list a ``ValueError``."""
    if isinstance(value, str | bytes | dict | set) or value is None:
        raise TypeError(
            f"{owner}: {name} must be an array (array_like) with a first axis of examples, "
            f"got {describe(value)}"
        )
    try:
        a = np.asarray(value)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(
            f"{owner}: {name} must be array_like with a regular shape, got a ragged "
            f"{type(value).__name__} ({exc})"
        ) from exc
    if a.ndim == 0:
        raise TypeError(
            f"{owner}: {name} must be an array (array_like) with a first axis of examples, "
            f"got {describe(value)}"
        )
    return a
