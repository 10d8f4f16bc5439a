"""Splitting and batching arrays: ``train_test_split`` and ``batches`` (NumPy only)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np

from ._checks import as_examples, check_bool, check_int, check_seed

__all__ = ["batches", "train_test_split"]


def _as_pair(X: object, y: object, owner: str) -> tuple[np.ndarray, np.ndarray]:
    X = as_examples("X", X, owner)
    y = as_examples("y", y, owner)
    if len(X) != len(y):
        raise ValueError(
            f"{owner}: X and y must have the same length (first axis), got {len(X)} and {len(y)}"
        )
    return X, y


def _n_test(test_size: object, n: int, owner: str = "train_test_split") -> int:
    if isinstance(test_size, bool | np.bool_):
        raise TypeError(f"{owner}: test_size must be a float in (0, 1) or an int count, got bool")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n - 1:
            raise ValueError(
                f"{owner}: test_size as a count must be in [1, {n - 1}] for {n} examples, "
                f"got {test_size}"
            )
        return int(test_size)
    if isinstance(test_size, numbers.Real):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"{owner}: test_size as a fraction must be in (0, 1), got {test_size}")
        k = math.ceil(float(test_size) * n)
        if not 1 <= k <= n - 1:
            raise ValueError(
                f"{owner}: test_size={test_size} of {n} examples gives {k} test examples; "
                f"both splits must be non-empty"
            )
        return k
    raise TypeError(
        f"{owner}: test_size must be a float in (0, 1) or an int count, got "
        f"{type(test_size).__name__}"
    )


def _stratified_counts(counts: np.ndarray, n_test: int) -> np.ndarray:
    """Test examples per class: floor of the proportional share, the remainder by largest
    fractional part (ties to the lower class index). Total exactly ``n_test``; each class
    within 1 of ``n_test * n_c / n``."""
    n = int(counts.sum())
    exact = counts * n_test / n
    k = np.floor(exact).astype(np.int64)
    short = n_test - int(k.sum())
    order = np.argsort(-(exact - k), kind="stable")
    k[order[:short]] += 1
    return k


def train_test_split(
    X: object,
    y: object,
    test_size: float | int = 0.25,
    seed: int = 0,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split examples (first axis) into a training and a test set.

    Note the return order ``X_train, y_train, X_test, y_test`` (scikit-learn's
    ``train_test_split`` returns ``X_train, X_test, y_train, y_test``).

    Parameters
    ----------
    X : array_like, shape ``[n, ...]``, any dtype
    y : array_like, shape ``[n, ...]``, any dtype; with ``stratify=True``, 1-D class labels.
    test_size : float in (0, 1) or int in [1, n-1]
        Fraction of the examples for the test set (rounded up, as scikit-learn does), or
        their count.
    seed : int >= 0
        Seed of the shuffle; same seed, same split.
    stratify : bool
        Keep each class's share of ``y`` in both splits: a class with ``n_c`` examples puts
        within 1 of ``n_test * n_c / n`` of them in the test set (total exactly ``n_test``).
        Every class needs at least 2 examples.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        New arrays (copies) with the dtypes of ``X`` and ``y``, rows in shuffled order;
        ``len(X_test) == n_test`` and ``len(X_train) == n - n_test``.
    """
    owner = "train_test_split"
    X, y = _as_pair(X, y, owner)
    n = len(X)
    if n < 2:
        raise ValueError(f"{owner}: X must hold at least 2 examples to split, got {n}")
    n_test = _n_test(test_size, n, owner)
    stratify = check_bool("stratify", stratify, owner=owner)
    rng = np.random.default_rng(check_seed(seed, owner=owner))
    if not stratify:
        perm = rng.permutation(n)
        test, train = perm[:n_test], perm[n_test:]
    else:
        if y.ndim != 1:
            raise ValueError(
                f"{owner}: stratify=True needs 1-D class labels y, got y.shape={y.shape}"
            )
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        if counts.min() < 2:
            bad = classes[np.argmin(counts)].item()
            raise ValueError(
                f"{owner}: stratify=True needs at least 2 examples per class, class {bad!r} has "
                f"{counts.min()}"
            )
        k = _stratified_counts(counts, n_test)
        test_parts, train_parts = [], []
        for c in range(len(classes)):
            members = rng.permutation(np.flatnonzero(inverse == c))
            test_parts.append(members[: k[c]])
            train_parts.append(members[k[c] :])
        test = rng.permutation(np.concatenate(test_parts))
        train = rng.permutation(np.concatenate(train_parts))
    return X[train], y[train], X[test], y[test]


def batches(
    X: object, y: object, batch_size: int, shuffle: bool = True, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over ``(X_batch, y_batch)`` minibatches, one pass over the data.

    Arguments are checked when ``batches`` is called, not at the first ``next()``.

    Parameters
    ----------
    X : array_like, shape ``[n, ...]``
    y : array_like, shape ``[n, ...]``
    batch_size : int >= 1
        Rows per batch; the last batch holds the ``n % batch_size`` leftover rows, if any.
    shuffle : bool
        Visit rows in a random order drawn from ``seed`` (batches are then copies); if False,
        in order (batches are views of ``np.asarray(X)`` and ``np.asarray(y)``). Same seed,
        same order: pass e.g. ``seed=epoch`` for a new order each epoch.
    seed : int >= 0

    Yields
    ------
    X_batch : ndarray, shape ``[b, ...]``, dtype of ``X``
    y_batch : ndarray, shape ``[b, ...]``, dtype of ``y``
        With ``b = batch_size`` except possibly for the last batch; ``ceil(n / batch_size)``
        batches in all (none if ``n == 0``).
    """
    owner = "batches"
    X, y = _as_pair(X, y, owner)
    batch_size = check_int("batch_size", batch_size, 1, owner)
    shuffle = check_bool("shuffle", shuffle, owner=owner)
    seed = check_seed(seed, owner=owner)
    order = np.random.default_rng(seed).permutation(len(X)) if shuffle else None
    return _iterate(X, y, batch_size, order)


def _iterate(
    X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, len(X), batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]
