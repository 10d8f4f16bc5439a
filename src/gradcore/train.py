"""The training loop: ``fit``, ``evaluate`` and callbacks.

``model.fit(X, y, loss=..., optimizer=..., epochs, batch_size, ...)`` runs mini-batch training
with the model's flat parameter arena: per step one forward, one backward, one norms pass (the
pre-clip global gradient norm and every tensor's norm, kept in ``model.parameters()``), optional
clipping, one optimizer kernel call. It returns a :class:`History`.

Reproducibility: the batch order of epoch ``e`` is drawn from ``np.random.default_rng([seed,
e])``, so a run is a pure function of (data, model state, seed); resuming from a checkpoint at
``initial_epoch=e`` continues exactly as if never stopped. Same seed, backend and machine ->
bit-identical results.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import losses as _losses
from .callbacks import Callback
from .nn.base import Layer, backward_without_input_grad, register_training_loop

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "NonFiniteError",
    "TerminateOnNonFinite",
    "evaluate",
    "fit",
]


class NonFiniteError(FloatingPointError):
    """Raised (or reported) when training produced a NaN or infinity."""


@dataclass
class History:
    """Per-epoch records of a ``fit`` call.

    ``history`` maps a metric name to one value per epoch: ``loss``, ``accuracy`` (for
    classification losses), ``val_loss``/``val_accuracy`` (with ``validation_data``), ``lr``,
    ``grad_norm`` (mean pre-clip global gradient norm over the epoch's steps), ``time``
    (seconds). ``steps`` counts optimizer steps; ``stop_reason`` says why training stopped
    early (``None`` if it ran all epochs).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)
    steps: int = 0
    stop_reason: str | None = None

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __repr__(self) -> str:
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epochs)}, steps={self.steps}, last={last})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``restore_best=True`` copies the best epoch's parameters back at the end (one copy of the
    flat parameter buffer, plus BatchNorm buffers).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode, self.restore_best = mode, restore_best

    def on_train_begin(self, trainer) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.wait = 0
        self._best_state = None

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping: metric {self.monitor!r} not available; logged "
                f"metrics are {sorted(logs)} (val_* needs validation_data)"
            )
        value = logs[self.monitor]
        better = (
            (value < self.best - self.min_delta)
            if self.mode == "min"
            else (value > self.best + self.min_delta)
        )
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_state = _snapshot(trainer.model)
        else:
            self.wait += 1
            if self.wait > self.patience:
                trainer.stop_training = True
                trainer.stop_reason = (
                    f"early stopping: {self.monitor} did not improve for "
                    f"{self.patience + 1} epochs (best {self.best:.6g} at "
                    f"epoch {self.best_epoch})"
                )

    def on_train_end(self, trainer) -> None:
        if self.restore_best and self._best_state is not None:
            _restore(trainer.model, self._best_state)


class TerminateOnNonFinite(Callback):
    """Stop at the first step whose loss or gradient is NaN/inf, before the update is applied.

    The stop reason says at which epoch/step it happened and which tensor went non-finite first
    (a parameter, a layer's output in the forward pass, the loss, or a gradient). ``fit``
    installs it by default (``stop_on_nonfinite=True``); it warns with a ``RuntimeWarning`` and
    keeps the last finite parameters. ``raise_error=True`` raises :class:`NonFiniteError`.
    """

    def __init__(self, raise_error: bool = False) -> None:
        self.raise_error = raise_error

    def on_batch_end(self, trainer, step, logs) -> None:
        if math.isfinite(logs["loss"]) and math.isfinite(logs.get("grad_norm", 0.0)):
            return
        where = _locate_nonfinite(trainer)
        msg = (
            f"non-finite {'loss' if not math.isfinite(logs['loss']) else 'gradient'} at "
            f"epoch {trainer.epoch}, step {step} (loss={logs['loss']}, "
            f"grad_norm={logs.get('grad_norm')}); first non-finite: {where}. The update was "
            "not applied; parameters are from the last finite step."
        )
        if self.raise_error:
            raise NonFiniteError(msg)
        trainer.stop_training = True
        trainer.stop_reason = msg
        trainer.skip_update = True
        warnings.warn(msg, RuntimeWarning, stacklevel=4)


def _snapshot(model: Layer) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    return model.parameters().data.copy(), {k: v.copy() for k, v in model.buffers.items()}


def _restore(model: Layer, state) -> None:
    data, buffers = state
    model.parameters().data[...] = data
    for k, v in model.buffers.items():
        v[...] = buffers[k]


def _locate_nonfinite(trainer: Trainer) -> str:
    """Name the first tensor that is not finite, in the order the step computes them."""
    model, arena = trainer.model, trainer.model.parameters()
    for s in arena.segments:  # parameters (poisoned by an earlier update)
        if not np.isfinite(arena.data[s.offset : s.stop]).all():
            return f"parameter {s.name!r}"
    x = trainer.last_batch[0]
    layers = model.layers if hasattr(model, "layers") else [model]
    saved = {k: v.copy() for k, v in model.buffers.items()}
    try:
        with np.errstate(all="ignore"):
            for i, layer in enumerate(layers):
                x = layer.forward(x, training=True)
                if not np.isfinite(x).all():
                    bad = np.argwhere(~np.isfinite(x))[0]
                    return (
                        f"output of layer {i} ({type(layer).__name__}) in the forward pass, "
                        f"first at index {tuple(int(j) for j in bad)}"
                    )
    finally:
        for k, v in model.buffers.items():
            v[...] = saved[k]
    if not math.isfinite(trainer.last_loss):
        return "the loss (finite logits, non-finite loss value)"
    bad = [s for s in arena.segments if not np.isfinite(arena.grad[s.offset : s.stop]).all()]
    if bad:  # backward runs from the last layer: the last segment went first
        return f"gradient of {bad[-1].name!r} (non-finite gradients in {[s.name for s in bad]})"
    return "not found (the step is finite when recomputed)"


@dataclass
class Trainer:
    """State of a running ``fit`` that callbacks can read (and stop)."""

    model: Layer
    optimizer: object
    loss: _losses.Loss
    history: History
    epoch: int = 0
    step: int = 0
    stop_training: bool = False
    stop_reason: str | None = None
    skip_update: bool = False
    last_batch: tuple = ()
    last_loss: float = math.nan


def _resolve_optimizer(optimizer, model: Layer):
    from . import optim

    if isinstance(optimizer, str):
        names = {
            "sgd": optim.SGD,
            "adam": optim.Adam,
            "adamw": optim.AdamW,
            "rmsprop": optim.RMSprop,
            "adagrad": optim.AdaGrad,
        }
        if optimizer.lower() not in names:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; expected an optimizer object or "
                f"one of {sorted(names)}"
            )
        cls = names[optimizer.lower()]
        return cls(model.parameters(), lr=0.01) if cls is optim.SGD else cls(model.parameters())
    if not hasattr(optimizer, "step"):
        raise TypeError(f"optimizer must be a gradcore optimizer, got {type(optimizer).__name__}")
    if optimizer.params is not model.parameters():
        if getattr(optimizer.params, "model", None) is model:
            optimizer.params.check_bound()  # built before the model changed: say so
        raise ValueError(
            "the optimizer was built for another model's parameters; build it "
            "with optimizer(model.parameters(), ...)"
        )
    return optimizer


def _resolve_clip(clip) -> Callable | None:
    from .optim import clip_grad_norm

    if clip is None:
        return None
    if callable(clip):
        return clip
    if isinstance(clip, int | float) and clip > 0:
        max_norm = float(clip)
        return lambda params: clip_grad_norm(params, max_norm)
    raise ValueError(
        f"clip must be None, a positive max-norm or a callable(params) -> norm, got {clip!r}"
    )


def _check_data(X, y, loss: _losses.Loss, dtype: np.dtype, name: str = "X"):
    yname = "y" if name == "X" else f"{name}'s y"
    if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(
            f"fit: {name} and {yname} must be numpy arrays, got "
            f"{type(X).__name__} and {type(y).__name__}"
        )
    if len(X) != len(y):
        raise ValueError(
            f"fit: {name} and {yname} have different lengths ({len(X)} and {len(y)} samples)"
        )
    if len(X) == 0:
        raise ValueError(f"fit: {name} is empty")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"fit: {name} must hold real numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)  # one copy at most, to the model's dtype
    bad = ~np.isfinite(X)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"fit: {name} contains {int(bad.sum())} non-finite values (NaN/inf), "
            f"first at index {idx}; clean or impute the data first"
        )
    if isinstance(loss, _losses.SoftmaxCrossEntropy):
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(
                f"fit: {yname} must hold integer class labels for cross-entropy, "
                f"got dtype {y.dtype}"
            )
        y = np.ascontiguousarray(y, dtype=np.int64)
    else:
        if not np.issubdtype(y.dtype, np.number):
            raise TypeError(f"fit: {yname} must be numeric, got dtype {y.dtype}")
        y = np.ascontiguousarray(y, dtype=dtype)
        if not np.isfinite(y).all():
            raise ValueError(f"fit: {yname} contains non-finite values")
    return X, y


def _correct(loss: _losses.Loss, out: np.ndarray, y: np.ndarray) -> int | None:
    if isinstance(loss, _losses.SoftmaxCrossEntropy):
        return int((out.argmax(axis=1) == y).sum())
    if isinstance(loss, _losses.BCEWithLogits):
        return int(((out > 0) == (y > 0.5)).sum())
    return None


def evaluate(
    model: Layer, X: np.ndarray, y: np.ndarray, loss="cross_entropy", batch_size: int = 256
) -> dict[str, float]:
    """Mean loss (and accuracy for classification) over ``X`` in evaluation mode."""
    loss_fn = _losses.get(loss)
    X, y = _check_data(X, y, loss_fn, model.dtype)
    total, correct, n = 0.0, 0, len(X)
    for i in range(0, n, batch_size):
        xb, yb = X[i : i + batch_size], y[i : i + batch_size]
        out = model.forward(xb, training=False)
        total += loss_fn.forward(out, yb) * len(xb)
        c = _correct(loss_fn, out, yb)
        correct = None if c is None else correct + c
    logs = {"loss": total / n}
    if correct is not None:
        denom = n if isinstance(loss_fn, _losses.SoftmaxCrossEntropy) else y.size
        logs["accuracy"] = correct / denom
    return logs


def fit(
    model: Layer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss="cross_entropy",
    optimizer="adam",
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    clip=None,
    callbacks: Sequence[Callback] = (),
    scheduler=None,
    seed: int = 0,
    verbose: bool = True,
    initial_epoch: int = 0,
    stop_on_nonfinite: bool = True,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches; returns a :class:`History`.

    Parameters
    ----------
    X : ndarray ``[N, ...]`` (cast once to the model's dtype). y : ``[N]`` int labels for
        cross-entropy, else ``[N, ...]`` targets. NaN/inf in X raise ``ValueError``.
    loss : a ``gc.losses`` object or ``"cross_entropy" | "mse" | "bce_with_logits"``.
    optimizer : a ``gc.optim`` optimizer built on ``model.parameters()``, or a name
        (``"adam"``, ``"sgd"`` (lr 0.01), ``"adamw"``, ``"rmsprop"``, ``"adagrad"``, defaults).
    clip : ``None``, a max global norm (``clip_grad_norm``), or a callable ``(params) -> norm``
        (``gc.optim.AutoClip()``, ``gc.optim.AGC()``).
    scheduler : a ``gc.optim`` schedule, stepped once per epoch (``ReduceLROnPlateau`` with
        ``val_loss`` if there is validation data, else the training loss).
    seed : batch order of epoch ``e`` comes from ``default_rng([seed, e])``.
    initial_epoch : first epoch number (to resume from a checkpoint).
    verbose : a tqdm progress bar on stderr (loss, accuracy, gradient norm, lr).
    """
    from .optim import ReduceLROnPlateau, grad_norms

    if not isinstance(model, Layer):
        raise TypeError(f"fit: model must be a gradcore layer/model, got {type(model).__name__}")
    for nm, v in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"fit: {nm} must be a positive int, got {v!r}")
    if not isinstance(initial_epoch, int | np.integer) or not 0 <= initial_epoch < epochs:
        raise ValueError(
            f"fit: initial_epoch must be in [0, epochs={epochs}), got {initial_epoch!r}"
        )
    loss_fn = _losses.get(loss)
    X, y = _check_data(X, y, loss_fn, model.dtype)
    if validation_data is not None:
        if not (isinstance(validation_data, tuple | list) and len(validation_data) == 2):
            raise TypeError("fit: validation_data must be a tuple (X_val, y_val)")
        validation_data = _check_data(*validation_data, loss_fn, model.dtype, "validation_data")
    arena = model.parameters()
    opt = _resolve_optimizer(optimizer, model)
    clip_fn = _resolve_clip(clip)
    cbs: list[Callback] = list(callbacks)
    if stop_on_nonfinite and not any(isinstance(c, TerminateOnNonFinite) for c in cbs):
        cbs.insert(0, TerminateOnNonFinite())

    history = History()
    tr = Trainer(model=model, optimizer=opt, loss=loss_fn, history=history)
    n = len(X)
    steps_per_epoch = math.ceil(n / batch_size)
    bar = _progress(verbose, total=(epochs - initial_epoch) * steps_per_epoch)
    for cb in cbs:
        cb.on_train_begin(tr)
    try:
        for epoch in range(initial_epoch, epochs):
            tr.epoch = epoch
            t0 = time.perf_counter()
            order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
            sum_loss = sum_norm = 0.0
            correct: int | None = 0
            seen = nsteps = 0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                xb, yb = X[idx], y[idx]
                arena.zero_grad()
                out = model.forward(xb, training=True)
                value = loss_fn.forward(out, yb)
                backward_without_input_grad(model, loss_fn.backward())  # no dL/dX
                norm = clip_fn(arena) if clip_fn is not None else grad_norms(arena)
                tr.last_batch, tr.last_loss, tr.skip_update = (xb, yb), value, False
                logs = {"loss": value, "grad_norm": float(norm)}
                for cb in cbs:
                    cb.on_batch_end(tr, tr.step, logs)
                if tr.skip_update:
                    break
                opt.step()
                tr.step += 1
                history.steps += 1
                sum_loss += value * len(idx)
                sum_norm += float(norm)
                seen += len(idx)
                nsteps += 1
                c = _correct(loss_fn, out, yb)
                correct = None if (c is None or correct is None) else correct + c
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        epoch=epoch + 1,
                        loss=f"{value:.4g}",
                        gnorm=f"{float(norm):.3g}",
                        refresh=False,
                    )
                if tr.stop_training:
                    break
            if seen == 0:
                break
            logs = {"loss": sum_loss / seen}
            if correct is not None:
                denom = (
                    seen
                    if isinstance(loss_fn, _losses.SoftmaxCrossEntropy)
                    else seen * int(np.prod(y.shape[1:]))
                )
                logs["accuracy"] = correct / denom
            if validation_data is not None:
                val = evaluate(
                    model, *validation_data, loss=loss_fn, batch_size=max(batch_size, 256)
                )
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(opt.lr)
            logs["grad_norm"] = sum_norm / nsteps
            logs["time"] = time.perf_counter() - t0
            history.append(epoch, logs)
            if bar is not None:
                bar.set_postfix(
                    epoch=epoch + 1,
                    **{
                        k: f"{v:.4g}"
                        for k, v in logs.items()
                        if k in ("loss", "accuracy", "val_loss", "val_accuracy")
                    },
                )
            for cb in cbs:
                cb.on_epoch_end(tr, epoch, logs)
            if scheduler is not None:
                if isinstance(scheduler, ReduceLROnPlateau):
                    scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    scheduler.step()
            if tr.stop_training:
                break
    finally:
        if bar is not None:
            bar.close()
    for cb in cbs:
        cb.on_train_end(tr)
    history.stop_reason = tr.stop_reason
    return history


def _progress(verbose: bool, total: int):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True, leave=True)


register_training_loop(fit, evaluate)
