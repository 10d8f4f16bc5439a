"""The training loop: ``fit``, ``evaluate``, ``train_step`` and callbacks.

``model.fit(X, y, loss=..., optimizer=..., epochs, batch_size, ...)`` runs mini-batch training
with the model's flat parameter arena: per step one forward, one backward, one norms pass (the
pre-clip global gradient norm and every tensor's norm, kept in ``model.parameters()``), optional
clipping, one optimizer kernel call. It returns a :class:`History`. ``train_step`` is that one
step on its own, for a loop of your own; the progress bar is the caller's (``progress=``).

Reproducibility: the batch order of epoch ``e`` is drawn from ``np.random.default_rng([seed,
e])``, so a run is a pure function of (data, model state, seed); resuming from a checkpoint at
``initial_epoch=e`` continues exactly as if never stopped. Same seed, backend and machine ->
bit-identical results.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import losses as _losses
from ._args import check_bool, check_choice, check_int, check_real, check_seed, describe
from ._data_checks import check_data, check_labels
from .callbacks import Callback
from .nn.base import Layer, backward_without_input_grad, register_training_loop
from .optim import ReduceLROnPlateau, grad_norms

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "NonFiniteError",
    "TerminateOnNonFinite",
    "evaluate",
    "fit",
    "train_step",
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
        owner = "EarlyStopping"
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(
                f"{owner}: monitor must be a metric name (a non-empty str such as "
                f"{', '.join(repr(m) for m in METRICS)}), got {describe(monitor)}"
            )
        self.patience = check_int("patience", patience, owner=owner, min=0)
        self.min_delta = check_real("min_delta", min_delta, owner=owner, min=0.0)
        self.mode = check_choice("mode", mode, ("min", "max"), owner=owner)
        self.restore_best = check_bool("restore_best", restore_best, owner=owner)
        self.monitor = monitor

    def on_train_begin(self, trainer) -> None:
        metrics = getattr(trainer, "metrics", None)
        if metrics is not None and self.monitor not in metrics:
            raise ValueError(
                f"EarlyStopping: monitor must be one of the metrics this fit logs "
                f"({', '.join(repr(m) for m in metrics)}), got {self.monitor!r}"
                + (" (val_* needs validation_data)" if self.monitor.startswith("val_") else "")
            )
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.wait = 0
        self._best_state = None

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping: monitor must be one of the logged metrics "
                f"({', '.join(repr(m) for m in logs)}), got {self.monitor!r} "
                "(val_* needs validation_data)"
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
        self.raise_error = check_bool("raise_error", raise_error, owner="TerminateOnNonFinite")

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
    #: the names of the per-epoch metrics this fit logs (what ``EarlyStopping`` may monitor)
    metrics: tuple[str, ...] = ()


#: Every per-epoch metric ``fit`` can log (which ones a run logs depends on its loss and on
#: ``validation_data``: ``Trainer.metrics``).
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm", "time")

#: Optimizer names ``fit`` accepts (built with their defaults; SGD with lr 0.01).
OPTIMIZER_NAMES = ("adam", "adamw", "sgd", "rmsprop", "adagrad")


def _resolve_optimizer(optimizer, model: Layer, owner: str = "fit"):
    """The optimizer ``fit`` steps: a name (built on ``model.parameters()`` with its
    defaults) or a ``gc.optim.Optimizer`` bound to exactly this model's arena."""
    from . import optim

    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZER_NAMES:  # names match in any case; the message shows the given
            check_choice("optimizer", optimizer, OPTIMIZER_NAMES, owner=owner)
        cls = {
            "sgd": optim.SGD,
            "adam": optim.Adam,
            "adamw": optim.AdamW,
            "rmsprop": optim.RMSprop,
            "adagrad": optim.AdaGrad,
        }[key]
        return cls(model.parameters(), lr=0.01) if cls is optim.SGD else cls(model.parameters())
    if not isinstance(optimizer, optim.Optimizer):
        raise TypeError(
            f"{owner}: optimizer must be a gc.optim optimizer built on model.parameters() or one "
            f"of {', '.join(repr(n) for n in OPTIMIZER_NAMES)}, got {describe(optimizer)}"
        )
    if optimizer.params is not model.parameters():
        if getattr(optimizer.params, "model", None) is model:
            optimizer.params.check_bound()  # built before the model changed: say so
        raise ValueError(
            f"{owner}: optimizer must be built on this model's parameters, got one built on "
            f"another model's parameter arena ({len(optimizer.params)} tensors, "
            f"{optimizer.params.size} values); build it with "
            f"{type(optimizer).__name__}(model.parameters(), ...)"
        )
    return optimizer


def _resolve_clip(clip, owner: str = "fit") -> Callable | None:
    """``None``, a callable ``(params) -> norm``, or a max global norm (a finite real > 0;
    NumPy scalars accepted, ``bool`` refused)."""
    from .optim import clip_grad_norm

    if clip is None:
        return None
    if callable(clip):
        return clip
    if isinstance(clip, numbers.Real) and not isinstance(clip, bool | np.bool_):
        max_norm = check_real("clip", clip, owner=owner, min=0.0, min_open=True)
        return lambda params: clip_grad_norm(params, max_norm)
    raise TypeError(
        f"{owner}: clip must be None, a finite real number > 0 (the max global gradient norm) or a "
        f"callable(params) -> norm such as gc.optim.AutoClip(), got {describe(clip)}"
    )


def _resolve_callbacks(callbacks) -> list[Callback]:
    """``callbacks`` as a list, every element a :class:`Callback` (checked before training, so
    a wrong object fails here and not in a hook deep inside the loop)."""
    if isinstance(callbacks, Callback) or not isinstance(callbacks, list | tuple):
        raise TypeError(
            "fit: callbacks must be a list or tuple of gc.train.Callback objects, got "
            f"{describe(callbacks)}"
            + (" (wrap a single callback in a list)" if isinstance(callbacks, Callback) else "")
        )
    seen: dict[int, int] = {}
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(
                f"fit: callbacks[{i}] must be a gc.train.Callback (subclass it; every hook it "
                f"does not override is a no-op), got {describe(cb)}"
            )
        if id(cb) in seen:  # its hooks would run twice per step/epoch (patience, records)
            raise ValueError(
                f"fit: callbacks must be distinct objects, got callbacks[{i}] is "
                f"callbacks[{seen[id(cb)]}] ({type(cb).__name__})"
            )
        seen[id(cb)] = i
    return list(callbacks)


def _resolve_scheduler(scheduler, opt):
    """``None`` or a ``gc.optim`` schedule built on ``opt`` (schedules are not taken by name:
    their settings, ``T_max``, ``step_size``, ``gamma``, have no default that fits every run)."""
    from .optim import LRScheduler, ReduceLROnPlateau

    if scheduler is None:
        return None
    kinds = "gc.optim.StepLR, ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau or an LRScheduler"
    if not isinstance(scheduler, LRScheduler | ReduceLROnPlateau):
        hint = (
            " (schedules are not chosen by name: build one on the optimizer, e.g. "
            "scheduler=gc.optim.CosineAnnealingLR(opt, T_max=epochs))"
            if isinstance(scheduler, str)
            else ""
        )
        raise TypeError(
            f"fit: scheduler must be None or a schedule ({kinds} subclass) built on the "
            f"optimizer, got {describe(scheduler)}{hint}"
        )
    if scheduler.optimizer is not opt:
        raise ValueError(
            "fit: scheduler must be built on the optimizer fit steps, got one built on another "
            "optimizer (optimizer=<name> builds a new one: build the optimizer yourself and "
            "pass it and its schedule)"
        )
    return scheduler


def _classifies(loss: _losses.Loss) -> bool:
    return isinstance(loss, _losses.SoftmaxCrossEntropy | _losses.BCEWithLogits)


def _get_loss(loss, owner: str) -> _losses.Loss:
    """A loss object for ``loss`` (a ``gc.losses.Loss`` or one of ``losses.LOSSES``' names)."""
    if isinstance(loss, _losses.Loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(
            f"{owner}: loss must be a gc.losses.Loss or one of "
            f"{', '.join(repr(n) for n in _losses.LOSSES)}, got {describe(loss)}"
        )
    return _losses.LOSSES[check_choice("loss", loss, tuple(_losses.LOSSES), owner=owner)]()


def _correct(loss: _losses.Loss, out: np.ndarray, y: np.ndarray) -> int | None:
    if isinstance(loss, _losses.SoftmaxCrossEntropy):
        return int((out.argmax(axis=1) == y).sum())
    if isinstance(loss, _losses.BCEWithLogits):
        return int(((out > 0) == (y > 0.5)).sum())
    return None


def evaluate(
    model: Layer, X: np.ndarray, y: np.ndarray, loss="cross_entropy", batch_size: int = 256
) -> dict[str, float]:
    """Mean loss (and accuracy for classification) over ``X`` in evaluation mode.

    ``X`` ``[N, ...]`` real numbers, finite, ``N >= 1`` (cast to the model's dtype); ``y`` as
    for :func:`fit`; ``loss`` a ``gc.losses`` object or name; ``batch_size`` an integer >= 1
    (rows per forward pass; the result does not depend on it beyond rounding).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"evaluate: model must be a gradcore layer/model, got {describe(model)}")
    batch_size = check_int("batch_size", batch_size, owner="evaluate", min=1)
    loss_fn = _get_loss(loss, "evaluate")
    X, y = check_data(X, y, loss_fn, model.dtype, "evaluate")
    return _evaluate(model, X, y, loss_fn, batch_size)


def _evaluate(model: Layer, X, y, loss_fn: _losses.Loss, batch_size: int) -> dict[str, float]:
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


def train_step(model: Layer, loss, optimizer, xb: np.ndarray, yb: np.ndarray, *, clip=None) -> dict:
    """One training step on one batch, the step :func:`fit` takes: zero the gradients, forward
    in training mode, the loss, backward (without ``dL/dX``), the norms pass (or ``clip``), one
    optimizer step. Returns ``{"loss": value, "grad_norm": pre-clip global gradient norm}``.

    For a loop of your own::

        opt = gc.optim.Adam(model.parameters())
        for xb, yb in batches:
            logs = gc.train.train_step(model, "cross_entropy", opt, xb, yb, clip=1.0)

    ``model`` a gradcore layer/model; ``loss`` a ``gc.losses.Loss`` or name (a loss object is
    reused: its ``backward`` reads the cache of its ``forward``); ``optimizer`` a ``gc.optim``
    optimizer built on ``model.parameters()`` (not a name: a fresh optimizer per step would
    lose its state); ``clip`` as for :func:`fit`; ``xb`` ``[B, ...]`` and ``yb`` as ``X`` and
    ``y`` of :func:`fit` (checked, with cross-entropy labels checked against the model's
    output width, at every call: ``fit`` checks its data once and steps unchecked).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"train_step: model must be a gradcore layer/model, got {describe(model)}")
    loss_fn = _get_loss(loss, "train_step")
    if isinstance(optimizer, str):
        raise TypeError(
            "train_step: optimizer must be a gc.optim optimizer built on model.parameters() "
            f"(not a name: it would be built afresh, without its state, at every step), got "
            f"{describe(optimizer)}"
        )
    opt = _resolve_optimizer(optimizer, model, "train_step")
    clip_fn = _resolve_clip(clip, "train_step")
    xb, yb = check_data(xb, yb, loss_fn, model.dtype, "train_step")
    labels = (("y", yb),) if isinstance(loss_fn, _losses.SoftmaxCrossEntropy) else None
    _, value, norm = _gradients(
        model, model.parameters(), loss_fn, xb, yb, clip_fn, labels, "train_step"
    )
    opt.step()
    return {"loss": value, "grad_norm": float(norm)}


def _gradients(
    model: Layer, arena, loss_fn: _losses.Loss, xb, yb, clip_fn, labels=None, owner="fit"
):
    """The gradient half of a step (the optimizer step is the caller's: ``fit`` runs the
    callbacks in between, and they may skip it): ``(out, loss value, pre-clip norm)``.
    ``labels``, when given, are checked against the output width before the loss."""
    arena.zero_grad()
    out = model.forward(xb, training=True)
    if labels is not None:
        check_labels(out, labels, owner)
    value = loss_fn.forward(out, yb)
    backward_without_input_grad(model, loss_fn.backward())  # no dL/dX
    norm = clip_fn(arena) if clip_fn is not None else grad_norms(arena)
    return out, value, norm


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
    progress=None,
) -> History:
    """Train ``model`` on ``(X, y)`` with mini-batches; returns a :class:`History`.

    Every argument is checked before anything is trained (``TypeError`` for a wrong type,
    ``ValueError`` for a wrong value, the message naming the argument); NumPy scalars are
    accepted wherever Python numbers are, ``bool`` is never a number. Each step is the one of
    :func:`train_step` (with the callbacks' ``on_batch_end`` before the optimizer step).

    Parameters
    ----------
    X : ndarray ``[N, ...]``, ``N >= 1``, real and finite (cast once to the model's dtype).
    y : ndarray ``[N]`` of integer labels in ``[0, K)`` for cross-entropy (``K`` the model's
        output width, checked at the first forward pass, before any update), else ``[N, ...]``
        real, finite targets.
    loss : a ``gc.losses.Loss`` or one of the names of ``gc.losses.LOSSES``
        (``"cross_entropy"``, ``"mse"``, ``"bce_with_logits"``, ...).
    optimizer : a ``gc.optim`` optimizer built on ``model.parameters()`` (one built on
        another model's or a sub-layer's arena is refused), or a name (any case; ``"adam"``,
        ``"sgd"`` (lr 0.01), ``"adamw"``, ``"rmsprop"``, ``"adagrad"``, with their defaults).
    epochs : int >= 1, the number of the last epoch + 1 (as in Keras): epochs
        ``initial_epoch .. epochs - 1`` run.
    batch_size : int >= 1 (the last batch of an epoch holds the remainder).
    shuffle, verbose, stop_on_nonfinite : bool.
    validation_data : ``None`` or a pair ``(X_val, y_val)`` checked like ``(X, y)``, with the
        shapes of ``X`` and ``y`` after the first axis.
    clip : ``None``, a max global norm (a finite real > 0, ``clip_grad_norm``), or a callable
        ``(params) -> norm`` (``gc.optim.AutoClip()``, ``gc.optim.AGC()``).
    callbacks : a list or tuple of :class:`Callback` instances (subclasses; duck-typed
        objects are refused up front, naming their index).
    scheduler : ``None`` or a ``gc.optim`` schedule (``LRScheduler`` subclass or
        ``ReduceLROnPlateau``) built on the optimizer this fit steps, stepped once per epoch
        (``ReduceLROnPlateau`` with ``val_loss`` if there is validation data, else the
        training loss). Not taken by name: a schedule's settings (``T_max``, ``step_size``,
        ``gamma``) have no default that fits every run.
    seed : int >= 0; the batch order of epoch ``e`` comes from ``default_rng([seed, e])``.
    initial_epoch : int in ``[0, epochs)``, the first epoch number (to resume from a
        checkpoint). ``initial_epoch >= epochs`` is refused rather than training nothing
        (Keras returns silently): a resumed run that trains nothing is a slip, not a request.
    verbose : a tqdm progress bar on stderr (loss, accuracy, gradient norm, lr), when
        ``progress`` is not given.
    progress : the progress bar, handed in by the caller (library code does not print):
        ``None`` (default: follow ``verbose``), ``True``/``False`` (tqdm on stderr / none), a
        factory ``progress(total=steps)`` returning a bar (``tqdm.tqdm`` itself, or a
        ``functools.partial`` of it; ``fit`` closes it at the end), or a tqdm-like object with
        ``update(n)`` and ``set_postfix(**kw)`` that the caller owns (``fit`` updates it once per
        step and does not close it).
    """
    if not isinstance(model, Layer):
        raise TypeError(f"fit: model must be a gradcore layer/model, got {describe(model)}")
    epochs = check_int("epochs", epochs, owner="fit", min=1)
    batch_size = check_int("batch_size", batch_size, owner="fit", min=1)
    initial_epoch = check_int("initial_epoch", initial_epoch, owner="fit", min=0)
    if initial_epoch >= epochs:
        raise ValueError(
            f"fit: initial_epoch must be < epochs={epochs} (epochs is the number of the last "
            f"epoch + 1, as in Keras: to train k more epochs from epoch e pass "
            f"initial_epoch=e, epochs=e + k), got {initial_epoch}"
        )
    shuffle = check_bool("shuffle", shuffle, owner="fit")
    verbose = check_bool("verbose", verbose, owner="fit")
    stop_on_nonfinite = check_bool("stop_on_nonfinite", stop_on_nonfinite, owner="fit")
    seed = check_seed(seed, owner="fit")
    loss_fn = _get_loss(loss, "fit")
    X, y = check_data(X, y, loss_fn, model.dtype)
    validation_data = _check_validation_data(validation_data, loss_fn, model.dtype, X, y)
    opt = _resolve_optimizer(optimizer, model)
    clip_fn = _resolve_clip(clip)
    cbs = _resolve_callbacks(callbacks)
    scheduler = _resolve_scheduler(scheduler, opt)
    make_bar = _resolve_progress(progress, verbose)
    if stop_on_nonfinite and not any(isinstance(c, TerminateOnNonFinite) for c in cbs):
        cbs.insert(0, TerminateOnNonFinite())
    labels = None
    if isinstance(loss_fn, _losses.SoftmaxCrossEntropy):
        labels = (
            ("y", y),
            ("validation_data's y", validation_data[1] if validation_data else None),
        )

    history = History()
    metrics = _metrics(loss_fn, validation_data is not None)
    tr = Trainer(model=model, optimizer=opt, loss=loss_fn, history=history, metrics=metrics)
    loop = _Loop(tr, X, y, batch_size, clip_fn, cbs, labels)
    n = len(X)
    bar, owned = make_bar((epochs - initial_epoch) * math.ceil(n / batch_size))
    loop.bar = bar
    for cb in cbs:
        cb.on_train_begin(tr)
    try:
        for epoch in range(initial_epoch, epochs):
            tr.epoch = epoch
            t0 = time.perf_counter()
            order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
            logs = loop.epoch(order)
            if logs is None:  # the first step of the epoch was not applied
                break
            if validation_data is not None:
                val = _evaluate(model, *validation_data, loss_fn, max(batch_size, 256))
                logs.update({f"val_{k}": v for k, v in val.items()})
            logs["lr"] = float(opt.lr)
            logs["grad_norm"] = loop.sum_norm / loop.nsteps
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
        if owned:
            bar.close()
    for cb in cbs:
        cb.on_train_end(tr)
    history.stop_reason = tr.stop_reason
    return history


class _Loop:
    """The batches of one ``fit``: each epoch's steps (:func:`_gradients`, the callbacks, the
    optimizer step) and the sums its logs are made of."""

    def __init__(self, tr: Trainer, X, y, batch_size: int, clip_fn, cbs, labels) -> None:
        self.tr, self.X, self.y, self.batch_size = tr, X, y, batch_size
        self.clip_fn, self.cbs, self.labels = clip_fn, cbs, labels
        self.bar = None
        self.sum_norm, self.nsteps = 0.0, 0

    def epoch(self, order: np.ndarray) -> dict[str, float] | None:
        """Train on the batches of ``order``; the epoch's ``loss`` (and ``accuracy``) logs, or
        ``None`` when no step was applied (a callback skipped the first update)."""
        tr, X, y, batch_size, clip_fn, cbs, bar = (
            self.tr, self.X, self.y, self.batch_size, self.clip_fn, self.cbs, self.bar
        )  # fmt: skip
        model, opt, loss_fn, history = tr.model, tr.optimizer, tr.loss, tr.history
        arena = model.parameters()
        epoch = tr.epoch
        sum_loss = sum_norm = 0.0
        correct: int | None = 0
        seen = nsteps = 0
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            xb, yb = X[idx], y[idx]
            out, value, norm = _gradients(model, arena, loss_fn, xb, yb, clip_fn, self.labels)
            self.labels = None  # checked once, before the first update
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
        self.sum_norm, self.nsteps = sum_norm, nsteps
        if seen == 0:
            return None
        logs = {"loss": sum_loss / seen}
        if correct is not None:
            denom = (
                seen
                if isinstance(loss_fn, _losses.SoftmaxCrossEntropy)
                else seen * int(np.prod(y.shape[1:]))
            )
            logs["accuracy"] = correct / denom
        return logs


def _check_validation_data(validation_data, loss_fn, dtype, X, y):
    """``None``, or the pair ``(X_val, y_val)`` checked like ``(X, y)`` and with their shapes
    after the first axis."""
    if validation_data is None:
        return None
    if not (isinstance(validation_data, tuple | list) and len(validation_data) == 2):
        raise TypeError(
            "fit: validation_data must be None or a pair (X_val, y_val) of arrays, got "
            + describe(validation_data)
            + (
                f" of length {len(validation_data)}"
                if isinstance(validation_data, tuple | list)
                else ""
            )
        )
    validation_data = check_data(*validation_data, loss_fn, dtype, "fit", "validation_data")
    for nm, a, ref in (("X", validation_data[0], X), ("y", validation_data[1], y)):
        if a.shape[1:] != ref.shape[1:]:
            raise ValueError(
                f"fit: validation_data's {nm} must have the shape of {nm} after the first "
                f"axis, {ref.shape[1:]}, got {a.shape[1:]}"
            )
    return validation_data


def _metrics(loss_fn: _losses.Loss, validation: bool) -> tuple[str, ...]:
    """The names of the per-epoch metrics a fit logs (``Trainer.metrics``)."""
    metrics = ["loss"]
    if _classifies(loss_fn):
        metrics.append("accuracy")
    if validation:
        metrics += [f"val_{m}" for m in metrics]
    return (*metrics, "lr", "grad_norm", "time")


def _tqdm(total: int):
    """The default bar: tqdm on stderr, one tick per step."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True, leave=True)


def _is_bar(obj) -> bool:
    return callable(getattr(obj, "update", None)) and callable(getattr(obj, "set_postfix", None))


def _resolve_progress(progress, verbose: bool) -> Callable:
    """``progress`` as a function ``total -> (bar or None, whether fit closes it)``, checked
    before training."""
    if progress is None:
        progress = verbose
    if progress is True:
        return lambda total: (_tqdm(total), True)
    if progress is False:
        return lambda total: (None, False)
    if not isinstance(progress, type) and _is_bar(progress):  # the caller's bar, not a class
        return lambda total: (progress, False)
    if callable(progress):

        def make(total: int):
            bar = progress(total=total)
            if not (_is_bar(bar) and callable(getattr(bar, "close", None))):
                raise TypeError(
                    "fit: progress(total=...) must return a progress bar with update(n), "
                    f"set_postfix(**kw) and close() (a tqdm), got {describe(bar)}"
                )
            return bar, True

        return make
    raise TypeError(
        "fit: progress must be None, True, False, a factory progress(total=steps) -> bar (such "
        "as tqdm.tqdm) or a tqdm-like bar with update(n) and set_postfix(**kw), got "
        f"{describe(progress)}"
    )


register_training_loop(fit, evaluate)
