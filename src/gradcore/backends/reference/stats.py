"""The monitor's statistics family, the reference definition: one pass over an array.

``act_stats`` summarises a layer's output (activation) array for the gradient monitor:
sum and sum of squares (hence mean and std), min and max, the number of *saturated* elements
(sigmoid/tanh outputs whose local derivative is below a threshold), the number of non-finite
elements, and per unit (the last axis) the number of non-zero entries, so a ReLU unit that
outputs 0 for the whole batch (a *dead* unit) is ``colnz[c] == 0``.

``segment_delta_sumsq`` gives the monitor the update/weight ratio ``||w_new - w_old|| /
||w_new||`` of every tensor of the flat parameter arena in one pass, and keeps the copy of
the old parameters current (``prev := new``) in the same pass.

Reductions accumulate in float64 (elements are converted to float64 first), as every family.
"""

from __future__ import annotations

import numpy as np

from .._contract import SATURATION, STATS_FIELDS
from .._validate import check_delta_args, check_stats_args

__all__ = ["SATURATION", "STATS_FIELDS", "act_stats", "segment_delta_sumsq"]


def act_stats(
    x: np.ndarray, sat: int, threshold: float, colnz: np.ndarray, out: np.ndarray
) -> None:
    """One-pass statistics of an activation array.

    ``x``: float32/float64 array of any shape, viewed as ``[M, C]`` with ``C = x.shape[-1]``
    (units on the last axis; a 0-d array is ``[1, 1]``). ``sat``: 0, 1 or 2 (:data:`SATURATION`).
    ``threshold`` >= 0. Writes

    - ``colnz[C]`` (int64): ``colnz[c] = #{m : x[m, c] != 0}`` (NaN counts as non-zero);
    - ``out[6]`` (float64): ``[Σ x, Σ x², min x, max x, n_saturated, n_nonfinite]``, sums over
      all ``M·C`` elements in float64 (non-finite values propagate into the sums as in the
      norms family; ``min``/``max`` are NaN if any element is NaN; an empty array gives sums 0,
      ``min = +inf``, ``max = -inf``); ``n_saturated`` counts elements with ``y (1-y) <
      threshold`` (sat 1) or ``1 - y² < threshold`` (sat 2), evaluated in float64 (a NaN is never
      saturated; sat 0 gives 0); ``n_nonfinite`` counts NaN and ±inf.
    """
    M, C = check_stats_args(x, sat, threshold, colnz, out)
    v = np.asarray(x, dtype=np.float64).reshape(M, C)
    with np.errstate(all="ignore"):
        colnz[...] = np.count_nonzero(v != 0, axis=0)
        out[0] = np.sum(v)
        out[1] = np.sum(v * v)
        out[2] = np.min(v) if v.size else np.inf
        out[3] = np.max(v) if v.size else -np.inf
        if sat == 1:
            out[4] = np.count_nonzero(v * (1.0 - v) < threshold)
        elif sat == 2:
            out[4] = np.count_nonzero(1.0 - v * v < threshold)
        else:
            out[4] = 0
        out[5] = np.count_nonzero(~np.isfinite(v))


def segment_delta_sumsq(
    new: np.ndarray,
    prev: np.ndarray,
    offsets: np.ndarray,
    delta_sumsq: np.ndarray,
    new_sumsq: np.ndarray,
) -> None:
    """Per-segment ``Σ (new - prev)²`` and ``Σ new²``, then ``prev[:] = new``, in one pass.

    ``new[P]``, ``prev[P]``: float32/float64 of one dtype (``prev`` writeable, not ``new``'s
    memory); ``offsets[S+1]`` int64 as in ``segment_sumsq``; ``delta_sumsq[S]``,
    ``new_sumsq[S]`` float64 outputs. Differences and squares are computed in float64
    (``(double)new - (double)prev``). Non-finite values propagate (inf - inf = NaN).
    """
    S = check_delta_args(new, prev, offsets, delta_sumsq, new_sumsq)
    with np.errstate(all="ignore"):
        for s in range(S):
            a, b = offsets[s], offsets[s + 1]
            n64 = new[a:b].astype(np.float64)
            d = n64 - prev[a:b].astype(np.float64)
            delta_sumsq[s] = np.sum(d * d)
            new_sumsq[s] = np.sum(n64 * n64)
    prev[...] = new
