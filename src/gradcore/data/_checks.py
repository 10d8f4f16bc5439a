"""Argument validation shared by the dataset generators.

Every message names the argument, what was expected and what was given, e.g.
``n must be an integer >= 1, got 0``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as a Python int; ``TypeError`` if not an integer, ``ValueError`` if small.

    ``bool`` is rejected (``True`` is an ``int`` to Python, but never a meant size); NumPy
    integers are accepted.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value: object, minimum: float = 0.0) -> float:
    """Return ``value`` as a float; it must be a finite real number ``>= minimum``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number >= {minimum}, got {type(value).__name__}")
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite real number >= {minimum}, got {value}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool (Python or NumPy), else ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_seed(seed: object) -> int:
    """Seeds are non-negative integers (what ``np.random.default_rng`` accepts as an int)."""
    return check_int("seed", seed, 0)
