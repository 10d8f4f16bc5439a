"""Fully connected layer with a fused activation (reference backend).

Contract (``docs/kernels.md``, family ``dense``)::

    forward:   z = x @ W + b                      x[N,I], W[I,O], b[O], z[N,O]
               y = act(z)                         y[N,O]
    backward:  dz = dy * act'(z)                  dy[N,O]
               dW += x^T dz                       dW[I,O]   (accumulates)
               db += sum_n dz[n, :]               db[O]     (accumulates, float64 sum)
               dx  = dz @ W^T                     dx[N,I]   (overwritten; skipped if None)

Weights are ``[in, out]`` (``y = x @ W + b``); torch's ``Linear.weight`` is ``[out, in]``, so
``W == linear.weight.T``. All floating arrays of one call share one dtype (float32 or
float64). The matrix products run in that dtype (BLAS sgemm/dgemm, as the compiled backends
do); the bias-gradient sum over the batch accumulates in float64 and is cast back.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_dense_backward, check_dense_forward
from .activations import act_backward, act_forward

__all__ = ["dense_backward", "dense_forward"]


def dense_forward(
    x: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    act: str,
    z: np.ndarray,
    y: np.ndarray,
) -> None:
    """Affine map then activation: ``z = x @ W + b``, ``y = act(z)``.

    Parameters
    ----------
    x : ndarray [N, I], float32 or float64.
    W : ndarray [I, O], same dtype.
    b : ndarray [O], same dtype.
    act : activation name (see ``activations.ACTIVATIONS``).
    z : ndarray [N, O], written: the pre-activation (kept for the backward pass).
    y : ndarray [N, O], written: the output. For ``act == "linear"`` it may be ``z`` itself.
    """
    check_dense_forward(x, W, b, act, z, y)
    np.matmul(x, W, out=z)  # z = x W
    z += b  # z = x W + b
    act_forward(z, act, y)  # y = act(z)


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
    """Gradients of a dense layer.

    ``dz = dy * act'(z)``; ``dW += x^T dz``; ``db += sum_n dz``; ``dx = dz W^T``.

    Parameters
    ----------
    dy : ndarray [N, O], gradient of the loss w.r.t. ``y``.
    x : ndarray [N, I], the forward input.
    W : ndarray [I, O], the weights.
    z, y : ndarray [N, O], the forward's pre-activation and output.
    act : activation name.
    dx : ndarray [N, I] or None, OVERWRITTEN with ``dL/dx``; skipped (not computed) if None.
    dW : ndarray [I, O], ACCUMULATES ``x^T dz``.
    db : ndarray [O], ACCUMULATES ``sum_n dz`` (summed in float64, then cast to the dtype).
    ws : optional ``Workspace`` for the ``dz`` scratch (``"dense_dz"``); else allocated.
    """
    _, N, _, O, _ = check_dense_backward(dy, x, W, z, y, act, dx, dW, db)
    if ws is not None:
        dz = ws.get("dense_dz", (N, O), dy.dtype)
    else:
        dz = np.empty((N, O), dtype=dy.dtype)
    act_backward(dy, z, y, act, dz)  # dz = dy * act'(z)
    dW += x.T @ dz  # dW += x^T dz
    db += np.sum(dz, axis=0, dtype=np.float64).astype(db.dtype)  # db += sum_n dz
    if dx is not None:
        np.matmul(dz, W.T, out=dx)  # dx = dz W^T
