"""Norms and clipping over a flat buffer cut into segments, compiled (``kernels/norms.c``).

Contract: ``docs/kernels.md`` (family ``norms``). Thin wrappers over ``gradcore._kernels``
adding the reference's argument checks (so a bad call raises the same kind of error whichever
backend runs): ``flat`` a 1-d float32/float64 array, ``offsets`` a 1-d int64 array of length
S+1, outputs float64 / int64 of length S, writeable; ``clip >= 0`` (NaN rejected). Arrays must
be C-contiguous (``ValueError`` otherwise).
"""

from __future__ import annotations

import numpy as np

from gradcore import _kernels

__all__ = ["clip_value_", "scale_", "segment_absmax", "segment_sumsq"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_flat(flat: object, out: bool) -> None:
    if not isinstance(flat, np.ndarray) or flat.ndim != 1:
        raise ValueError("flat must be a 1-d numpy array")
    if flat.dtype not in _FLOATS:
        raise TypeError(f"flat has dtype {flat.dtype}, expected float32 or float64")
    if out and not flat.flags.writeable:
        raise ValueError("flat must be writeable (it is modified in place)")


def _check_segments(flat, offsets, values, vname, nonfinite) -> None:
    _check_flat(flat, False)
    if not isinstance(offsets, np.ndarray) or offsets.ndim != 1 or offsets.dtype != np.int64:
        raise TypeError("offsets must be a 1-d int64 numpy array of length S+1")
    if offsets.shape[0] < 1:
        raise ValueError("offsets must have length S+1 >= 1")
    S = offsets.shape[0] - 1
    for name, arr, dt in ((vname, values, np.float64), ("nonfinite", nonfinite, np.int64)):
        if not isinstance(arr, np.ndarray) or arr.dtype != dt or arr.shape != (S,):
            raise TypeError(f"{name} must be a {np.dtype(dt)} numpy array of shape ({S},)")
        if not arr.flags.writeable:
            raise ValueError(f"{name} is an output and must be writeable")


def segment_sumsq(
    flat: np.ndarray, offsets: np.ndarray, sumsq: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment sum of squares (float64 accumulation) and count of non-finite elements."""
    _check_segments(flat, offsets, sumsq, "sumsq", nonfinite)
    _kernels.segment_sumsq(flat, offsets, sumsq, nonfinite)


def segment_absmax(
    flat: np.ndarray, offsets: np.ndarray, absmax: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment max |x| (NaN if the segment holds a NaN; 0 if empty) and non-finite counts."""
    _check_segments(flat, offsets, absmax, "absmax", nonfinite)
    _kernels.segment_absmax(flat, offsets, absmax, nonfinite)


def scale_(flat: np.ndarray, alpha: float) -> None:
    """``flat *= alpha`` in place (alpha rounded to flat's dtype first)."""
    _check_flat(flat, True)
    _kernels.scale_(flat, float(alpha))


def clip_value_(flat: np.ndarray, clip: float) -> None:
    """``flat = clamp(flat, -clip, clip)`` in place; NaN stays NaN; ``clip >= 0``."""
    _check_flat(flat, True)
    if not clip >= 0:
        raise ValueError(f"clip must be >= 0, got {clip}")
    _kernels.clip_value_(flat, float(clip))
