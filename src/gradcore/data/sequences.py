"""Long-range memory benchmarks for recurrent nets: the adding problem and the copy task.

Both are classic tests of whether gradient survives many time steps: the information that
decides the target sits at the start (or at two random places) of a long sequence.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int, check_seed

__all__ = ["adding_problem", "copy_task"]


def adding_problem(n: int, T: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997; as in Le, Jaitly & Hinton 2015).

    Each example is a sequence of ``T`` steps with two input channels:

    - channel 0: numbers drawn uniformly from ``[0, 1)``;
    - channel 1: a marker, 0 everywhere except exactly two 1s, one at a uniformly random step
      of the first half ``[0, T//2)`` and one in the second half ``[T//2, T)`` (for odd ``T``
      the second half is one step longer).

    The target is the sum of the two marked numbers, in ``[0, 2)``. Predicting the constant
    1 (the mean) has expected MSE ``Var(U1 + U2) = 2/12 = 1/6 ≈ 0.167``: a model beats that
    only once it carries information across up to ``T`` steps.

    Parameters
    ----------
    n : int >= 1
        Number of sequences.
    T : int >= 2
        Sequence length.
    seed : int >= 0

    Returns
    -------
    X : ndarray, float64, shape ``[n, T, 2]`` (batch-first, like ``gc.nn.LSTM``)
    y : ndarray, float64, shape ``[n, 1]``; ``y[i, 0]`` is exactly
        ``X[i, a, 0] + X[i, b, 0]`` where ``a < b`` are the marked steps.
    """
    owner = "adding_problem"
    n = check_int("n", n, 1, owner)
    T = check_int("T", T, 2, owner)
    rng = np.random.default_rng(check_seed(seed, owner=owner))
    half = T // 2
    values = rng.random((n, T))
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    rows = np.arange(n)
    X = np.zeros((n, T, 2))
    X[:, :, 0] = values
    X[rows, first, 1] = 1.0
    X[rows, second, 1] = 1.0
    y = (values[rows, first] + values[rows, second])[:, None]
    return X, y


def copy_task(
    n: int, T: int, n_symbols: int = 8, delay: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The copy memory task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

    Alphabet of ``n_symbols + 2`` tokens: ``0`` = blank, ``1 .. n_symbols`` = data symbols,
    ``n_symbols + 1`` = delimiter ("now repeat"). Each sequence has
    ``T_total = 2*T + delay + 1`` steps laid out as::

        step:    0 .. T-1  |  T .. T+delay-1  |  T+delay    |  T+delay+1 .. T_total-1
        input:   s_1..s_T  |  blank (0)       |  delimiter  |  blank (0)
        target:  blank (0) |  blank (0)       |  blank (0)  |  s_1..s_T

    where ``s_1..s_T`` are drawn uniformly from ``1 .. n_symbols``. The model must output
    blank until the delimiter, then reproduce the sequence: it has to remember ``T`` symbols
    for ``delay + T + 1`` steps. Always outputting blank until the last ``T`` steps and then a
    random symbol scores a cross-entropy of ``T log(n_symbols) / T_total`` per step, the usual
    baseline.

    Arjovsky et al.'s "copy with delay T_A" (10 symbols from 8, ``T_A + 20`` steps in all) is
    ``copy_task(n, T=10, n_symbols=8, delay=T_A - 1)``.

    Parameters
    ----------
    n : int >= 1
        Number of sequences.
    T : int >= 1
        Length of the sequence to copy.
    n_symbols : int >= 1
        Number of data symbols.
    delay : int >= 0 or None
        Blank steps between the sequence and the delimiter; ``None`` means 10.
    seed : int >= 0

    Returns
    -------
    X : ndarray, float64, shape ``[n, T_total, n_symbols + 2]``
        One-hot inputs (batch-first); exactly one 1 per step.
    y : ndarray, int64, shape ``[n, T_total]``
        Target token per step (integer labels for softmax cross-entropy).
    """
    owner = "copy_task"
    n = check_int("n", n, 1, owner)
    T = check_int("T", T, 1, owner)
    n_symbols = check_int("n_symbols", n_symbols, 1, owner)
    delay = 10 if delay is None else check_int("delay", delay, 0, owner)
    rng = np.random.default_rng(check_seed(seed, owner=owner))
    total = 2 * T + delay + 1
    symbols = rng.integers(1, n_symbols + 1, size=(n, T))
    tokens = np.zeros((n, total), dtype=np.int64)
    tokens[:, :T] = symbols
    tokens[:, T + delay] = n_symbols + 1
    y = np.zeros((n, total), dtype=np.int64)
    y[:, total - T :] = symbols
    X = np.zeros((n, total, n_symbols + 2))
    np.put_along_axis(X, tokens[:, :, None], 1.0, axis=2)
    return X, y
