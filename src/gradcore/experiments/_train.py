"""Helpers the training experiments share: one watched training run per variant."""

from __future__ import annotations

import warnings

import numpy as np

from .. import losses, nn, optim
from .. import monitor as _monitor
from ._framework import Context, Dataset

#: The training setting the material uses throughout (the Keras defaults it starts from).
ADAM_1E3 = {"batch_size": 32, "lr": 1e-3, "optimizer": "Adam"}


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def watched_fit(
    ctx: Context,
    model,
    ds: Dataset,
    *,
    epochs: int,
    batch_size: int,
    lr: float | None = None,
    clip=None,
    records: int = 40,
    optimizer=None,
    scheduler=None,
    callbacks=(),
) -> dict:
    """Adam at ``lr`` (or ``optimizer``, and ``scheduler`` and ``callbacks`` as ``fit`` takes
    them) on ``ds`` with a GradientMonitor recording about ``records`` steps (step 0 always),
    the test set as validation data. Returns ``{"monitor", "history", "test_accuracy" [epochs +
    1] and "test_loss" [epochs + 1] (index 0: before training), "train_loss" [epochs], "lr"
    [epochs] (the rate each epoch ran at), "stop_reason"}``."""
    opt = optimizer if optimizer is not None else optim.Adam(model.parameters(), lr=lr)
    total = steps_per_epoch(len(ds.X_train), batch_size) * epochs
    mon = _monitor.GradientMonitor(model, every=max(1, total // records))
    before = model.evaluate(ds.X_test, ds.y_test)
    # A diverging run is a result here (experiment 2 provokes it): fit stops at the first
    # NaN/inf and says so in stop_reason; its warning and NumPy's overflow notes are muted.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.filterwarnings("ignore", "non-finite", RuntimeWarning)
        hist = model.fit(
            ds.X_train,
            ds.y_train,
            optimizer=opt,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=(ds.X_test, ds.y_test),
            clip=clip,
            scheduler=scheduler,
            callbacks=[*callbacks, mon],
            seed=ctx.seed,
            progress=ctx.fit_bar,
            verbose=False,
        )
    mon.detach()
    done = len(hist.epochs)
    if done < epochs:  # stopped early (non-finite): the bar still counts the skipped steps
        ctx.bar.update(steps_per_epoch(len(ds.X_train), batch_size) * (epochs - done))
    acc = [before["accuracy"], *hist.history.get("val_accuracy", [])]
    loss = [before["loss"], *hist.history.get("val_loss", [])]
    return {
        "monitor": mon,
        "history": hist,
        "test_accuracy": [float(a) for a in acc],
        "test_loss": [float(v) for v in loss],
        "train_loss": [float(v) for v in hist.history.get("loss", [])],
        "lr": [float(v) for v in hist.history.get("lr", [])],
        "stop_reason": hist.stop_reason,
    }


def first_record_grads(mon) -> tuple[list[str], np.ndarray]:
    """Layer names and ``||dL/dW||`` per layer at the first recorded step (step 0)."""
    names, G = mon.history.layer_grad_norms()
    return names, G[0]


def bn_relu_block(d_in: int, width: int, seed: int, residual: bool = False):
    """Dense(He, linear) -> BatchNorm -> ReLU, float32; wrapped in ``x + block(x)`` if
    ``residual`` (then ``d_in`` must equal ``width``)."""
    f32 = np.float32
    block = nn.Sequential(
        [
            nn.Dense(d_in, width, "linear", init="he_normal", dtype=f32, seed=seed),
            nn.BatchNorm(width, dtype=f32),
            nn.Activation("relu", dtype=f32),
        ]
    )
    return nn.Residual(block) if residual else block


def monitored_step(model, X, y):
    """One forward (training mode) / cross-entropy / backward of ``(X, y)`` with a
    GradientMonitor watching; returns its ``history`` (one record). Nothing is updated."""
    mon = _monitor.GradientMonitor(model, every=1, max_records=2)
    loss = losses.SoftmaxCrossEntropy()
    model.zero_grad()
    value = loss.forward(model.forward(X, training=True), y)
    model.backward(loss.backward())
    mon.record(loss=value)
    mon.detach()
    return mon.history
