"""Losses with their gradients, in one call (reference backend).

Contract (``docs/kernels.md``, family ``loss``). Each function returns the loss as a Python
float and, unless the gradient array is ``None``, OVERWRITES it with ``dloss/dinput``.
Reduction is the mean, as torch's default ``reduction='mean'``: over the batch for
cross-entropy, over all elements for MSE and BCE.

- ``softmax_xent``:  ``L = (1/N) sum_n [logsumexp(z_n) - z_n[y_n]]``,
  ``dL/dz = (softmax(z) - onehot(y)) / N``  (``torch.nn.functional.cross_entropy``).
- ``mse``:  ``L = (1/M) sum (p - t)^2``,  ``dL/dp = 2 (p - t) / M``  (``F.mse_loss``).
- ``bce_with_logits``:  ``L = (1/M) sum [max(z, 0) - z t + log1p(exp(-|z|))]``,
  ``dL/dz = (σ(z) - t) / M``  (``F.binary_cross_entropy_with_logits``).

All the math (and every sum) runs in float64, whatever the data dtype; the gradient is cast to
the data dtype when written. Stable forms: log-sum-exp subtracts the row max; the BCE form
never exponentiates a positive number.

Differences from torch (deliberate, checked against torch 2.13):
- empty inputs (zero samples / zero elements) raise ``ValueError``; torch returns ``nan``;
- cross-entropy has no ``ignore_index``: every label must be in ``[0, K)`` (torch silently
  ignores samples labelled ``-100`` by default, and raises ``IndexError`` for other bad labels).
"""

from __future__ import annotations

import numpy as np

from .._validate import check_grad_out, check_labels, check_pair, check_xent

__all__ = ["bce_with_logits", "check_labels", "mse", "softmax_xent"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # σ(z) = 1/(1+e) for z >= 0, e/(1+e) for z < 0, with e = exp(-|z|) <= 1 (no overflow)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax_xent(logits: np.ndarray, labels: np.ndarray, dlogits: np.ndarray | None) -> float:
    """Mean softmax cross-entropy from logits and integer class labels.

    ``L = (1/N) sum_n [logsumexp(z_n) - z_n[y_n]]``, with
    ``logsumexp(z_n) = m_n + log sum_k exp(z_nk - m_n)``, ``m_n = max_k z_nk`` (stable).
    Gradient: ``dL/dz_nk = (softmax(z_n)_k - [k == y_n]) / N``.

    Parameters
    ----------
    logits : ndarray [N, K], float32 or float64, N >= 1.
    labels : ndarray [N], integer (int64), each in ``[0, K)``.
    dlogits : ndarray [N, K] of the logits' dtype, OVERWRITTEN with ``dL/dz``; or None.

    Returns the loss as a Python float. Raises ``TypeError`` for non-integer labels and
    ``ValueError`` for a wrong labels shape, a label out of range or an empty batch.
    """
    N, _ = check_xent(logits, labels)
    z = logits.astype(np.float64)
    m = np.max(z, axis=1, keepdims=True)  # row max
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))  # logsumexp(z_n), [N,1]
    rows = np.arange(N)
    loss = np.sum(lse[:, 0] - z[rows, labels]) / N
    if dlogits is not None:
        check_grad_out("softmax_xent", "dlogits", dlogits, "logits", logits)
        g = np.exp(z - lse)  # softmax(z)
        g[rows, labels] -= 1.0  # - onehot(y)
        dlogits[...] = g / N
    return float(loss)


def mse(pred: np.ndarray, target: np.ndarray, dpred: np.ndarray | None) -> float:
    """Mean squared error over all ``M`` elements.

    ``L = (1/M) sum (p - t)^2``;  ``dL/dp = 2 (p - t) / M``.

    Parameters
    ----------
    pred, target : ndarray, same shape (any, M >= 1 elements) and dtype (float32/float64).
    dpred : ndarray like ``pred``, OVERWRITTEN with ``dL/dp``; or None.

    Returns the loss as a Python float.
    """
    check_pair("mse", "pred", pred, "target", target)
    M = pred.size
    d = pred.astype(np.float64) - target  # p - t
    loss = np.sum(d * d) / M
    if dpred is not None:
        check_grad_out("mse", "dpred", dpred, "pred", pred)
        dpred[...] = 2.0 * d / M
    return float(loss)


def bce_with_logits(logits: np.ndarray, target: np.ndarray, dlogits: np.ndarray | None) -> float:
    """Mean binary cross-entropy on logits (sigmoid folded in), over all ``M`` elements.

    ``L = (1/M) sum [max(z, 0) - z t + log1p(exp(-|z|))]``, which equals
    ``-(t log σ(z) + (1 - t) log(1 - σ(z)))`` without ever overflowing.
    Gradient: ``dL/dz = (σ(z) - t) / M``.

    Parameters
    ----------
    logits : ndarray, any shape (M >= 1 elements), float32 or float64.
    target : ndarray, same shape and dtype; probabilities in [0, 1] (soft targets allowed).
    dlogits : ndarray like ``logits``, OVERWRITTEN with ``dL/dz``; or None.

    Returns the loss as a Python float.
    """
    check_pair("bce_with_logits", "logits", logits, "target", target)
    M = logits.size
    z = logits.astype(np.float64)
    t = target.astype(np.float64)
    loss = np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))) / M
    if dlogits is not None:
        check_grad_out("bce_with_logits", "dlogits", dlogits, "logits", logits)
        dlogits[...] = (_sigmoid(z) - t) / M
    return float(loss)
