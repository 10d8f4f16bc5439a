"""Norms and clipping over a flat buffer cut into segments, the reference definition.

A flat buffer ``flat[P]`` holds every tensor of a model back to back; tensor ``s`` is the
segment ``flat[offsets[s] : offsets[s+1]]``. One pass gives every tensor's norm (for the
monitor) and the global norm (for clipping), as ``torch.nn.utils.clip_grad_norm_`` computes it:

- norm_type 2:   ``total = sqrt(Σ_s sumsq[s])``,  ``sumsq[s] = Σ_{k in s} flat[k]²``
- norm_type inf: ``total = max_s absmax[s]``,     ``absmax[s] = max_{k in s} |flat[k]|``

Non-finite values propagate as in torch: an inf element makes the segment's sum of squares /
absmax inf, a NaN makes it NaN (``torch.linalg.vector_norm`` of a tensor containing NaN is NaN
for both ord=2 and ord=inf, even if it also contains inf). Squares that overflow float64
become inf, as in torch (no rescaling). One documented difference: the inf-norm of an EMPTY
segment is 0 here (the identity of max over |x| >= 0), where torch raises.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_clip, check_flat, check_segments

__all__ = ["clip_value_", "scale_", "segment_absmax", "segment_sumsq"]


def segment_sumsq(
    flat: np.ndarray, offsets: np.ndarray, sumsq: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment sum of squares and count of non-finite elements.

    ``flat[P]`` float32/float64; ``offsets[S+1]`` int64, non-decreasing, ``offsets[0] == 0``,
    ``offsets[-1] == P`` (ValueError otherwise; empty segments allowed). Writes
    ``sumsq[s] = Σ_{k=offsets[s]}^{offsets[s+1]-1} flat[k]²`` (float64 array; squares and sum
    computed in float64 even for float32 data) and ``nonfinite[s]`` (int64) = number of
    elements that are inf or NaN. An empty segment gives 0 and 0.

    Mirrors ``torch.linalg.vector_norm(t, 2) ** 2`` per tensor (as used by
    ``clip_grad_norm_``): inf -> inf, NaN -> NaN, float64 overflow -> inf.
    """
    S = check_segments("segment_sumsq", flat, offsets, sumsq, "sumsq", nonfinite)
    for s in range(S):
        seg = flat[offsets[s] : offsets[s + 1]].astype(np.float64)
        with np.errstate(over="ignore"):  # |x| > 1.3e154 squares to inf, like torch
            sumsq[s] = np.sum(seg * seg)
        nonfinite[s] = np.count_nonzero(~np.isfinite(seg))


def segment_absmax(
    flat: np.ndarray, offsets: np.ndarray, absmax: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment maximum absolute value (for norm_type inf) and count of non-finite elements.

    Same layout rules as :func:`segment_sumsq`. Writes
    ``absmax[s] = max_{k in segment s} |flat[k]|`` (float64 array) and ``nonfinite[s]`` (int64)
    = number of inf or NaN elements. A segment containing NaN gives NaN (NaN wins over inf), one
    containing ±inf and no NaN gives inf. An empty segment gives 0 (torch raises instead).

    Mirrors ``torch.linalg.vector_norm(t, float('inf'))`` per tensor.
    """
    S = check_segments("segment_absmax", flat, offsets, absmax, "absmax", nonfinite)
    for s in range(S):
        seg = flat[offsets[s] : offsets[s + 1]].astype(np.float64)
        # np.max propagates NaN (np.nanmax would skip it), matching torch's max.
        absmax[s] = np.max(np.abs(seg)) if seg.size > 0 else 0.0
        nonfinite[s] = np.count_nonzero(~np.isfinite(seg))


def scale_(flat: np.ndarray, alpha: float) -> None:
    """``flat *= alpha`` in place; ``flat[P]`` float32/float64, ``alpha`` a Python float
    (rounded to flat's dtype first, as torch's ``mul_`` does). Mirrors ``grad.mul_(coef)`` in
    ``clip_grad_norm_``."""
    check_flat("scale_", flat, inplace=True)
    with np.errstate(all="ignore"):  # IEEE results silently, like torch: inf * 0 = NaN
        flat *= flat.dtype.type(alpha)


def clip_value_(flat: np.ndarray, clip: float) -> None:
    """``flat = clamp(flat, -clip, clip)`` in place; NaN stays NaN, ±inf become ±clip.

    ``flat[P]`` float32/float64, ``clip >= 0`` (ValueError otherwise, including NaN; torch's
    ``clip_grad_value_`` does not check and with a negative clip would set every element to
    ``-|clip|``). ``clip`` is rounded to flat's dtype. Mirrors
    ``torch.nn.utils.clip_grad_value_`` (``grad.clamp_(min=-clip, max=clip)``).
    """
    check_flat("clip_value_", flat, inplace=True)
    check_clip(clip)
    c = flat.dtype.type(clip)
    np.clip(flat, -c, c, out=flat)  # minimum/maximum propagate NaN, like torch.clamp
