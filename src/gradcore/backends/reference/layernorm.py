"""Layer normalization over the last axis of ``[N, C]`` (reference backend).

Semantics of ``torch.nn.LayerNorm(C)`` / ``F.layer_norm(x, (C,), gamma, beta, eps)``
(contract: ``docs/kernels.md``, family ``layernorm``). For each row ``n``, over ``c = 1..C``::

    mean[n]    = (1/C) sum_c x[n,c]
    var[n]     = (1/C) sum_c (x[n,c] - mean[n])^2        biased, as torch
    inv_std[n] = 1 / sqrt(var[n] + eps)
    xhat       = (x - mean) inv_std
    y          = gamma xhat + beta                        gamma, beta: [C]

Local derivatives (``g = dy gamma`` is the gradient w.r.t. ``xhat``; sums over the row)::

    dbeta  += sum_n dy
    dgamma += sum_n dy xhat
    dx      = inv_std / C (C g - sum_c g - xhat sum_c(g xhat))

All floating arrays of one call share one dtype (float32 or float64). Statistics, sums and the
normalization are computed in float64 and the results cast to the data dtype.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_layernorm_forward, check_norm_backward

__all__ = ["layernorm_backward", "layernorm_forward"]


def layernorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    y: np.ndarray,
    mean: np.ndarray,
    inv_std: np.ndarray,
) -> None:
    """``y = gamma (x - mean) inv_std + beta``, statistics per row over the last axis.

    Parameters
    ----------
    x : ndarray [N, C], float32 or float64, C >= 1.
    gamma, beta : ndarray [C].
    eps : float, added to the biased variance (torch's default 1e-5).
    y : ndarray [N, C], written.
    mean, inv_std : ndarray [N], written: row mean and ``1/sqrt(var + eps)``, saved for
        :func:`layernorm_backward`.
    """
    _, C, _ = check_layernorm_forward(x, gamma, beta, y, mean, inv_std)
    x64 = x.astype(np.float64)
    mu = np.sum(x64, axis=1, keepdims=True) / C  # row mean
    var = np.sum((x64 - mu) ** 2, axis=1, keepdims=True) / C  # biased row variance (two-pass)
    istd = 1.0 / np.sqrt(var + eps)
    xhat = (x64 - mu) * istd
    y[...] = gamma.astype(np.float64) * xhat + beta
    mean[...] = mu[:, 0]
    inv_std[...] = istd[:, 0]


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
    """Gradients of :func:`layernorm_forward`.

    With ``xhat = (x - mean) inv_std`` and ``g = dy gamma``:
    ``dbeta += sum_n dy``; ``dgamma += sum_n dy xhat``;
    ``dx = inv_std / C (C g - sum_c g - xhat sum_c(g xhat))``.

    Parameters
    ----------
    dy, x : ndarray [N, C].
    gamma : ndarray [C].
    mean, inv_std : ndarray [N], as saved by :func:`layernorm_forward`.
    dx : ndarray [N, C], OVERWRITTEN.
    dgamma, dbeta : ndarray [C], ACCUMULATE (sums in float64, cast to the dtype, then added).
    """
    _, C, _ = check_norm_backward(
        "layernorm_backward", dy, x, gamma, mean, inv_std, dx, dgamma, dbeta
    )
    mu = mean.astype(np.float64)[:, None]
    istd = inv_std.astype(np.float64)[:, None]
    xhat = (x.astype(np.float64) - mu) * istd
    dy64 = dy.astype(np.float64)
    dbeta += np.sum(dy64, axis=0).astype(dbeta.dtype)  # sum over the batch
    dgamma += np.sum(dy64 * xhat, axis=0).astype(dgamma.dtype)
    g = dy64 * gamma.astype(np.float64)  # dL/dxhat
    sum_g = np.sum(g, axis=1, keepdims=True)  # sum over the row
    sum_g_xhat = np.sum(g * xhat, axis=1, keepdims=True)
    dx[...] = istd / C * (C * g - sum_g - xhat * sum_g_xhat)
