"""Two classic results: an MLP on scikit-learn's digits, an LSTM on the adding problem."""

from __future__ import annotations

import time

import numpy as np

from .. import data, nn, optim


def _train(model, train, test, loss: str, lr: float, **fit_kw):
    """Adam at ``lr``, ``model.fit`` on ``train`` (timed), then ``evaluate`` on ``test``:
    ``(history, seconds, test logs)``."""
    opt = optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    hist = model.fit(*train, loss=loss, optimizer=opt, **fit_kw)
    seconds = time.perf_counter() - t0
    return hist, seconds, model.evaluate(*test, loss=loss)


def digits_mlp(
    *,
    epochs: int = 60,
    batch_size: int = 64,
    lr: float = 1e-3,
    width: int = 128,
    seed: int = 0,
    dtype=np.float32,
    verbose: bool = True,
) -> dict:
    """3-hidden-layer ReLU MLP (He init) on the 8x8 digits; accuracy on a held-out 25 % split.

    Needs scikit-learn (``pip install "gradcore[data]"``): its digits ship inside the wheel.
    """
    X_tr, y_tr, X_te, y_te = data.digits(test_size=0.25, seed=seed)
    model = nn.Sequential(
        [
            nn.Dense(64, width, "relu", init="he_normal", dtype=dtype, seed=seed),
            nn.Dense(width, width, "relu", init="he_normal", dtype=dtype, seed=seed + 1),
            nn.Dense(width, width, "relu", init="he_normal", dtype=dtype, seed=seed + 2),
            nn.Dense(width, 10, "linear", init="xavier_normal", dtype=dtype, seed=seed + 3),
        ]
    )
    hist, seconds, test = _train(
        model, (X_tr, y_tr), (X_te, y_te), "cross_entropy", lr,
        epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose,
    )  # fmt: skip
    return {
        "experiment": "digits_mlp",
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "train_accuracy": hist["accuracy"][-1],
        "epochs": len(hist.epochs),
        "seconds": seconds,
        "n_train": len(X_tr),
        "n_test": len(X_te),
        "model": model,
        "history": hist,
    }


def adding_lstm(
    *,
    T: int = 50,
    hidden: int = 64,
    n_train: int = 10000,
    n_test: int = 2000,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 3e-3,
    clip: float = 1.0,
    seed: int = 0,
    dtype=np.float32,
    verbose: bool = True,
) -> dict:
    """LSTM on the adding problem (sum of the two marked numbers in a length-T sequence).

    A constant predictor scores MSE ~0.167; a solved task is well below 0.01.
    """
    X_tr, y_tr = data.adding_problem(n_train, T, seed=seed)
    X_te, y_te = data.adding_problem(n_test, T, seed=seed + 1)
    model = nn.Sequential(
        [
            nn.LSTM(2, hidden, return_sequences=False, dtype=dtype, seed=seed),
            nn.Dense(hidden, 1, "linear", init="xavier_normal", dtype=dtype, seed=seed + 1),
        ]
    )
    hist, seconds, test = _train(
        model, (X_tr, y_tr), (X_te, y_te), "mse", lr,
        epochs=epochs, batch_size=batch_size, clip=clip, seed=seed, verbose=verbose,
        validation_data=(X_te, y_te),
    )  # fmt: skip
    baseline = float(np.mean((y_te - y_tr.mean()) ** 2))
    return {
        "experiment": "adding_lstm",
        "T": T,
        "test_mse": test["loss"],
        "constant_predictor_mse": baseline,
        "epochs": len(hist.epochs),
        "seconds": seconds,
        "model": model,
        "history": hist,
    }
