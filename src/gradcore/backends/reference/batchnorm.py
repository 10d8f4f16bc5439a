"""Batch normalization over the features of ``[N, C]`` (reference backend).

Semantics of ``torch.nn.BatchNorm1d`` (contract: ``docs/kernels.md``, family ``batchnorm``).
For each feature ``c``, over the batch ``n = 1..N``::

    mean    = (1/N) sum_n x[n,c]
    var     = (1/N) sum_n (x[n,c] - mean)^2            biased: used to normalize
    inv_std = 1 / sqrt(var + eps)
    xhat    = (x - mean) inv_std
    y       = gamma xhat + beta
    running_mean <- (1 - momentum) running_mean + momentum mean
    running_var  <- (1 - momentum) running_var  + momentum var N/(N-1)   (unbiased)

Local derivatives (closed form, ``sum`` over the batch)::

    dbeta  += sum_n dy
    dgamma += sum_n dy xhat
    dx      = gamma inv_std / N (N dy - sum_n dy - xhat sum_n(dy xhat))

All floating arrays of one call share one dtype (float32 or float64). The statistics, the
sums of the backward pass and the normalization itself are computed in float64 and the
results cast to the data dtype (``mean``/``inv_std``/``y``/``dx`` written in that dtype).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_batchnorm_eval, check_batchnorm_train, check_norm_backward

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
    """Training-mode forward: normalize with batch statistics, update the running ones.

    Parameters
    ----------
    x : ndarray [N, C], float32 or float64, N >= 2.
    gamma, beta : ndarray [C], scale and shift.
    running_mean, running_var : ndarray [C], updated IN PLACE
        (``r = (1 - momentum) r + momentum stat``, ``running_var`` gets the unbiased variance).
    momentum : float, weight of the new batch (torch's default 0.1).
    eps : float, added to the variance (torch's default 1e-5).
    y : ndarray [N, C], written: ``gamma (x - mean) inv_std + beta``.
    mean, inv_std : ndarray [C], written: batch mean and ``1/sqrt(var + eps)`` (biased var),
        saved for :func:`batchnorm_backward`.

    Raises ``ValueError`` if N < 2 (as torch: the unbiased variance needs two values).
    """
    N, _, _ = check_batchnorm_train(x, gamma, beta, running_mean, running_var, y, mean, inv_std)
    x64 = x.astype(np.float64)
    mu = np.sum(x64, axis=0) / N  # mean over the batch
    var = np.sum((x64 - mu) ** 2, axis=0) / N  # biased variance (two-pass)
    istd = 1.0 / np.sqrt(var + eps)
    xhat = (x64 - mu) * istd
    y[...] = gamma.astype(np.float64) * xhat + beta
    mean[...] = mu
    inv_std[...] = istd
    unbiased = var * (N / (N - 1))
    running_mean[...] = (1.0 - momentum) * running_mean.astype(np.float64) + momentum * mu
    running_var[...] = (1.0 - momentum) * running_var.astype(np.float64) + momentum * unbiased


def batchnorm_forward_eval(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
    y: np.ndarray,
) -> None:
    """Eval-mode forward: ``y = gamma (x - running_mean) / sqrt(running_var + eps) + beta``.

    Parameters
    ----------
    x : ndarray [N, C] (any N >= 0), float32 or float64.
    gamma, beta, running_mean, running_var : ndarray [C].
    eps : float.
    y : ndarray [N, C], written.
    """
    check_batchnorm_eval(x, gamma, beta, running_mean, running_var, y)
    istd = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    y[...] = gamma.astype(np.float64) * (x.astype(np.float64) - running_mean) * istd + beta


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
    """Backward of the training-mode forward (batch statistics).

    ``xhat = (x - mean) inv_std``; ``dbeta += sum_n dy``; ``dgamma += sum_n dy xhat``;
    ``dx = gamma inv_std / N (N dy - sum_n dy - xhat sum_n(dy xhat))``.

    Parameters
    ----------
    dy, x : ndarray [N, C].
    gamma : ndarray [C].
    mean, inv_std : ndarray [C], as saved by :func:`batchnorm_forward_train`.
    dx : ndarray [N, C], OVERWRITTEN.
    dgamma, dbeta : ndarray [C], ACCUMULATE (sums in float64, cast to the dtype, then added).
    """
    N, _, _ = check_norm_backward(
        "batchnorm_backward", dy, x, gamma, mean, inv_std, dx, dgamma, dbeta
    )
    xhat = (x.astype(np.float64) - mean) * inv_std.astype(np.float64)
    dy64 = dy.astype(np.float64)
    sum_dy = np.sum(dy64, axis=0)  # sum_n dy
    sum_dy_xhat = np.sum(dy64 * xhat, axis=0)  # sum_n dy xhat
    dbeta += sum_dy.astype(dbeta.dtype)
    dgamma += sum_dy_xhat.astype(dgamma.dtype)
    if N == 0:
        return
    scale = gamma.astype(np.float64) * inv_std / N
    dx[...] = scale * (N * dy64 - sum_dy - xhat * sum_dy_xhat)
