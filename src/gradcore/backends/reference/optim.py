"""Optimizer steps over flat buffers, the reference definition (semantics of torch.optim).

Each function is one step for one (flat) parameter: it updates ``p`` and the state arrays in
place and never modifies ``g`` (weight decay makes a temporary). The arithmetic follows the
single-tensor ("for-loop", ``foreach=False``) implementations in ``torch/optim/*.py`` of
torch 2.13 operation by operation, so float64 runs agree with torch to rounding:

- ``x.add(y, alpha=a)`` is written ``x + a * y``;
- ``x.addcmul_(y, z, value=a)`` is ``x += a * y * z`` (evaluated ``(a * y) * z``, as ATen);
- ``x.addcdiv_(y, z, value=a)`` is ``x += a * y / z`` (evaluated ``(a * y) / z``, as ATen);
- ``x.lerp_(y, w)`` is :func:`_lerp_` (ATen's two-branch formula).

Python-float hyper-parameters are rounded to the array dtype before they meet an array
(NumPy 2's rule for Python scalars, and what ATen does with a Scalar), and float32 math stays
in float32, like torch. ATen's vectorized CPU loops use fused multiply-add for ``add(alpha=)``,
``addcmul`` and ``lerp``, which NumPy cannot express; results therefore agree with torch to a
few ulp per step (float32: ~1e-7 relative), not bitwise.

All kernels use IEEE semantics silently (inf/NaN propagate without NumPy warnings), as torch
and the compiled backends do; detecting non-finite gradients is the caller's job.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_adagrad, check_adam, check_rmsprop, check_sgd

__all__ = ["adagrad_step", "adam_step", "rmsprop_step", "sgd_step"]


# --------------------------------------------------------------------------- helpers


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start = start + w (end - start)`` in place: ``torch.Tensor.lerp_(end, w)``.

    Like ATen, in the array dtype: ``start + w (end - start)`` if ``|w| < 0.5``, else
    ``end - (end - start)(1 - w)`` (exact at w = 1)."""
    w = start.dtype.type(weight)
    if abs(w) < 0.5:
        start += w * (end - start)
    else:
        start[...] = end - (end - start) * (1 - w)


# --------------------------------------------------------------------------- SGD


def sgd_step(
    p: np.ndarray,
    g: np.ndarray,
    buf: np.ndarray,
    lr: float,
    momentum: float,
    dampening: float,
    nesterov: bool,
    weight_decay: float,
    first: bool,
) -> None:
    """One SGD step; mirrors ``torch.optim.sgd._single_tensor_sgd``.

    ``p``, ``g``, ``buf``: same shape, float32 or float64 (``buf`` may be any array, e.g. empty,
    when ``momentum == 0``). ``first=True`` initialises the momentum buffer::

        d = g + wd p                                  (if wd != 0)
        buf = d                                       (first step)
        buf = momentum buf + (1 - dampening) d        (later steps)
        d = d + momentum buf  if nesterov  else  buf  (if momentum != 0)
        p = p - lr d

    ``nesterov`` requires ``momentum > 0`` and ``dampening == 0`` (ValueError).
    """
    lr, momentum, dampening, weight_decay = check_sgd(
        p, g, buf, lr, momentum, dampening, nesterov, weight_decay
    )
    with np.errstate(all="ignore"):
        d = g
        if weight_decay != 0:
            d = d + weight_decay * p
        if momentum != 0:
            if first:
                buf[...] = d
            else:
                buf *= momentum
                buf += (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p -= lr * d


# --------------------------------------------------------------------------- RMSprop


def rmsprop_step(
    p: np.ndarray,
    g: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray,
    mom_buf: np.ndarray,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
) -> None:
    """One RMSprop step; mirrors ``torch.optim.rmsprop._single_tensor_rmsprop``.

    ``p``, ``g``, ``square_avg`` (and ``grad_avg`` if centered, ``mom_buf`` if momentum > 0,
    otherwise they may be empty arrays): same shape, float32 or float64. State starts at 0::

        d = g + wd p                                        (if wd != 0)
        square_avg = alpha square_avg + (1 - alpha) d²
        grad_avg = lerp(grad_avg, d, 1 - alpha)             (if centered)
        avg = sqrt(square_avg - grad_avg²)  if centered  else  sqrt(square_avg)
        avg = avg + eps
        mom_buf = momentum mom_buf + d / avg;  p = p - lr mom_buf     (if momentum > 0)
        p = p - lr d / avg                                            (otherwise)

    (If rounding makes ``square_avg - grad_avg²`` negative, ``avg`` is NaN, as in torch.)
    """
    lr, alpha, eps, weight_decay, momentum = check_rmsprop(
        p, g, square_avg, grad_avg, mom_buf, lr, alpha, eps, weight_decay, momentum, centered
    )
    with np.errstate(all="ignore"):
        d = g
        if weight_decay != 0:
            d = d + weight_decay * p
        square_avg *= alpha
        square_avg += (1 - alpha) * d * d
        if centered:
            _lerp_(grad_avg, d, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            mom_buf *= momentum
            mom_buf += d / avg
            p -= lr * mom_buf
        else:
            p -= lr * d / avg


# --------------------------------------------------------------------------- AdaGrad


def adagrad_step(
    p: np.ndarray,
    g: np.ndarray,
    state_sum: np.ndarray,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    step: int,
) -> None:
    """One AdaGrad step; mirrors ``torch.optim.adagrad._single_tensor_adagrad`` (dense grads).

    ``p``, ``g``, ``state_sum``: same shape, float32 or float64; ``state_sum`` starts at
    ``initial_accumulator_value`` (the caller fills it). ``step`` >= 1 is the count after
    incrementing::

        d = g + wd p                                  (if wd != 0)
        clr = lr / (1 + (step - 1) lr_decay)
        state_sum = state_sum + d²
        p = p - clr d / (sqrt(state_sum) + eps)
    """
    lr, lr_decay, weight_decay, eps, step = check_adagrad(
        p, g, state_sum, lr, lr_decay, weight_decay, eps, step
    )
    with np.errstate(all="ignore"):
        d = g
        if weight_decay != 0:
            d = d + weight_decay * p
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum += d * d
        std = np.sqrt(state_sum) + eps
        p -= clr * d / std


# --------------------------------------------------------------------------- Adam / AdamW


def adam_step(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    vmax: np.ndarray,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    amsgrad: bool,
    decoupled: bool,
) -> None:
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, optionally amsgrad;
    mirrors ``torch.optim.adam._single_tensor_adam`` (``torch.optim.AdamW`` is the same
    function with ``decoupled_weight_decay=True``).

    ``p``, ``g``, ``m`` (exp_avg), ``v`` (exp_avg_sq), ``vmax`` (max_exp_avg_sq; may be empty
    unless amsgrad): same shape, float32 or float64, state starts at 0. ``step`` >= 1 is the
    count after incrementing::

        p = p (1 - lr wd)                 if decoupled        (AdamW)
        d = g + wd p                      elif wd != 0        (Adam, L2)
        m = lerp(m, d, 1 - beta1)
        v = beta2 v + (1 - beta2) d²
        bc1 = 1 - beta1^step;  bc2 = 1 - beta2^step
        vmax = max(vmax, v)                                   (if amsgrad; on the raw v)
        denom = sqrt(vmax or v) / sqrt(bc2) + eps
        p = p - (lr / bc1) m / denom
    """
    lr, beta1, beta2, eps, weight_decay, step = check_adam(
        p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad
    )
    with np.errstate(all="ignore"):
        d = g
        if weight_decay != 0:
            if decoupled:
                p *= 1 - lr * weight_decay
            else:
                d = d + weight_decay * p
        _lerp_(m, d, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * d * d

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5

        if amsgrad:
            np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(vmax) / bias_correction2_sqrt + eps
        else:
            denom = np.sqrt(v) / bias_correction2_sqrt + eps
        p -= step_size * m / denom
