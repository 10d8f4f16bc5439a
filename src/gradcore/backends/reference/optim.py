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

__all__ = ["adagrad_step", "adam_step", "rmsprop_step", "sgd_step"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------- helpers


def _check_param(p: object, g: object) -> None:
    if not isinstance(p, np.ndarray) or p.dtype not in _FLOATS:
        raise TypeError("p must be a float32 or float64 numpy array")
    if not p.flags.writeable:
        raise ValueError("p must be writeable (it is updated in place)")
    if not isinstance(g, np.ndarray) or g.dtype != p.dtype:
        got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
        raise TypeError(f"g must be a numpy array with p's dtype {p.dtype}, got {got}")
    if g.shape != p.shape:
        raise ValueError(f"g must have p's shape {p.shape}, got {g.shape}")


def _check_state(name: str, a: object, p: np.ndarray) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != p.dtype:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"state {name} must be a numpy array with p's dtype {p.dtype}, got {got}")
    if a.shape != p.shape:
        raise ValueError(f"state {name} must have p's shape {p.shape}, got {a.shape}")
    if not a.flags.writeable:
        raise ValueError(f"state {name} must be writeable (it is updated in place)")


def _check_step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be an int >= 1 (the count after incrementing), got {step!r}")
    return int(step)


def _floats(*values: float) -> tuple[float, ...]:
    """Hyper-parameters as Python floats: NumPy then rounds them to the array dtype (a
    ``np.float64`` scalar would instead promote float32 math to float64)."""
    return tuple(float(v) for v in values)


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
    _check_param(p, g)
    lr, momentum, dampening, weight_decay = _floats(lr, momentum, dampening, weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("nesterov momentum requires momentum > 0 and dampening == 0")
    if momentum != 0:
        _check_state("buf", buf, p)
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
    _check_param(p, g)
    _check_state("square_avg", square_avg, p)
    lr, alpha, eps, weight_decay, momentum = _floats(lr, alpha, eps, weight_decay, momentum)
    if centered:
        _check_state("grad_avg", grad_avg, p)
    if momentum > 0:
        _check_state("mom_buf", mom_buf, p)
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
    _check_param(p, g)
    _check_state("state_sum", state_sum, p)
    lr, lr_decay, weight_decay, eps = _floats(lr, lr_decay, weight_decay, eps)
    step = _check_step(step)
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
    _check_param(p, g)
    _check_state("m", m, p)
    _check_state("v", v, p)
    lr, beta1, beta2, eps, weight_decay = _floats(lr, beta1, beta2, eps, weight_decay)
    if amsgrad:
        _check_state("vmax", vmax, p)
    step = _check_step(step)
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
