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

from .._validate import check_clip, check_flat, check_segments

__all__ = ["clip_value_", "scale_", "segment_absmax", "segment_sumsq"]


def segment_sumsq(
    flat: np.ndarray, offsets: np.ndarray, sumsq: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment sum of squares (float64 accumulation) and count of non-finite elements."""
    check_segments("segment_sumsq", flat, offsets, sumsq, "sumsq", nonfinite)
    _kernels.segment_sumsq(flat, offsets, sumsq, nonfinite)


def segment_absmax(
    flat: np.ndarray, offsets: np.ndarray, absmax: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment max |x| (NaN if the segment holds a NaN; 0 if empty) and non-finite counts."""
    check_segments("segment_absmax", flat, offsets, absmax, "absmax", nonfinite)
    _kernels.segment_absmax(flat, offsets, absmax, nonfinite)


def scale_(flat: np.ndarray, alpha: float) -> None:
    """``flat *= alpha`` in place (alpha rounded to flat's dtype first)."""
    check_flat("scale_", flat, inplace=True)
    _kernels.scale_(flat, float(alpha))


def clip_value_(flat: np.ndarray, clip: float) -> None:
    """``flat = clamp(flat, -clip, clip)`` in place; NaN stays NaN; ``clip >= 0``."""
    check_flat("clip_value_", flat, inplace=True)
    check_clip(clip)
    _kernels.clip_value_(flat, float(clip))
