"""The data checks of a training batch, shared by ``gc.train`` (``fit``, ``evaluate``) and
``gc.monitor.check``: one wording for every caller, the caller named by ``owner``.

Floor 3 (with the losses it reads): the monitor (floor 4) and the loop (floor 5) both import it.
"""

from __future__ import annotations

import numpy as np

from . import losses as _losses
from ._args import describe

__all__ = ["cast_finite", "check_data", "check_labels"]


def check_data(X, y, loss: _losses.Loss, dtype: np.dtype, owner: str = "fit", name: str = "X"):
    """``(X, y)`` checked and converted once: ``X`` C-contiguous in ``dtype``, ``y`` int64
    labels (cross-entropy, 1-D, >= 0) or targets in ``dtype`` (in ``[0, 1]`` for
    ``BCEWithLogits``); same, non-zero row counts; no NaN/inf. The upper bound of the labels
    needs the model's output width: ``fit`` checks it at the first forward pass
    (``check_labels``)."""
    yname = "y" if name == "X" else f"{name}'s y"
    for nm, a in ((name, X), (yname, y)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{owner}: {nm} must be a numpy.ndarray, got {describe(a)}")
        if a.ndim == 0:
            raise ValueError(f"{owner}: {nm} must have a first axis of samples, got a 0-d array")
    if len(X) != len(y):
        raise ValueError(
            f"{owner}: {name} and {yname} have different lengths ({len(X)} and {len(y)} samples)"
        )
    if len(X) == 0:
        raise ValueError(f"{owner}: {name} is empty (shape {X.shape}); it needs at least 1 row")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"{owner}: {name} must hold real numbers, got dtype {X.dtype}")
    X = cast_finite(X, dtype, owner, name, "; clean or impute the data first")
    if isinstance(loss, _losses.SoftmaxCrossEntropy):
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(
                f"{owner}: {yname} must hold integer class labels for cross-entropy, "
                f"got dtype {y.dtype}"
            )
        if y.ndim != 1:
            raise ValueError(
                f"{owner}: {yname} must be 1-D class labels [N] for cross-entropy, got shape "
                f"{y.shape}"
            )
        y = np.ascontiguousarray(y, dtype=np.int64)
        if y.min() < 0:
            raise ValueError(
                f"{owner}: {yname} must hold class labels >= 0, got {int(y.min())} at index "
                f"{int(np.argmin(y))}"
            )
    else:
        if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
            raise TypeError(f"{owner}: {yname} must hold real numbers, got dtype {y.dtype}")
        y = cast_finite(y, dtype, owner, yname)
        if isinstance(loss, _losses.BCEWithLogits) and (y.min() < 0 or y.max() > 1):
            bad = y[(y < 0) | (y > 1)][0]
            raise ValueError(
                f"{owner}: {yname} must hold targets in [0, 1] for bce_with_logits (labels or "
                f"probabilities), got {float(bad)!r}"
            )
    return X, y


def cast_finite(a: np.ndarray, dtype, owner: str, name: str, hint: str = "") -> np.ndarray:
    """``a`` C-contiguous in ``dtype`` (one copy at most), every value finite: a NaN/inf, or a
    finite value beyond the range of ``dtype`` (1e300 into float32: an overflow, not a
    warning), is a ``ValueError`` naming the first index."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(a, dtype=dtype)
    bad = ~np.isfinite(out)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        n = int(bad.sum())
        if np.isfinite(a[idx]):
            raise ValueError(
                f"{owner}: {name} must fit the model's dtype {np.dtype(dtype).name}, got "
                f"{n} values beyond its range, first {float(a[idx])!r} at index {idx}"
            )
        raise ValueError(
            f"{owner}: {name} contains {n} non-finite values (NaN/inf), first at index {idx}" + hint
        )
    return out


def check_labels(out: np.ndarray, labels, owner: str = "fit") -> None:
    """Cross-entropy labels against the model's output width ``K = out.shape[1]`` (once, at
    the first forward pass of a ``fit``, before any update)."""
    if out.ndim != 2:
        return  # the loss itself reports logits that are not [N, K]
    k = out.shape[1]
    for nm, y in labels:
        if y is not None and y.max() >= k:
            raise ValueError(
                f"{owner}: {nm} must hold class labels in [0, {k}) for a model with {k} "
                f"outputs, got {int(y.max())} at index {int(np.argmax(y))}"
            )
