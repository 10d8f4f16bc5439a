"""The fit loop: learning, history, determinism, callbacks, clipping hooks, bad inputs."""

import numpy as np
import pytest

import gradcore as gc
from gradcore.cli import spirals

nn = gc.nn
F64 = np.float64


def mlp(seed=0, dtype=np.float32, width=32, dropout=0.0):
    layers = [nn.Dense(2, width, "relu", dtype=dtype, seed=seed), nn.BatchNorm(width, dtype=dtype)]
    if dropout:
        layers.append(nn.Dropout(dropout, dtype=dtype, seed=seed))
    layers += [
        nn.Dense(width, width, "relu", dtype=dtype, seed=seed + 1),
        nn.Dense(width, 3, "linear", dtype=dtype, seed=seed + 2),
    ]
    return nn.Sequential(layers)


@pytest.fixture(scope="module")
def data():
    X, y = spirals(n_per_class=100, seed=0)
    return X, y


def test_fit_learns_spirals(data):
    X, y = data
    model = mlp()
    opt = gc.optim.Adam(model.parameters(), lr=0.01)
    hist = model.fit(X, y, optimizer=opt, epochs=30, batch_size=32, verbose=False, seed=1)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["accuracy"][-1] > 0.9
    assert model.evaluate(X, y)["accuracy"] > 0.9
    assert set(hist.history) == {"loss", "accuracy", "lr", "grad_norm", "time"}
    assert len(hist["loss"]) == 30 and hist.steps == 30 * 10 and hist.stop_reason is None
    assert all(t > 0 for t in hist["time"])


def test_fit_is_deterministic_and_seeded(data):
    X, y = data
    runs = []
    for seed in (5, 5, 6):
        model = mlp(dropout=0.1)
        model.fit(
            X,
            y,
            optimizer=gc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
            epochs=3,
            batch_size=16,
            verbose=False,
            seed=seed,
        )
        runs.append(model.parameters().data.copy())
    np.testing.assert_array_equal(runs[0], runs[1])  # bit-identical
    assert not np.array_equal(runs[0], runs[2])


def test_validation_early_stopping_and_restore(data):
    X, y = data
    model = mlp()
    es = gc.train.EarlyStopping(monitor="val_loss", patience=1, restore_best=True)
    # lr so large that validation loss soon stops improving; clipping keeps it finite (without
    # it, lr=2.0 diverged to NaN on one CPU and not another: a chaotic run, not a test of
    # early stopping)
    hist = model.fit(
        X,
        y,
        optimizer=gc.optim.SGD(model.parameters(), lr=2.0),
        clip=1.0,
        epochs=40,
        validation_data=(X[:60], y[:60]),
        callbacks=[es],
        verbose=False,
    )
    assert hist.stop_reason is not None and "early stopping" in hist.stop_reason
    assert len(hist["val_loss"]) < 40
    best = min(hist["val_loss"])
    assert abs(model.evaluate(X[:60], y[:60])["loss"] - best) < 1e-5 * max(1.0, best)


def test_clip_and_grad_norm_records(data):
    X, y = data
    model = mlp(dtype=F64)
    hist = model.fit(X, y, optimizer="sgd", epochs=2, clip=0.01, verbose=False)
    arena = model.parameters()
    assert arena.grad_norms is not None and arena.grad_norms.shape == (len(arena),)
    # the recorded norm is the pre-clip one; after clipping the gradient norm is the max norm
    assert hist["grad_norm"][0] > 0.01
    assert np.linalg.norm(arena.grad) == pytest.approx(0.01, rel=1e-4)
    hist2 = mlp(dtype=F64).fit(
        X, y, optimizer="adam", epochs=2, clip=gc.optim.AutoClip(10.0), verbose=False
    )
    assert len(hist2["loss"]) == 2


def test_scheduler_steps_per_epoch(data):
    X, y = data
    model = mlp()
    opt = gc.optim.SGD(model.parameters(), lr=0.1)
    sched = gc.optim.StepLR(opt, step_size=2, gamma=0.5)
    hist = model.fit(X, y, optimizer=opt, scheduler=sched, epochs=5, verbose=False)
    np.testing.assert_allclose(hist["lr"], [0.1, 0.1, 0.05, 0.05, 0.025])


@pytest.mark.usefixtures("each_backend")  # no backend may warn on its way to inf/NaN
def test_nonfinite_loss_stops_with_a_diagnosis(data):
    X, y = data
    model = nn.Sequential(
        [
            nn.Dense(2, 16, "linear", dtype=F64, seed=0),
            nn.Dense(16, 16, "linear", dtype=F64, seed=1),
            nn.Dense(16, 3, "linear", dtype=F64, seed=2),
        ]
    )
    opt = gc.optim.SGD(model.parameters(), lr=1e3)  # a deep linear net explodes
    with pytest.warns(RuntimeWarning, match=r"non-finite .* at epoch \d+, step \d+"):
        hist = model.fit(X * 100, y, optimizer=opt, epochs=50, verbose=False)
    assert hist.stop_reason is not None and "first non-finite" in hist.stop_reason
    assert (
        "output of layer" in hist.stop_reason
        or "gradient of" in hist.stop_reason
        or "loss" in hist.stop_reason
    )
    assert np.isfinite(model.parameters().data).all()  # the bad update was not applied
    with pytest.raises(gc.train.NonFiniteError):
        m2 = nn.Sequential([nn.Dense(2, 3, "linear", dtype=F64, seed=0)])
        m2.parameters().data[0] = np.inf
        m2.fit(
            X,
            y,
            optimizer="sgd",
            epochs=1,
            verbose=False,
            callbacks=[gc.train.TerminateOnNonFinite(raise_error=True)],
        )


def test_progress_bar_only_when_verbose(data, capsys):
    X, y = data
    mlp().fit(X, y, epochs=1, verbose=False)
    assert capsys.readouterr().err == ""
    mlp().fit(X, y, epochs=1, verbose=True)
    err = capsys.readouterr().err
    assert "step" in err and "loss" in err


class _Bar:
    """A tqdm-like bar the caller owns: records what fit hands it."""

    def __init__(self, total=None):
        self.total, self.updates, self.postfix, self.closed = total, 0, {}, False

    def update(self, n=1):
        self.updates += n

    def set_postfix(self, refresh=True, **kw):
        self.postfix.update(kw)

    def close(self):
        self.closed = True


def test_progress_is_handed_in(data, capsys):
    X, y = data  # 300 rows, batch 100: 3 steps per epoch
    bar = _Bar()
    mlp().fit(X, y, epochs=2, batch_size=100, progress=bar)
    assert bar.updates == 6 and "loss" in bar.postfix and not bar.closed  # the caller's bar
    made = []
    mlp().fit(
        X, y, epochs=2, batch_size=100, progress=lambda total: made.append(_Bar(total)) or made[-1]
    )
    assert made[0].total == 6 and made[0].updates == 6 and made[0].closed  # fit's bar
    mlp().fit(X, y, epochs=1, verbose=True, progress=False)
    assert capsys.readouterr().err == ""
    mlp().fit(X, y, epochs=1, verbose=False, progress=True)
    assert "step" in capsys.readouterr().err
    with pytest.raises(TypeError, match=r"fit: progress must be None, True, False, a factory"):
        mlp().fit(X, y, progress="tqdm")
    with pytest.raises(TypeError, match=r"fit: progress\(total=...\) must return a progress bar"):
        mlp().fit(X, y, progress=lambda total: None)


def test_train_step_is_the_step_of_fit(data):
    X, y = data
    a, b = mlp(), mlp()
    opt_a = gc.optim.Adam(a.parameters(), lr=0.01)
    a.fit(X, y, optimizer=opt_a, epochs=1, batch_size=100, shuffle=False, clip=1.0, verbose=False)
    opt_b = gc.optim.Adam(b.parameters(), lr=0.01)
    for i in range(0, len(X), 100):
        logs = gc.train.train_step(
            b, "cross_entropy", opt_b, X[i : i + 100], y[i : i + 100], clip=1.0
        )
    assert set(logs) == {"loss", "grad_norm"}
    assert np.array_equal(a.parameters().data, b.parameters().data)
    with pytest.raises(
        TypeError, match=r"train_step: optimizer must be a gc.optim optimizer .*not a name"
    ):
        gc.train.train_step(b, "cross_entropy", "adam", X, y)
    with pytest.raises(ValueError, match=r"train_step: y must hold class labels in \[0, 3\)"):
        gc.train.train_step(b, "cross_entropy", opt_b, X, y + 3)
    with pytest.raises(ValueError, match=r"train_step: clip must be a finite real number > 0"):
        gc.train.train_step(b, "cross_entropy", opt_b, X, y, clip=-1.0)


def test_bad_inputs_to_fit(data):
    X, y = data
    model = mlp()
    with pytest.raises(ValueError, match="different lengths"):
        model.fit(X, y[:-1], verbose=False)
    with pytest.raises(TypeError, match="integer class labels"):
        model.fit(X, y.astype(np.float32), verbose=False)
    Xn = X.copy()
    Xn[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite values .* first at index \(7, 1\)"):
        model.fit(Xn, y, verbose=False)
    with pytest.raises(ValueError, match=r"fit: epochs must be an integer >= 1, got 0"):
        model.fit(X, y, epochs=0, verbose=False)
    with pytest.raises(ValueError, match=r"fit: y must hold class labels in \[0, 3\)"):
        model.fit(X, y + 5, verbose=False)
    with pytest.raises(ValueError, match="fit: optimizer must be built on this model"):
        model.fit(X, y, optimizer=gc.optim.Adam(mlp().parameters()), verbose=False)
    with pytest.raises(
        ValueError, match=r"fit: optimizer must be one of .*'adam'.*got str \('lion'\)"
    ):
        model.fit(X, y, optimizer="lion", verbose=False)
    with pytest.raises(ValueError, match="loss must be"):
        model.fit(X, y, loss="hinge", verbose=False)
    with pytest.raises(ValueError, match="x must have shape"):
        model.fit(X[:, :1], y, verbose=False)


def test_predict_and_evaluate(data):
    X, y = data
    model = mlp()
    model.fit(X, y, epochs=2, verbose=False)
    out = model.predict(X, batch_size=64)  # float64 X is cast to the model's float32
    assert out.shape == (len(X), 3) and out.dtype == np.float32
    ev = model.evaluate(X, y)
    assert ev["accuracy"] == pytest.approx((out.argmax(1) == y).mean())
