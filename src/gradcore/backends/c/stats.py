"""The monitor's statistics family, compiled (``kernels/stats.c``); contract: ``docs/kernels.md``.

- ``act_stats(x, sat, threshold, colnz, out)``: one pass over an activation array of any shape
  (viewed as ``[M, C]``, C = last axis): ``colnz[C]`` non-zero counts, ``out[6]`` = sum, sum of
  squares, min, max, saturated and non-finite counts.
- ``segment_delta_sumsq(new, prev, offsets, delta_sumsq, new_sumsq)``: per-segment
  ``Σ (new - prev)²`` and ``Σ new²``, then ``prev[:] = new``, in one pass.

Thin wrappers over ``gradcore._kernels`` with the reference's argument checks
(``backends._validate``: same exception types on every backend). Arrays must be C-contiguous
(``ValueError`` otherwise, no hidden copy). Counts, min and max equal the reference exactly;
the sums agree up to float64 summation order.
"""

from __future__ import annotations

import numpy as np

from gradcore import _kernels

from .._validate import check_delta_args, check_stats_args

__all__ = ["act_stats", "segment_delta_sumsq"]


def _contiguous(name: str, a: np.ndarray) -> None:
    if not a.flags.c_contiguous:
        raise ValueError(
            f"{name} must be C-contiguous, got a non-contiguous array (strides {a.strides}); "
            f"pass np.ascontiguousarray({name})"
        )


def act_stats(
    x: np.ndarray, sat: int, threshold: float, colnz: np.ndarray, out: np.ndarray
) -> None:
    """One-pass statistics of an activation array; see the reference for the definition."""
    M, C = check_stats_args(x, sat, threshold, colnz, out)
    _contiguous("x", x)
    _contiguous("colnz", colnz)
    _contiguous("out", out)
    _kernels.act_stats(x.reshape(-1), M, C, int(sat), float(threshold), colnz, out)


def segment_delta_sumsq(
    new: np.ndarray,
    prev: np.ndarray,
    offsets: np.ndarray,
    delta_sumsq: np.ndarray,
    new_sumsq: np.ndarray,
) -> None:
    """Per-segment ``Σ (new - prev)²``, ``Σ new²`` (float64), then ``prev[:] = new``."""
    check_delta_args(new, prev, offsets, delta_sumsq, new_sumsq)
    for name, a in (("new", new), ("prev", prev), ("offsets", offsets),
                    ("delta_sumsq", delta_sumsq), ("new_sumsq", new_sumsq)):  # fmt: skip
        _contiguous(name, a)
    _kernels.segment_delta_sumsq(new, prev, offsets, delta_sumsq, new_sumsq)
