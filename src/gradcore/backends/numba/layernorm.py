"""Layer normalization over the last axis of ``[N, C]`` (numba backend).

Contract and formulas: ``backends/reference/layernorm.py`` (torch ``LayerNorm``). One row at a
time: mean pass, variance pass (two-pass), normalize pass, all in float64, rounded once to the
data dtype. Backward: per row the two sums of ``g = dy gamma``, then ``dx``; ``dgamma``/``dbeta``
accumulate over rows in float64.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_layernorm_forward, check_norm_backward
from ._jit import InOut, c, jit

__all__ = ["layernorm_backward", "layernorm_forward"]


@jit()
def _forward_kernel(x, gamma, beta, eps, y, mean, inv_std):
    N, C = x.shape
    for n in range(N):
        mu = 0.0
        for j in range(C):
            mu += np.float64(x[n, j])
        mu = mu / C
        var = 0.0
        for j in range(C):
            d = np.float64(x[n, j]) - mu
            var += d * d
        var = var / C
        istd = 1.0 / np.sqrt(var + eps)
        for j in range(C):
            xhat = (np.float64(x[n, j]) - mu) * istd
            y[n, j] = np.float64(gamma[j]) * xhat + np.float64(beta[j])
        mean[n] = mu
        inv_std[n] = istd


@jit()
def _backward_kernel(dy, x, gamma, mean, inv_std, dx, dgamma64, dbeta64):
    N, C = x.shape
    for n in range(N):
        mu = np.float64(mean[n])
        istd = np.float64(inv_std[n])
        sum_g = 0.0
        sum_g_xhat = 0.0
        for j in range(C):
            xhat = (np.float64(x[n, j]) - mu) * istd
            d = np.float64(dy[n, j])
            dbeta64[j] += d
            dgamma64[j] += d * xhat
            g = d * np.float64(gamma[j])  # dL/dxhat
            sum_g += g
            sum_g_xhat += g * xhat
        for j in range(C):
            xhat = (np.float64(x[n, j]) - mu) * istd
            g = np.float64(dy[n, j]) * np.float64(gamma[j])
            dx[n, j] = istd / C * (C * g - sum_g - xhat * sum_g_xhat)


def layernorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    y: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
) -> None:
    """``y = gamma (x - mean) inv_std + beta`` per row. See the reference."""
    check_layernorm_forward(x, gamma, beta, y, mean, inv_std)
    bufs = [InOut(a, copy=False) for a in (y, mean, inv_std)]
    _forward_kernel(c(x), c(gamma), c(beta), float(eps), *(b.buf for b in bufs))
    for b in bufs:
        b.done()


def layernorm_backward(
    dy: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
    dx: np.ndarray,
    dgamma: np.ndarray,
    dbeta: np.ndarray,
) -> None:
    """Gradients of :func:`layernorm_forward`; ``dx`` overwritten, ``dgamma``/``dbeta``
    accumulate. See the reference."""
    _, C, dt = check_norm_backward(
        "layernorm_backward", dy, x, gamma, mean, inv_std, dx, dgamma, dbeta
    )
    dgamma64 = np.zeros(C, np.float64)
    dbeta64 = np.zeros(C, np.float64)
    xo = InOut(dx, copy=False)
    _backward_kernel(c(dy), c(x), c(gamma), c(mean), c(inv_std), xo.buf, dgamma64, dbeta64)
    xo.done()
    dbeta += dbeta64.astype(dt)
    dgamma += dgamma64.astype(dt)
