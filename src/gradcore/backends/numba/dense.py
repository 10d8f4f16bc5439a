"""Fully connected layer with a fused activation (numba backend).

Contract and formulas: ``backends/reference/dense.py``. The GEMMs (``x W``, ``x^T dz``,
``dz W^T``) go to BLAS through ``np.matmul`` with ``out=``; the bias add, the activation
(``activations.apply_forward``: one specialised, vectorizable loop per activation) and, in the
backward pass, ``dz = dy act'(z)`` and the float64 bias-gradient sum are short passes over the
``[N, O]`` output, which is cache-resident after the GEMM at layer sizes.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_dense_backward, check_dense_forward
from ._jit import InOut, c, jit, scratch
from .activations import apply_backward, apply_forward

__all__ = ["dense_backward", "dense_forward"]


@jit()
def _bias_kernel(z, b):
    # z = z + b, in the data dtype (as the reference)
    N, O = z.shape
    for n in range(N):
        for o in range(O):
            z[n, o] = z[n, o] + b[o]


@jit()
def _colsum64_kernel(dz, db64):
    # db64 += sum_n dz (float64 accumulation)
    N, O = dz.shape
    for n in range(N):
        for o in range(O):
            db64[o] += np.float64(dz[n, o])


def dense_forward(
    x: np.ndarray, W: np.ndarray, b: np.ndarray, act: str, z: np.ndarray, y: np.ndarray
) -> None:
    """``z = x @ W + b``, ``y = act(z)``; ``y`` may be ``z`` for ``linear``. See the reference."""
    code, _, _, _ = check_dense_forward(x, W, b, act, z, y)
    zo = InOut(z, copy=False)
    yo = zo if y is z else InOut(y, copy=False)
    np.matmul(c(x), c(W), out=zo.buf)  # z = x W   (BLAS)
    _bias_kernel(zo.buf, c(b))  # z += b
    apply_forward(zo.buf.reshape(-1), code, yo.buf.reshape(-1))  # y = act(z)
    zo.done()
    yo.done()


def dense_backward(
    dy: np.ndarray,
    x: np.ndarray,
    W: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    act: str,
    dx: np.ndarray | None,
    dW: np.ndarray,
    db: np.ndarray,
    ws=None,
) -> None:
    """``dz = dy act'(z)``; ``dW += x^T dz``; ``db += sum_n dz``; ``dx = dz W^T`` (if not None).
    See the reference."""
    code, N, I, O, dt = check_dense_backward(dy, x, W, z, y, act, dx, dW, db)
    dz = scratch(ws, "dense_dz", (N, O), dt)
    db64 = np.zeros(O, np.float64)
    apply_backward(
        c(dy).reshape(-1), c(z).reshape(-1), c(y).reshape(-1), code, dz.reshape(-1)
    )  # dz = dy act'(z)
    _colsum64_kernel(dz, db64)
    gw = scratch(ws, "dense_dW", (I, O), dt)
    np.matmul(c(x).T, dz, out=gw)  # x^T dz   (BLAS)
    dW += gw
    db += db64.astype(dt)
    if dx is not None:
        xo = InOut(dx, copy=False)
        np.matmul(dz, c(W).T, out=xo.buf)  # dx = dz W^T   (BLAS)
        xo.done()
