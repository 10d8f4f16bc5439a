"""Batch normalization over the features of ``[N, C]`` (numba backend).

Contract and formulas: ``backends/reference/batchnorm.py`` (torch ``BatchNorm1d``). Row-major
passes over ``x`` with per-feature float64 accumulators: training forward = mean pass,
variance pass (two-pass variance, as the reference), normalize pass; backward = one pass for
the two sums, one for ``dx``. All statistics and the normalization run in float64 and are
rounded once to the data dtype.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_batchnorm_eval, check_batchnorm_train, check_norm_backward
from ._jit import InOut, c, jit

__all__ = ["batchnorm_backward", "batchnorm_forward_eval", "batchnorm_forward_train"]


@jit()
def _train_kernel(x, gamma, beta, rmean, rvar, momentum, eps, y, mean, inv_std):
    N, C = x.shape
    mu = np.zeros(C, np.float64)
    var = np.zeros(C, np.float64)
    for n in range(N):
        for j in range(C):
            mu[j] += np.float64(x[n, j])
    for j in range(C):
        mu[j] = mu[j] / N
    for n in range(N):
        for j in range(C):
            d = np.float64(x[n, j]) - mu[j]
            var[j] += d * d
    istd = np.empty(C, np.float64)
    for j in range(C):
        var[j] = var[j] / N  # biased: normalizes
        istd[j] = 1.0 / np.sqrt(var[j] + eps)
    for n in range(N):
        for j in range(C):
            xhat = (np.float64(x[n, j]) - mu[j]) * istd[j]
            y[n, j] = np.float64(gamma[j]) * xhat + np.float64(beta[j])
    for j in range(C):
        mean[j] = mu[j]
        inv_std[j] = istd[j]
        unbiased = var[j] * (N / (N - 1))
        rmean[j] = (1.0 - momentum) * np.float64(rmean[j]) + momentum * mu[j]
        rvar[j] = (1.0 - momentum) * np.float64(rvar[j]) + momentum * unbiased


@jit()
def _eval_kernel(x, gamma, beta, rmean, rvar, eps, y):
    N, C = x.shape
    istd = np.empty(C, np.float64)
    for j in range(C):
        istd[j] = 1.0 / np.sqrt(np.float64(rvar[j]) + eps)
    for n in range(N):
        for j in range(C):
            v = np.float64(gamma[j]) * (np.float64(x[n, j]) - np.float64(rmean[j])) * istd[j]
            y[n, j] = v + np.float64(beta[j])


@jit()
def _backward_kernel(dy, x, gamma, mean, inv_std, dx, sum_dy, sum_dy_xhat):
    # sums in float64 (written to sum_dy, sum_dy_xhat), then dx
    N, C = x.shape
    for n in range(N):
        for j in range(C):
            xhat = (np.float64(x[n, j]) - np.float64(mean[j])) * np.float64(inv_std[j])
            d = np.float64(dy[n, j])
            sum_dy[j] += d
            sum_dy_xhat[j] += d * xhat
    if N == 0:
        return
    for n in range(N):
        for j in range(C):
            xhat = (np.float64(x[n, j]) - np.float64(mean[j])) * np.float64(inv_std[j])
            scale = np.float64(gamma[j]) * np.float64(inv_std[j]) / N
            dx[n, j] = scale * (N * np.float64(dy[n, j]) - sum_dy[j] - xhat * sum_dy_xhat[j])


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
    """Training forward (batch statistics; running stats updated in place). See the reference."""
    check_batchnorm_train(x, gamma, beta, running_mean, running_var, y, mean, inv_std)
    bufs = [InOut(a) for a in (running_mean, running_var, y, mean, inv_std)]
    rm, rv, yb, mb, sb = (b.buf for b in bufs)
    _train_kernel(c(x), c(gamma), c(beta), rm, rv, float(momentum), float(eps), yb, mb, sb)
    for b in bufs:
        b.done()


def batchnorm_forward_eval(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float,
    y: np.ndarray,
) -> None:
    """Eval forward with the running statistics. See the reference."""
    check_batchnorm_eval(x, gamma, beta, running_mean, running_var, y)
    yo = InOut(y, copy=False)
    _eval_kernel(c(x), c(gamma), c(beta), c(running_mean), c(running_var), float(eps), yo.buf)
    yo.done()


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
    """Backward of the training forward; ``dx`` overwritten, ``dgamma``/``dbeta`` accumulate.
    See the reference."""
    _, C, dt = check_norm_backward(
        "batchnorm_backward", dy, x, gamma, mean, inv_std, dx, dgamma, dbeta
    )
    sum_dy = np.zeros(C, np.float64)
    sum_dy_xhat = np.zeros(C, np.float64)
    xo = InOut(dx, copy=False)
    _backward_kernel(c(dy), c(x), c(gamma), c(mean), c(inv_std), xo.buf, sum_dy, sum_dy_xhat)
    xo.done()
    dbeta += sum_dy.astype(dt)
    dgamma += sum_dy_xhat.astype(dt)
