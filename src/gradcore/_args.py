"""Argument checks for the public API: one module, one wording.

Every public constructor, setter and call of gradcore validates its arguments with these
helpers, so every message reads the same way::

    SGD: momentum must be a finite real number >= 0, got nan
    Dropout: p must be a real number in [0, 1), got str
    evaluate: batch_size must be an integer >= 1, got -1

i.e. ``"{owner}: {name} must be {what was expected}, got {what was given}"``; a wrong *type*
raises ``TypeError``, a wrong *value* ``ValueError``. NumPy scalar types are accepted wherever
Python numbers are (``np.float32(0.5)``, ``np.int64(3)``); ``bool`` is never a number here
(``True`` is an ``int`` to Python but never a meant size or rate). Each helper returns the
value converted to a plain Python ``int``/``float``/``bool``.

This module is on the lowest floor: it imports NumPy only, so every part of gradcore can use it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_real",
    "check_seed",
    "describe",
]


def describe(value: object) -> str:
    """How a given value is shown after "got" in a message: its type name, followed by the
    value itself when that is short (a number, a short string); an array by shape and dtype."""
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape} and dtype {value.dtype}"
    name = type(value).__name__
    if isinstance(value, bool | np.bool_ | numbers.Number):
        return f"{name} ({value!r})"
    if isinstance(value, str) and len(value) <= 40:
        return f"{name} ({value!r})"
    return name


def _prefix(owner: str | None) -> str:
    return f"{owner}: " if owner else ""


def _interval(lo, hi, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def check_real(
    name: str,
    value: object,
    *,
    owner: str | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a float: a real number (Python or NumPy, not bool), finite unless
    ``finite=False`` (then +-inf may pass a range that allows it; NaN never passes), within
    ``[min, max]`` (``min_open``/``max_open`` make that end exclusive)."""
    rng = _interval(min, max, min_open, max_open)
    what = ("a finite real number" if finite else "a real number") + (f" {rng}" if rng else "")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_prefix(owner)}{name} must be {what}, got {describe(value)}")
    try:
        v = float(value)
    except OverflowError:  # a Python int beyond the float range (10**400)
        raise ValueError(
            f"{_prefix(owner)}{name} must be {what}, got an int too large for a float "
            f"({len(str(abs(int(value))))} digits)"
        ) from None
    bad = math.isnan(v) or (finite and math.isinf(v))
    if min is not None:
        bad = bad or (v <= min if min_open else v < min)
    if max is not None:
        bad = bad or (v >= max if max_open else v > max)
    if bad:
        raise ValueError(f"{_prefix(owner)}{name} must be {what}, got {v!r}")
    return v


def check_int(
    name: str,
    value: object,
    *,
    owner: str | None = None,
    min: int | None = None,
    max: int | None = None,
) -> int:
    """``value`` as a Python int: an integer (Python or NumPy, not bool) within ``[min, max]``.
    A float with an integral value (``3.0``) is refused: a size is counted, not measured."""
    rng = _interval(min, max, False, False)
    what = "an integer" + (f" {rng}" if rng else "")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_prefix(owner)}{name} must be {what}, got {describe(value)}")
    v = int(value)
    if (min is not None and v < min) or (max is not None and v > max):
        raise ValueError(f"{_prefix(owner)}{name} must be {what}, got {v}")
    return v


def check_bool(name: str, value: object, *, owner: str | None = None) -> bool:
    """``value`` if it is a bool (Python or NumPy), else ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{_prefix(owner)}{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_seed(seed: object, *, owner: str | None = None, name: str = "seed") -> int:
    """Seeds are integers >= 0 (what ``np.random.default_rng`` takes as an int)."""
    return check_int(name, seed, owner=owner, min=0)


def check_choice(name: str, value: object, choices, *, owner: str | None = None):
    """``value`` if it is one of ``choices`` (compared with ``==``; strings are matched exactly),
    else ``ValueError`` listing them (``TypeError`` if it is of a type none of them has)."""
    choices = tuple(choices)
    shown = ", ".join(repr(c) for c in choices)
    try:
        ok = value in choices
    except TypeError:  # e.g. an array compared elementwise
        ok = False
    if not ok:
        err = ValueError if isinstance(value, str | type(None)) else TypeError
        if any(type(c) is type(value) for c in choices):
            err = ValueError
        raise err(f"{_prefix(owner)}{name} must be one of {shown}, got {describe(value)}")
    return value
