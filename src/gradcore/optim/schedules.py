"""Learning-rate schedules: they write ``optimizer.lr``; semantics of ``torch.optim.lr_scheduler``.

Create the schedule after the optimizer; it records ``optimizer.lr`` as the base rate (like
torch, construction counts as epoch 0 and sets the epoch-0 rate). Call ``step()`` once per
epoch (``fit(..., scheduler=...)`` does) or once per batch if you count in batches.
Closed forms are used; torch's recursive ("chainable") forms agree to rounding (~1e-15).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .._args import check_choice, check_int, check_real, describe
from .optimizers import Optimizer, check_state_dict_keys

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "ReduceLROnPlateau",
    "StepLR",
]


def _check_optimizer(owner: str, optimizer) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{owner}: optimizer must be a gradcore optimizer (gc.optim.SGD, Adam, ...), "
            f"got {describe(optimizer)}"
        )
    return optimizer


class _Schedule:
    """What every schedule shares: the rate it set last and its (scalar) state.

    ``state_dict()`` is a dict of the schedule's scalars (its constructor arguments and
    counters); ``load_state_dict(sd)`` takes one back, all or nothing: ``sd`` must be a dict
    (``TypeError``) with exactly those keys, each value checked with the constructor's rule
    (``ValueError`` naming the key otherwise). It does not write the optimizer's ``lr`` (that
    comes back with the optimizer's own state, as in torch).
    """

    optimizer: Optimizer

    def get_last_lr(self) -> float:
        """The optimizer's current learning rate."""
        return self.optimizer.lr

    @property
    def _owner(self) -> str:
        return type(self).__name__

    def _check_field(self, name: str, value, fields: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """A copy of the schedule's scalar state (no reference to the optimizer)."""
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, sd: dict) -> None:
        """Restore a :meth:`state_dict` of the same schedule class (see the class docstring)."""
        owner = f"{self._owner}.load_state_dict"
        if not isinstance(sd, Mapping):
            raise TypeError(f"{owner}: state_dict must be a dict, got {describe(sd)}")
        check_state_dict_keys(sd, self.state_dict(), owner)
        fields: dict = {}
        try:
            for k in self.state_dict():  # in the order of the constructor (dependencies)
                fields[k] = self._check_field(k, sd[k], fields)
        except (TypeError, ValueError) as exc:
            msg = str(exc).split(": ", 1)[1]
            raise ValueError(f"{owner}: state_dict[{k!r}]: {msg}") from None
        vars(self).update(fields)


class LRScheduler(_Schedule):
    """Base class: ``lr = lr_at(epoch)`` after every :meth:`step`; subclasses define
    :meth:`lr_at`. A rate that the optimizer would refuse (``gamma > 1`` grown to inf, or
    beyond the float32 range of a float32 model) raises ``ValueError`` naming the schedule and
    the epoch, and leaves the schedule and the optimizer as they were."""

    def __init__(self, optimizer: Optimizer) -> None:
        if type(self).lr_at is LRScheduler.lr_at:
            raise TypeError(
                f"{self._owner}: a schedule must define lr_at(epoch) (LRScheduler is a base "
                "class: use StepLR, ExponentialLR or CosineAnnealingLR)"
            )
        self.optimizer = _check_optimizer(self._owner, optimizer)
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self._apply(0)

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, epoch: int) -> float:
        try:
            lr = self.lr_at(epoch)
        except OverflowError:  # float ** int beyond the double range
            lr = math.inf
        self.optimizer._lr = self.optimizer._check_lr(
            lr, owner=self._owner, name=f"lr at epoch {epoch}"
        )
        return self.optimizer._lr

    def step(self) -> float:
        """Advance one epoch; returns the new learning rate."""
        lr = self._apply(self.last_epoch + 1)
        self.last_epoch += 1
        return lr

    def _check_field(self, name, value, fields):
        if name == "base_lr":
            return check_real(name, value, owner=self._owner, min=0)
        if name == "last_epoch":
            return check_int(name, value, owner=self._owner, min=0)
        return value  # a subclass's own field: its business


def _gamma(owner: str, value) -> float:
    return check_real("gamma", value, owner=owner, min=0, min_open=True)


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)`` (``torch.optim.lr_scheduler.StepLR``).

    ``step_size``: int >= 1; ``gamma``: finite real > 0 (torch allows any; 0 or a negative
    rate would stop or reverse training, NaN would poison it)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int("step_size", step_size, owner="StepLR", min=1)
        self.gamma = _gamma("StepLR", gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def _check_field(self, name, value, fields):
        if name == "step_size":
            return check_int(name, value, owner=self._owner, min=1)
        if name == "gamma":
            return _gamma(self._owner, value)
        return super()._check_field(name, value, fields)


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** epoch`` (``torch.optim.lr_scheduler.ExponentialLR``).

    ``gamma``: finite real > 0."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = _gamma("ExponentialLR", gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch

    def _check_field(self, name, value, fields):
        if name == "gamma":
            return _gamma(self._owner, value)
        return super()._check_field(name, value, fields)


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

    ``T_max``: int >= 1; ``eta_min``: finite real >= 0; ``warmup_epochs``: int in
    ``[0, T_max - 1]``; ``warmup_start_factor``: finite real in ``(0, 1]``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,
        eta_min: float = 0.0,
        warmup_epochs: int = 0,
        warmup_start_factor: float = 1.0 / 3,
    ) -> None:
        o = "CosineAnnealingLR"
        self.T_max = check_int("T_max", T_max, owner=o, min=1)
        self.eta_min = check_real("eta_min", eta_min, owner=o, min=0)
        self.warmup_epochs = check_int(
            "warmup_epochs", warmup_epochs, owner=o, min=0, max=self.T_max - 1
        )
        self.warmup_start_factor = check_real(
            "warmup_start_factor", warmup_start_factor, owner=o, min=0, max=1, min_open=True
        )
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

    def _check_field(self, name, value, fields):
        o = self._owner
        if name == "T_max":
            return check_int(name, value, owner=o, min=1)
        if name == "eta_min":
            return check_real(name, value, owner=o, min=0)
        if name == "warmup_epochs":
            return check_int(name, value, owner=o, min=0, max=fields["T_max"] - 1)
        if name == "warmup_start_factor":
            return check_real(name, value, owner=o, min=0, max=1, min_open=True)
        return super()._check_field(name, value, fields)


def _metric(value) -> float:
    """A metric as a float: a real number (NaN/inf allowed: see ReduceLROnPlateau.step)."""
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"ReduceLROnPlateau: metric must be a real number, got {describe(value)}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(
            "ReduceLROnPlateau: metric must be a real number in the float range, got an int "
            f"of {len(str(abs(value)))} digits"
        ) from None


class ReduceLROnPlateau(_Schedule):
    """Multiply the rate by ``factor`` when a metric stops improving for ``patience`` epochs
    (``torch.optim.lr_scheduler.ReduceLROnPlateau``, same arguments and rules)::

        better:  metric < best (1 - threshold)   [mode min, threshold_mode rel]
        after more than ``patience`` bad epochs: lr = max(lr factor, min_lr) (if it changes
        by more than eps), then ``cooldown`` epochs without counting.

    ``step(metric)`` once per epoch (``fit`` passes ``val_loss`` if there is validation data,
    else the training loss).

    Parameters: ``mode`` ``"min"`` or ``"max"``; ``factor`` finite real in ``(0, 1)``;
    ``patience`` and ``cooldown`` ints >= 0; ``threshold``, ``min_lr`` and ``eps`` finite reals
    >= 0 (torch does not check these: a NaN would silently stop every reduction);
    ``threshold_mode`` ``"rel"`` or ``"abs"``.
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
        self.optimizer = _check_optimizer("ReduceLROnPlateau", optimizer)
        c = self._check_field
        self.mode = c("mode", mode, {})
        self.factor = c("factor", factor, {})
        self.patience = c("patience", patience, {})
        self.threshold = c("threshold", threshold, {})
        self.threshold_mode = c("threshold_mode", threshold_mode, {})
        self.cooldown = c("cooldown", cooldown, {})
        self.min_lr = c("min_lr", min_lr, {})
        self.eps = c("eps", eps, {})
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _check_field(self, name, value, fields):
        o = "ReduceLROnPlateau"
        if name in ("mode", "threshold_mode"):
            choices = ("min", "max") if name == "mode" else ("rel", "abs")
            if not isinstance(value, str):
                raise TypeError(
                    f"{o}: {name} must be one of {', '.join(map(repr, choices))}, "
                    f"got {describe(value)}"
                )
            return check_choice(name, value, choices, owner=o)
        if name == "factor":
            return check_real(name, value, owner=o, min=0, max=1, min_open=True, max_open=True)
        if name in ("patience", "cooldown", "num_bad_epochs", "cooldown_counter", "last_epoch"):
            return check_int(name, value, owner=o, min=0)
        if name in ("threshold", "min_lr", "eps"):
            return check_real(name, value, owner=o, min=0)
        if name == "best":  # +-inf before the first finite metric
            return check_real(name, value, owner=o, finite=False)
        return value  # a subclass's own field: its business

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metric: float) -> float:
        """Record one epoch's ``metric`` (a real number: Python, NumPy or a 0-d array);
        returns the (possibly reduced) learning rate.

        A non-finite metric (NaN, +-inf: a diverged epoch) counts as a bad epoch and never
        becomes ``best`` (torch does the same for NaN, but would take -inf as the best ever in
        mode min and then never improve again)."""
        current = _metric(metric)
        self.last_epoch += 1
        if math.isfinite(current) and self._is_better(current, self.best):
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
