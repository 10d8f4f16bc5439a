"""Batch normalization over the features of ``[N, C]``: the C kernels (``kernels/batchnorm.c``).

Same signatures and semantics as :mod:`gradcore.backends.reference.batchnorm` (torch
``BatchNorm1d``; contract ``docs/kernels.md``). Statistics and sums accumulate in float64;
the elementwise normalisation runs in the data dtype. Threads split the rows above
``GC_PARALLEL_MIN`` elements.
"""

from __future__ import annotations

import numpy as np

from gradcore import _kernels

__all__ = ["batchnorm_backward", "batchnorm_forward_eval", "batchnorm_forward_train"]


def batchnorm_forward_train(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    momentum: float,
    eps: float,
    y: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
) -> None:
    """Training-mode forward; see :func:`gradcore.backends.reference.batchnorm_forward_train`."""
    _kernels.batchnorm_forward_train(
        x, gamma, beta, running_mean, running_var, momentum, eps, y, mean, inv_std
    )


def batchnorm_forward_eval(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
    y: np.ndarray,
) -> None:
    """Eval-mode forward; see :func:`gradcore.backends.reference.batchnorm_forward_eval`."""
    _kernels.batchnorm_forward_eval(x, gamma, beta, running_mean, running_var, eps, y)


def batchnorm_backward(
    dy: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
    dx: np.ndarray,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
) -> None:
    """Backward (dx overwritten, dgamma/dbeta accumulate); see the reference."""
    _kernels.batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
