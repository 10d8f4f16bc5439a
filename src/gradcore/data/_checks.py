"""Argument validation of the dataset generators: the package-wide checks of
:mod:`gradcore._args`, with the positional ``minimum`` the generators were written with.

Every message names the argument, what was expected and what was given, e.g.
``n must be an integer >= 1, got 0``.
"""

from __future__ import annotations

from .._args import check_bool, check_seed
from .._args import check_int as _check_int
from .._args import check_real as _check_real

__all__ = ["check_bool", "check_int", "check_real", "check_seed"]


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as a Python int ``>= minimum`` (NumPy integers accepted, ``bool`` refused)."""
    return _check_int(name, value, min=minimum)


def check_real(name: str, value: object, minimum: float = 0.0) -> float:
    """``value`` as a float; it must be a finite real number ``>= minimum``."""
    return _check_real(name, value, min=minimum)
