"""Learning-rate schedules: they write ``optimizer.lr``; semantics of ``torch.optim.lr_scheduler``.

Create the schedule after the optimizer; it records ``optimizer.lr`` as the base rate (like
torch, construction counts as epoch 0 and sets the epoch-0 rate). Call ``step()`` once per
epoch (``fit(..., scheduler=...)`` does) or once per batch if you count in batches.
Closed forms are used; torch's recursive ("chainable") forms agree to rounding (~1e-15).
"""

from __future__ import annotations

import math

from .optimizers import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "ReduceLROnPlateau",
    "StepLR",
]


class _Schedule:
    """What every schedule shares: the rate it set last and its (scalar) state."""

    optimizer: Optimizer

    def get_last_lr(self) -> float:
        return self.optimizer.lr

    def state_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, sd: dict) -> None:
        for k, v in sd.items():
            if k in vars(self) and k != "optimizer":
                setattr(self, k, v)


class LRScheduler(_Schedule):
    """Base class: ``lr = lr_at(epoch)`` after every :meth:`step`."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a gradcore optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch; returns the new learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)
        return self.optimizer.lr


def _pos_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return v


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)`` (``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _pos_int("step_size", step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** epoch`` (``torch.optim.lr_scheduler.ExponentialLR``)."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs, optionally after
    a linear warm-up::

        epoch < W:   lr = base_lr (s + (1 - s) epoch / W)              (s = warmup_start_factor)
        else:        lr = eta_min + (base_lr - eta_min) (1 + cos(pi (epoch - W) / (T_max - W))) / 2

    Without warm-up this is ``torch.optim.lr_scheduler.CosineAnnealingLR`` for
    ``epoch <= T_max`` (after ``T_max`` the rate stays at ``eta_min``; torch's recursive form
    would climb back up: a deliberate difference). With warm-up it equals torch's
    ``SequentialLR([LinearLR(start_factor=s, total_iters=W), CosineAnnealingLR(T_max - W,
    eta_min)], milestones=[W])``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        warmup_epochs: int = 0,
        warmup_start_factor: float = 1.0 / 3,
    ) -> None:
        self.T_max = _pos_int("T_max", T_max)
        self.eta_min = float(eta_min)
        if (
            isinstance(warmup_epochs, bool)
            or not isinstance(warmup_epochs, int)
            or not (0 <= warmup_epochs < T_max)
        ):
            raise ValueError(f"warmup_epochs must be an int in [0, T_max), got {warmup_epochs!r}")
        if not 0 < float(warmup_start_factor) <= 1:
            raise ValueError(f"warmup_start_factor must be in (0, 1], got {warmup_start_factor}")
        self.warmup_epochs = warmup_epochs
        self.warmup_start_factor = float(warmup_start_factor)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        W = self.warmup_epochs
        if epoch < W:
            s = self.warmup_start_factor
            return self.base_lr * (s + (1 - s) * epoch / W)
        t = min(epoch - W, self.T_max - W)
        return (
            self.eta_min
            + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / (self.T_max - W))) / 2
        )


class ReduceLROnPlateau(_Schedule):
    """Multiply the rate by ``factor`` when a metric stops improving for ``patience`` epochs
    (``torch.optim.lr_scheduler.ReduceLROnPlateau``, same arguments and rules)::

        better:  metric < best (1 - threshold)   [mode min, threshold_mode rel]
        after more than ``patience`` bad epochs: lr = max(lr factor, min_lr) (if it changes
        by more than eps), then ``cooldown`` epochs without counting.

    ``step(metric)`` once per epoch (``fit`` passes ``val_loss`` if there is validation data,
    else the training loss).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a gradcore optimizer, got {type(optimizer).__name__}"
            )
        if factor >= 1.0 or factor <= 0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, float(factor), patience
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.min_lr, self.eps = int(cooldown), float(min_lr), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metric: float) -> float:
        """Record one epoch's ``metric``; returns the (possibly reduced) learning rate."""
        current = float(metric)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = float(self.optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.optimizer.lr
