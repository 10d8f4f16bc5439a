"""Loss functions: value and gradient from one kernel pass, ``reduction='mean'`` as PyTorch.

``loss.forward(pred, target) -> float`` computes the value and keeps the gradient;
``loss.backward() -> dpred`` returns d(loss)/d(pred) (same shape and dtype as ``pred``).

- ``SoftmaxCrossEntropy``: ``pred`` logits ``[N, K]``, ``target`` integer labels ``[N]`` in
  ``[0, K)``; mean over the batch (``torch.nn.functional.cross_entropy``).
- ``MSE``: mean over all elements of ``(pred - target)^2`` (``F.mse_loss``).
- ``BCEWithLogits``: mean over all elements of the stable
  ``max(z, 0) - z t + log(1 + exp(-|z|))`` (``F.binary_cross_entropy_with_logits``), targets
  in ``[0, 1]``.

Input checks (``TypeError`` for a wrong type or dtype, ``ValueError`` for a wrong shape or
value, each naming the argument): ``pred`` a float32/float64 ``numpy.ndarray`` (any shape for
the elementwise losses, 0-d included; non-contiguous and read-only arrays give the same
result); ``target`` an array of ``pred``'s shape with finite real values (ints are cast to
``pred``'s dtype; ``[0, 1]`` for BCE), or integer labels in ``[0, K)`` for cross-entropy.
An empty batch is a ``ValueError``: the mean over 0 elements is undefined (torch returns NaN,
a silent wrong answer in a running average). ``pred`` is not scanned for NaN: a non-finite
loss is reported as it is (the monitor and ``TerminateOnNonFinite`` watch for it); targets
are data and are checked: BCE's range up front (a min and a max), finiteness only when the
loss comes out non-finite (then the first non-finite target is named; else the value is
returned as it is), so a valid step pays no extra pass.
Only ``reduction='mean'`` exists (torch's default); other names are a ``ValueError``.
"""

from __future__ import annotations

import math

import numpy as np

from ._args import check_choice, describe
from .backends import get_backend

__all__ = ["LOSSES", "MSE", "BCEWithLogits", "Loss", "SoftmaxCrossEntropy", "get"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
REDUCTIONS = ("mean",)


def _check_pred(pred, owner: str) -> np.ndarray:
    if not isinstance(pred, np.ndarray):
        raise TypeError(f"{owner}: pred must be a numpy.ndarray, got {describe(pred)}")
    if pred.dtype not in _FLOATS:
        raise TypeError(f"{owner}: pred must have dtype float32 or float64, got {pred.dtype}")
    if pred.size == 0:
        raise ValueError(
            f"{owner}: pred must be a non-empty array (the mean over 0 elements is "
            f"undefined), got shape {pred.shape}"
        )
    # np.ascontiguousarray makes a 0-d array 1-D: keep the shape the caller gave
    return np.ascontiguousarray(pred).reshape(pred.shape)


class Loss:
    """Base class: ``forward(pred, target) -> float``, ``backward() -> dpred``.

    ``reduction``: ``'mean'`` only (the default; accepted so torch-style calls read the same).
    """

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = check_choice("reduction", reduction, REDUCTIONS, owner=type(self).__name__)
        self._grad: np.ndarray | None = None
        self.value: float | None = None

    def _kernel(self, pred, target, dpred) -> float:
        raise NotImplementedError

    def _check_target(self, pred: np.ndarray, target) -> np.ndarray:
        raise NotImplementedError

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        owner = f"{type(self).__name__}.forward"
        pred = _check_pred(pred, owner)
        target = self._check_target(pred, target)
        dpred = np.empty_like(pred)
        value = float(self._kernel(pred, target, dpred))
        if not math.isfinite(value):  # rare: only then look for a non-finite target to blame
            self._check_finite_target(target, owner)
        self.value = value
        self._grad = dpred
        return self.value

    def _check_finite_target(self, target: np.ndarray, owner: str) -> None:
        """Raise ``ValueError`` naming the first non-finite target value (none for labels:
        their range is checked up front)."""

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    __call__ = forward

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxCrossEntropy(Loss):
    """Softmax cross-entropy from logits ``[N, K]`` and integer labels ``[N]`` (mean over N)."""

    def _check_target(self, pred, target) -> np.ndarray:
        owner = "SoftmaxCrossEntropy.forward"
        if pred.ndim != 2:
            raise ValueError(f"{owner}: logits must be 2-D [N, K], got shape {pred.shape}")
        if not isinstance(target, np.ndarray):
            raise TypeError(f"{owner}: labels must be a numpy.ndarray, got {describe(target)}")
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(
                f"{owner}: labels must be integers (class indices), got dtype "
                f"{target.dtype}; for one-hot or probability targets use argmax"
            )
        if target.shape != (pred.shape[0],):
            raise ValueError(
                f"{owner}: labels must have shape ({pred.shape[0]},) to match "
                f"logits {pred.shape}, got {target.shape}"
            )
        k = pred.shape[1]
        if target.size and (target.min() < 0 or target.max() >= k):
            out = np.flatnonzero((target < 0) | (target >= k))
            raise ValueError(
                f"{owner}: labels must be in [0, {k}) for {k} classes, found {target[out[0]]} "
                f"at index {out[0]} ({out.size} label(s) out of range)"
            )
        return np.ascontiguousarray(target, dtype=np.int64)

    def _kernel(self, pred, target, dpred) -> float:
        return get_backend().softmax_xent(pred, target, dpred)


class _Elementwise(Loss):
    def _check_target(self, pred, target) -> np.ndarray:
        owner = f"{type(self).__name__}.forward"
        if not isinstance(target, np.ndarray):
            raise TypeError(f"{owner}: target must be a numpy.ndarray, got {describe(target)}")
        if not (
            np.issubdtype(target.dtype, np.floating) or np.issubdtype(target.dtype, np.integer)
        ):
            raise TypeError(
                f"{owner}: target must have a real (float or integer) dtype, got {target.dtype}"
            )
        if target.shape != pred.shape:
            raise ValueError(
                f"{owner}: target must have the shape of pred {pred.shape}, got {target.shape}"
            )
        if target.dtype != pred.dtype:
            with np.errstate(over="ignore", invalid="ignore"):  # float64 1e300 -> float32 inf
                target = target.astype(pred.dtype)
        target = np.ascontiguousarray(target).reshape(pred.shape)  # (0-d stays 0-d)
        if self._unit_range:  # BCE targets are probabilities; NaN fails both comparisons
            tmin, tmax = target.min(), target.max()
            if not (tmin >= 0 and tmax <= 1):
                bad = ~((target >= 0) & (target <= 1))
                raise ValueError(
                    f"{owner}: target must be in [0, 1], got {self._first(target, bad)}"
                )
        return target

    @staticmethod
    def _first(target: np.ndarray, bad: np.ndarray) -> str:
        idx = np.unravel_index(int(np.argmax(bad)), target.shape)
        return f"{target[idx]} at index {tuple(int(i) for i in idx)}"

    def _check_finite_target(self, target: np.ndarray, owner: str) -> None:
        # MSE's (pred - target)^2 and BCE's -z t are non-finite for a NaN/inf target; the
        # loss value says so for free, so the scan runs only when the value is not finite
        bad = ~np.isfinite(target)
        if bad.any():
            raise ValueError(f"{owner}: target must be finite, got {self._first(target, bad)}")


class MSE(_Elementwise):
    """Mean squared error over all elements; ``target`` finite, ``pred``'s shape."""

    _unit_range = False

    def _kernel(self, pred, target, dpred) -> float:
        return get_backend().mse(pred, target, dpred)


class BCEWithLogits(_Elementwise):
    """Binary cross-entropy on logits (stable), mean over all elements; targets in [0, 1]
    (probabilities: hard 0/1 labels or soft ones), ``pred``'s shape."""

    _unit_range = True

    def _kernel(self, pred, target, dpred) -> float:
        return get_backend().bce_with_logits(pred, target, dpred)


#: Loss names accepted wherever a loss object is (``fit``, ``evaluate``, ``gc.monitor.check``).
LOSSES: dict[str, type[Loss]] = {
    "cross_entropy": SoftmaxCrossEntropy,
    "softmax_cross_entropy": SoftmaxCrossEntropy,
    "mse": MSE,
    "bce_with_logits": BCEWithLogits,
}


def get(loss) -> Loss:
    """A loss object: ``loss`` itself, or a new one for a name in :data:`LOSSES`.

    An unknown name is a ``ValueError`` listing the known ones; any other type (a loss class
    instead of an instance included) a ``TypeError``.
    """
    if isinstance(loss, Loss):
        return loss
    known = ", ".join(repr(n) for n in sorted(LOSSES))
    if isinstance(loss, str):
        if loss in LOSSES:
            return LOSSES[loss]()
        raise ValueError(
            f"losses.get: loss must be a gradcore.losses.Loss or one of {known}, "
            f"got {describe(loss)}"
        )
    hint = f" (an instance is needed: {loss.__name__}())" if isinstance(loss, type) else ""
    raise TypeError(
        f"losses.get: loss must be a gradcore.losses.Loss or one of {known}, "
        f"got {describe(loss)}{hint}"
    )
