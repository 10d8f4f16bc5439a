"""Tests for ``gradcore.data``: shapes, dtypes, determinism, task invariants, errors, no network."""

import random
import socket

import numpy as np
import pytest

from gradcore import cli, data
from gradcore.data import (
    adding_problem,
    batches,
    copy_task,
    spirals,
    teacher_student,
    train_test_split,
)


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- exports


def test_all_exports():
    assert sorted(data.__all__) == sorted(
        [
            "DatasetNotFound",
            "adding_problem",
            "batches",
            "copy_task",
            "coupled_oscillators",
            "forecast_split",
            "digits",
            "mnist",
            "mnist1d",
            "spirals",
            "teacher_student",
            "train_test_split",
            "windows",
        ]
    )
    for name in data.__all__:
        assert callable(getattr(data, name))


# ---------------------------------------------------------------- spirals


def _spirals_before_move(n_per_class=200, classes=3, noise=0.2, seed=0):
    """The implementation that lived in cli.py, kept verbatim as the regression oracle."""
    rng = np.random.default_rng(seed)
    X = np.empty((n_per_class * classes, 2))
    y = np.repeat(np.arange(classes), n_per_class)
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.normal(0, noise, n_per_class)
        X[k * n_per_class : (k + 1) * n_per_class] = np.c_[r * np.sin(t), r * np.cos(t)]
    return X, y.astype(np.int64)


@pytest.mark.parametrize(
    "kwargs", [{}, {"n_per_class": 7, "classes": 5, "noise": 0.0, "seed": 3}, {"seed": 11}]
)
def test_spirals_unchanged_by_move(kwargs):
    X, y = spirals(**kwargs)
    assert _same((X, y), _spirals_before_move(**kwargs))
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert cli.spirals is spirals


def test_spirals_shapes_and_seed():
    X, y = spirals(n_per_class=50, classes=4)
    assert X.shape == (200, 2) and y.shape == (200,)
    assert np.array_equal(np.bincount(y), [50, 50, 50, 50])
    assert not np.array_equal(X, spirals(n_per_class=50, classes=4, seed=1)[0])


# ---------------------------------------------------------------- teacher-student


def test_teacher_student_shapes_dtypes_determinism():
    X, y = teacher_student(100, 5, out_features=3, hidden=(8, 4), seed=2)
    assert X.shape == (100, 5) and y.shape == (100, 3)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert X.flags.c_contiguous and y.flags.c_contiguous
    assert _same((X, y), teacher_student(100, 5, out_features=3, hidden=(8, 4), seed=2))
    X2, y2 = teacher_student(100, 5, out_features=3, hidden=(8, 4), seed=3)
    assert not np.array_equal(X, X2) and not np.array_equal(y, y2)


def test_teacher_student_targets_are_a_function_of_inputs():
    # Same teacher for any n: a smaller n is a prefix of a larger one.
    X, y = teacher_student(300, 4, hidden=(16,), seed=5)
    Xs, ys = teacher_student(30, 4, hidden=(16,), seed=5)
    assert np.array_equal(X[:30], Xs)
    np.testing.assert_allclose(y[:30], ys, rtol=1e-12, atol=1e-14)  # BLAS blocking may differ
    # The targets depend on the inputs non-trivially and are not degenerate.
    assert y.std() > 0.05
    assert np.all(np.abs(y) < 10 * y.std() + np.abs(y.mean()))


def test_teacher_student_linear_teacher_is_exactly_linear():
    X, y = teacher_student(50, 6, out_features=2, hidden=(), seed=1)
    A = np.c_[X, np.ones(len(X))]
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(A @ coef, y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hidden", [(), (400,)])
def test_teacher_student_weights_scaled_by_inverse_sqrt_fan_in(hidden):
    # W, b ~ N(0, 1/fan_in) and unit-variance inputs give E[y^2] = prod(1 + 1/fan_in) ≈ 1.01
    # through linear layers; a different scale (e.g. N(0, 1)) would give ~fan_in.
    _, y = teacher_student(2000, 100, out_features=200, hidden=hidden, activation="linear")
    assert abs(np.mean(y**2) - 1.0) < 0.1


def test_teacher_student_noise_is_additive_gaussian():
    X0, y0 = teacher_student(20000, 3, noise=0.0, seed=4)
    X1, y1 = teacher_student(20000, 3, noise=0.5, seed=4)
    assert np.array_equal(X0, X1)
    resid = y1 - y0
    assert abs(resid.mean()) < 0.02  # SE 0.5/sqrt(20000) = 0.0035
    assert abs(resid.std() - 0.5) < 0.02


def test_teacher_student_activation_changes_targets():
    _, y_tanh = teacher_student(40, 3, activation="tanh", seed=0)
    _, y_relu = teacher_student(40, 3, activation="relu", seed=0)
    assert not np.allclose(y_tanh, y_relu)


# ---------------------------------------------------------------- adding problem


@pytest.mark.parametrize("T", [2, 3, 10, 51])
def test_adding_problem_markers_and_targets(T):
    n = 500
    X, y = adding_problem(n, T, seed=1)
    assert X.shape == (n, T, 2) and y.shape == (n, 1)
    assert X.dtype == np.float64 and y.dtype == np.float64
    values, marks = X[:, :, 0], X[:, :, 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(marks)) <= {0.0, 1.0}
    half = T // 2
    assert np.all(marks[:, :half].sum(axis=1) == 1)  # exactly one in the first half
    assert np.all(marks[:, half:].sum(axis=1) == 1)  # exactly one in the second half
    first = np.argmax(marks[:, :half], axis=1)
    second = half + np.argmax(marks[:, half:], axis=1)
    rows = np.arange(n)
    assert np.array_equal(y[:, 0], values[rows, first] + values[rows, second])


def test_adding_problem_positions_cover_both_halves():
    X, _ = adding_problem(4000, 20, seed=0)
    pos = np.nonzero(X[:, :, 1])[1]
    assert np.array_equal(np.unique(pos), np.arange(20))


def test_adding_problem_constant_predictor_mse_is_one_sixth():
    _, y = adding_problem(20000, 30, seed=0)
    mse = np.mean((y - y.mean()) ** 2)
    # Var(U1 + U2) = 1/6; the SE of the estimate is sqrt(7/180 / 20000) ≈ 0.0014.
    assert abs(mse - 1 / 6) < 0.01
    assert abs(y.mean() - 1.0) < 0.02


def test_adding_problem_determinism():
    a = adding_problem(64, 12, seed=9)
    assert _same(a, adding_problem(64, 12, seed=9))
    b = adding_problem(64, 12, seed=10)
    assert not np.array_equal(a[0], b[0]) and not np.array_equal(a[1], b[1])


# ---------------------------------------------------------------- copy task


@pytest.mark.parametrize(("T", "n_symbols", "delay"), [(10, 8, None), (3, 2, 0), (1, 1, 5)])
def test_copy_task_layout(T, n_symbols, delay):
    n = 200
    X, y = copy_task(n, T, n_symbols=n_symbols, delay=delay, seed=2)
    d = 10 if delay is None else delay
    total = 2 * T + d + 1
    assert X.shape == (n, total, n_symbols + 2) and y.shape == (n, total)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.all(X.sum(axis=2) == 1.0) and set(np.unique(X)) == {0.0, 1.0}
    tokens = X.argmax(axis=2)
    symbols = tokens[:, :T]
    assert np.all((symbols >= 1) & (symbols <= n_symbols))
    assert np.all(tokens[:, T : T + d] == 0)  # delay blanks
    assert np.all(tokens[:, T + d] == n_symbols + 1)  # delimiter
    assert np.all(tokens[:, T + d + 1 :] == 0)  # blanks while recalling
    assert np.all(y[:, : total - T] == 0)  # targets blank except the last T
    assert np.array_equal(y[:, total - T :], symbols)  # ... which repeat the input


def test_copy_task_uses_every_symbol_and_is_deterministic():
    X, y = copy_task(300, 10, n_symbols=8, seed=0)
    assert np.array_equal(np.unique(y[:, -10:]), np.arange(1, 9))
    assert _same((X, y), copy_task(300, 10, n_symbols=8, seed=0))
    assert not np.array_equal(y, copy_task(300, 10, n_symbols=8, seed=1)[1])


# ---------------------------------------------------------------- train_test_split


def test_split_sizes_partition_and_determinism():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    Xtr, ytr, Xte, yte = train_test_split(X, y, test_size=0.25, seed=0)
    assert Xtr.shape == (15, 2) and Xte.shape == (5, 2)
    assert ytr.shape == (15,) and yte.shape == (5,)
    assert Xtr.dtype == X.dtype and ytr.dtype == y.dtype
    assert np.array_equal(Xtr[:, 0] // 2, ytr) and np.array_equal(Xte[:, 0] // 2, yte)
    assert np.array_equal(np.sort(np.r_[ytr, yte]), y)
    assert _same((Xtr, ytr, Xte, yte), train_test_split(X, y, test_size=0.25, seed=0))
    assert not np.array_equal(yte, train_test_split(X, y, test_size=0.25, seed=1)[3])
    assert len(train_test_split(X, y, test_size=7)[3]) == 7
    assert len(train_test_split(X, y, test_size=0.01)[3]) == 1  # rounded up


def test_split_stratified_preserves_class_proportions():
    counts = np.array([500, 300, 150, 50])
    y = np.repeat(np.arange(4), counts)
    X = np.arange(len(y), dtype=np.float64)[:, None]
    _, ytr, _, yte = train_test_split(X, y, test_size=0.3, seed=4, stratify=True)
    assert len(yte) == 300 and len(ytr) == 700
    np.testing.assert_array_equal(np.bincount(yte), counts * 3 // 10)
    np.testing.assert_array_equal(np.bincount(ytr), counts - counts * 3 // 10)
    # Rows are shuffled, not grouped by class.
    assert np.any(np.diff(yte) < 0)


def test_split_stratified_uneven_shares_within_one():
    counts = np.array([7, 5, 3, 2])
    y = np.repeat(np.array(["a", "b", "c", "d"]), counts)
    _, _, _, yte = train_test_split(np.zeros((len(y), 3)), y, test_size=5, stratify=True)
    assert len(yte) == 5
    got = np.array([(yte == c).sum() for c in "abcd"])
    assert np.all(np.abs(got - counts * 5 / counts.sum()) < 1)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"test_size": 0.0}, ValueError, r"test_size as a fraction must be in \(0, 1\), got 0.0"),
        ({"test_size": 1.5}, ValueError, r"test_size as a fraction .* got 1.5"),
        ({"test_size": 10}, ValueError, r"test_size as a count must be in \[1, 9\].* got 10"),
        ({"test_size": True}, TypeError, "test_size must be .* got bool"),
        ({"test_size": "0.2"}, TypeError, "test_size must be .* got str"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0, got -1"),
        ({"stratify": 1}, TypeError, "stratify must be True or False, got int"),
    ],
)
def test_split_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_test_split(np.zeros((10, 2)), np.arange(10) % 2, **kwargs)


def test_split_bad_data():
    with pytest.raises(ValueError, match=r"same length .* got 10 and 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="at least 2 examples to split, got 1"):
        train_test_split(np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(ValueError, match="at least 2 examples per class, class 2 has 1"):
        train_test_split(np.zeros((5, 1)), [0, 0, 1, 1, 2], test_size=2, stratify=True)
    with pytest.raises(ValueError, match="1-D class labels"):
        train_test_split(np.zeros((4, 1)), np.zeros((4, 2)), test_size=2, stratify=True)


# ---------------------------------------------------------------- batches


def test_batches_cover_everything_once_with_partial_last():
    X = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23)
    got = list(batches(X, y, 5, shuffle=True, seed=3))
    assert [len(yb) for _, yb in got] == [5, 5, 5, 5, 3]
    ys = np.concatenate([yb for _, yb in got])
    assert np.array_equal(np.sort(ys), y) and not np.array_equal(ys, y)
    for Xb, yb in got:
        assert np.array_equal(Xb[:, 0] // 2, yb)
    again = np.concatenate([yb for _, yb in batches(X, y, 5, seed=3)])
    assert np.array_equal(ys, again)
    other = np.concatenate([yb for _, yb in batches(X, y, 5, seed=4)])
    assert not np.array_equal(ys, other)


def test_batches_in_order_are_views():
    X = np.arange(10.0).reshape(5, 2)
    y = np.arange(5)
    got = list(batches(X, y, 2, shuffle=False))
    assert [yb.tolist() for _, yb in got] == [[0, 1], [2, 3], [4]]
    assert all(np.shares_memory(Xb, X) for Xb, _ in got)
    assert list(batches(np.zeros((0, 3)), np.zeros(0), 4)) == []


def test_batches_validate_on_call_not_on_iteration():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        batches(np.zeros((4, 1)), np.zeros(4), 0)
    with pytest.raises(TypeError, match="batch_size must be an integer >= 1, got float"):
        batches(np.zeros((4, 1)), np.zeros(4), 2.0)
    with pytest.raises(ValueError, match=r"same length .* got 4 and 3"):
        batches(np.zeros((4, 1)), np.zeros(3), 2)
    with pytest.raises(TypeError, match="shuffle must be True or False, got str"):
        batches(np.zeros((4, 1)), np.zeros(4), 2, shuffle="yes")


# ---------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: spirals(n_per_class=0), ValueError, "n_per_class must be an integer >= 1, got 0"),
        (lambda: spirals(classes=2.5), TypeError, "classes must be an integer >= 1, got float"),
        (lambda: spirals(noise=-0.1), ValueError, r"noise must be a finite .* >= 0.0, got -0.1"),
        (lambda: spirals(seed=None), TypeError, "seed must be an integer >= 0, got NoneType"),
        (lambda: teacher_student(0, 3), ValueError, "n must be an integer >= 1, got 0"),
        (lambda: teacher_student(5, True), TypeError, "in_features must be an integer >= 1"),
        (lambda: teacher_student(5, 3, hidden=32), TypeError, "hidden must be a sequence .* int"),
        (lambda: teacher_student(5, 3, hidden=(4, 0)), ValueError, r"hidden\[1\] must be .* 0"),
        (
            lambda: teacher_student(5, 3, activation="swish"),
            ValueError,
            "activation must be one of",
        ),
        (lambda: teacher_student(5, 3, noise=np.nan), ValueError, "noise must be .* got nan"),
        (lambda: adding_problem(10, 1), ValueError, "T must be an integer >= 2, got 1"),
        (lambda: adding_problem(0, 5), ValueError, "n must be an integer >= 1, got 0"),
        (lambda: copy_task(10, 0), ValueError, "T must be an integer >= 1, got 0"),
        (lambda: copy_task(10, 5, n_symbols=0), ValueError, "n_symbols must be .* got 0"),
        (lambda: copy_task(10, 5, delay=-1), ValueError, "delay must be an integer >= 0, got -1"),
        (lambda: copy_task(10, 5, seed=1.0), TypeError, "seed must be an integer >= 0, got float"),
        (lambda: data.mnist1d(n=55), ValueError, r"n must be a positive multiple of 10 .* got 55"),
        (lambda: data.mnist1d(n=5), ValueError, "n must be an integer >= 10, got 5"),
        (
            lambda: data.mnist1d(train_split=1.0),
            ValueError,
            r"train_split must be .* in \(0.0, 1.0\)",
        ),
        (lambda: data.mnist1d(n=10, train_split=0.05), ValueError, "train_split must leave both"),
        (lambda: data.digits(scale=1), TypeError, "scale must be True or False, got int"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_numpy_integers_are_accepted():
    X, _ = adding_problem(np.int64(4), np.int32(6), seed=np.uint8(1))
    assert X.shape == (4, 6, 2)


# ---------------------------------------------------------------- real datasets


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_mnist1d_shapes_dtypes_and_determinism(no_network, tmp_path, monkeypatch):
    pytest.importorskip("mnist1d")
    monkeypatch.chdir(tmp_path)  # the package's own get_dataset would write a pickle here
    Xtr, ytr, Xte, yte = data.mnist1d(n=500, seed=1)
    assert Xtr.shape == (400, 40) and Xte.shape == (100, 40)
    assert ytr.shape == (400,) and yte.shape == (100,)
    assert Xtr.dtype == np.float64 and Xte.dtype == np.float64
    assert ytr.dtype == np.int64 and yte.dtype == np.int64
    assert np.array_equal(np.unique(np.r_[ytr, yte]), np.arange(10))
    assert np.array_equal(np.bincount(np.r_[ytr, yte]), np.full(10, 50))
    assert np.all(np.isfinite(Xtr))
    assert _same((Xtr, ytr, Xte, yte), data.mnist1d(n=500, seed=1))
    assert not np.array_equal(Xtr, data.mnist1d(n=500, seed=2)[0])
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_mnist1d_default_size(no_network):
    pytest.importorskip("mnist1d")
    Xtr, ytr, Xte, yte = data.mnist1d()
    assert Xtr.shape == (4000, 40) and Xte.shape == (1000, 40)
    assert len(np.unique(ytr)) == 10 and len(np.unique(yte)) == 10


def test_mnist1d_leaves_global_random_state_alone():
    pytest.importorskip("mnist1d")
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what is under test
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    data.mnist1d(n=100, seed=7)
    assert np.random.rand() == expected_np  # noqa: NPY002
    assert random.random() == expected_py


def test_digits_shapes_scaling_and_stratification(no_network):
    pytest.importorskip("sklearn")
    Xtr, ytr, Xte, yte = data.digits()
    assert len(Xtr) + len(Xte) == 1797 and len(Xte) == 450
    assert Xtr.shape[1] == 64 and Xte.shape[1] == 64
    assert Xtr.dtype == np.float64 and ytr.dtype == np.int64 and yte.dtype == np.int64
    X = np.r_[Xtr, Xte]
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.allclose(X * 16, np.round(X * 16))
    total = np.bincount(np.r_[ytr, yte], minlength=10)
    assert np.all(np.abs(np.bincount(yte, minlength=10) - total * 450 / 1797) < 1)
    assert _same((Xtr, ytr, Xte, yte), data.digits())
    assert not np.array_equal(ytr, data.digits(seed=1)[1])
    raw = data.digits(scale=False)[0]
    assert raw.max() == 16.0 and raw.dtype == np.float64


def test_missing_optional_packages_give_install_hint(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "gradcore\[data\]"'):
        data.mnist1d(n=100)
    with pytest.raises(ImportError, match=r'pip install "gradcore\[data\]"'):
        data.digits()
