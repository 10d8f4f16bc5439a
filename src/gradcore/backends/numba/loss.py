"""Losses with their gradients in one pass (numba backend).

Contract and formulas: ``backends/reference/loss.py`` (torch's mean reduction). All math and
every sum in float64; the gradient is rounded once to the data dtype. When the gradient array
is ``None`` the kernels get an empty placeholder and a flag, and skip writing it.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import check_grad_out, check_pair, check_xent
from ._jit import InOut, c, jit

__all__ = ["bce_with_logits", "mse", "softmax_xent"]


def _grad_buf(op: str, name: str, g, like_name: str, like: np.ndarray):
    """(InOut or None, kernel array, flag) for an optional gradient output."""
    if g is None:
        return None, np.empty((0,) * like.ndim, like.dtype), False
    check_grad_out(op, name, g, like_name, like)
    out = InOut(g, copy=False)
    return out, out.buf, True


@jit()
def _xent_kernel(z, labels, dz, want_grad):
    N, K = z.shape
    total = 0.0
    for n in range(N):
        m = -np.inf
        for k in range(K):
            v = np.float64(z[n, k])
            if v > m or v != v:
                m = v
        s = 0.0
        for k in range(K):
            s += math.exp(np.float64(z[n, k]) - m)
        lse = m + math.log(s)  # logsumexp(z_n)
        total += lse - np.float64(z[n, labels[n]])
        if want_grad:
            for k in range(K):
                dz[n, k] = math.exp(np.float64(z[n, k]) - lse) / N  # softmax / N
            dz[n, labels[n]] = (math.exp(np.float64(z[n, labels[n]]) - lse) - 1.0) / N
    return total / N


@jit()
def _mse_kernel(p, t, dp, want_grad):
    M = p.shape[0]
    total = 0.0
    for k in range(M):
        d = np.float64(p[k]) - np.float64(t[k])
        total += d * d
        if want_grad:
            dp[k] = 2.0 * d / M
    return total / M


@jit()
def _bce_kernel(z, t, dz, want_grad):
    M = z.shape[0]
    total = 0.0
    for k in range(M):
        v = np.float64(z[k])
        tt = np.float64(t[k])
        e = math.exp(-abs(v))
        total += max(v, 0.0) - v * tt + math.log1p(e)
        if want_grad:
            s = 1.0 / (1.0 + e) if v >= 0 else e / (1.0 + e)  # σ(z), stable
            dz[k] = (s - tt) / M
    return total / M


def softmax_xent(logits: np.ndarray, labels: np.ndarray, dlogits: np.ndarray | None) -> float:
    """Mean softmax cross-entropy; ``dlogits = (softmax - onehot) / N``. See the reference."""
    check_xent(logits, labels)
    out, buf, want = _grad_buf("softmax_xent", "dlogits", dlogits, "logits", logits)
    loss = _xent_kernel(c(logits), np.ascontiguousarray(labels, np.int64), buf, want)
    if out is not None:
        out.done()
    return float(loss)


def _elementwise(op: str, kernel, name: str, a, t, gname: str, g) -> float:
    """``mse`` / ``bce_with_logits``: checks, then ``kernel`` over the flattened arrays."""
    check_pair(op, name, a, "target", t)
    out, buf, want = _grad_buf(op, gname, g, name, a)
    loss = kernel(c(a).reshape(-1), c(t).reshape(-1), buf.reshape(-1), want)
    if out is not None:
        out.done()
    return float(loss)


def mse(pred: np.ndarray, target: np.ndarray, dpred: np.ndarray | None) -> float:
    """Mean squared error; ``dpred = 2 (p - t) / M``. See the reference."""
    return _elementwise("mse", _mse_kernel, "pred", pred, target, "dpred", dpred)


def bce_with_logits(logits: np.ndarray, target: np.ndarray, dlogits: np.ndarray | None) -> float:
    """Mean BCE on logits; ``dlogits = (σ(z) - t) / M``. See the reference."""
    return _elementwise(
        "bce_with_logits", _bce_kernel, "logits", logits, target, "dlogits", dlogits
    )
