"""Loss functions: value and gradient from one kernel pass, ``reduction='mean'`` as PyTorch.

``loss.forward(pred, target) -> float`` computes the value and keeps the gradient;
``loss.backward() -> dpred`` returns d(loss)/d(pred) (same shape and dtype as ``pred``).

- ``SoftmaxCrossEntropy``: ``pred`` logits ``[N, K]``, ``target`` integer labels ``[N]`` in
  ``[0, K)``; mean over the batch (``torch.nn.functional.cross_entropy``).
- ``MSE``: mean over all elements of ``(pred - target)^2`` (``F.mse_loss``).
- ``BCEWithLogits``: mean over all elements of the stable
  ``max(z, 0) - z t + log(1 + exp(-|z|))`` (``F.binary_cross_entropy_with_logits``).
"""

from __future__ import annotations

import numpy as np

from .backends import get_backend

__all__ = ["LOSSES", "MSE", "BCEWithLogits", "Loss", "SoftmaxCrossEntropy", "get"]


def _check_pred(pred, owner: str) -> np.ndarray:
    if not isinstance(pred, np.ndarray):
        raise TypeError(f"{owner}: pred must be a numpy.ndarray, got {type(pred).__name__}")
    if pred.dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner}: pred must be float32 or float64, got {pred.dtype}")
    if pred.size == 0:
        raise ValueError(f"{owner}: pred is empty (shape {pred.shape})")
    return np.ascontiguousarray(pred)


class Loss:
    """Base class: ``forward(pred, target) -> float``, ``backward() -> dpred``."""

    def __init__(self) -> None:
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
        self.value = float(self._kernel(pred, target, dpred))
        self._grad = dpred
        return self.value

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
            raise TypeError(f"{owner}: labels must be a numpy.ndarray, got {type(target).__name__}")
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
            bad = target[(target < 0) | (target >= k)][0]
            raise ValueError(f"{owner}: labels must be in [0, {k}) for {k} classes, found {bad}")
        return np.ascontiguousarray(target, dtype=np.int64)

    def _kernel(self, pred, target, dpred) -> float:
        return get_backend().softmax_xent(pred, target, dpred)


class _Elementwise(Loss):
    def _check_target(self, pred, target) -> np.ndarray:
        owner = f"{type(self).__name__}.forward"
        if not isinstance(target, np.ndarray):
            raise TypeError(f"{owner}: target must be a numpy.ndarray, got {type(target).__name__}")
        if target.shape != pred.shape:
            raise ValueError(
                f"{owner}: target must have the shape of pred {pred.shape}, got {target.shape}"
            )
        if not np.issubdtype(target.dtype, np.number) or np.iscomplexobj(target):
            raise TypeError(f"{owner}: target must be real numbers, got dtype {target.dtype}")
        return np.ascontiguousarray(target, dtype=pred.dtype)


class MSE(_Elementwise):
    """Mean squared error over all elements."""

    def _kernel(self, pred, target, dpred) -> float:
        return get_backend().mse(pred, target, dpred)


class BCEWithLogits(_Elementwise):
    """Binary cross-entropy on logits (stable), mean over all elements; targets in [0, 1]."""

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
    """A loss object: ``loss`` itself, or a new one for a name in :data:`LOSSES`."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise ValueError(
        f"loss must be a gradcore.losses.Loss or one of {sorted(LOSSES)}, got {loss!r}"
    )
