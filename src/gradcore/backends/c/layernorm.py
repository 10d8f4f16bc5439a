"""Layer normalization over the last axis of ``[N, C]``: the C kernels (``kernels/layernorm.c``).

Same signatures and semantics as :mod:`gradcore.backends.reference.layernorm` (torch
``LayerNorm``; contract ``docs/kernels.md``). Row statistics and all sums accumulate in float64;
threads split the rows above ``GC_PARALLEL_MIN`` elements.
"""

from __future__ import annotations

import numpy as np

from gradcore import _kernels

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
    """Forward; see :func:`gradcore.backends.reference.layernorm_forward`."""
    _kernels.layernorm_forward(x, gamma, beta, eps, y, mean, inv_std)


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
    """Backward (dx overwritten, dgamma/dbeta accumulate); see the reference."""
    _kernels.layernorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
