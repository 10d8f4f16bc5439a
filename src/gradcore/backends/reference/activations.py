"""Elementwise activations and their derivatives (reference backend).

Contract (``docs/kernels.md``, family ``activations``):

- ``act_forward(x, act, y)``: ``y = act(x)`` elementwise, any shape; ``y`` may be ``x``.
- ``act_backward(dy, x, y, act, dx)``: ``dx = dy * act'(x)``, with ``y = act(x)`` given too;
  ``dx`` may be ``dy``. ``dx`` is overwritten (it is an input gradient, never accumulated).

All arrays share one floating dtype (float32 or float64) and one shape. The math runs in that
dtype (no reduction happens here, so there is nothing to accumulate in float64).

Each activation below is written as its forward formula with its local derivative next to it.
Derivatives at kinks follow PyTorch 2.x autograd (checked against torch 2.13):
``relu'(0) = 0``, ``leaky_relu'(0) = 0.01``, ``elu'(0) = 1``. The comparisons are written the
way torch writes them, so a NaN input also gets torch's derivative factor (relu, elu: 1;
leaky_relu: 0.01); the forward propagates NaN for every activation.

Numerical stability: nothing overflows or warns for ``|x|`` up to 1e4 in float32 and float64
(and in fact for any finite ``x``):

- sigmoid is evaluated through ``e = exp(-|x|)`` (always in ``(0, 1]``), as
  ``1/(1+e)`` for ``x >= 0`` and ``e/(1+e)`` for ``x < 0``;
- elu evaluates ``expm1`` / ``exp`` only on ``min(x, 0)``;
- gelu's Gaussian density ``exp(-x^2/2)`` underflows quietly to 0 for large ``|x|``.
"""

from __future__ import annotations

import math

import numpy as np

from .._contract import ACTIVATIONS  # the contract's list, defined once for every backend
from .._validate import activation_code, check_float

__all__ = ["ACTIVATIONS", "act_backward", "act_forward", "check_activation"]

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def check_activation(act: str) -> str:
    """Return ``act`` if it names a known activation, else raise ``ValueError`` listing them
    (the contract's check, :func:`gradcore.backends._contract.activation_code`)."""
    activation_code(act)
    return act


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function ``σ(x) = 1 / (1 + exp(-x))``, evaluated without overflow.

    With ``e = exp(-|x|)`` (in ``(0, 1]``, never overflows):
    ``σ(x) = 1/(1+e)`` for ``x >= 0`` and ``σ(x) = e/(1+e)`` for ``x < 0``.
    Returns a new array of ``x``'s dtype. Derivative: ``σ'(x) = σ(x) (1 - σ(x))``.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


# --- forward formulas and local derivatives, side by side --------------------------------
# Each _fwd_<name>(x) returns act(x); each _grad_<name>(x, y) returns act'(x) (y = act(x)).
# Both return new arrays of x's dtype.


def _fwd_linear(x):
    # y = x
    return x.copy()


def _grad_linear(x, y):
    # y' = 1
    return np.ones_like(x)


def _fwd_relu(x):
    # y = max(x, 0)           (np.maximum propagates NaN, like torch.relu)
    return np.maximum(x, 0)


def _grad_relu(x, y):
    # y' = 0 if x <= 0 else 1  (relu'(0) = 0, as torch's threshold_backward)
    return np.where(x <= 0, 0, 1).astype(x.dtype)


def _fwd_leaky_relu(x):
    # y = x if x > 0 else 0.01 x
    return np.where(x > 0, x, LEAKY_RELU_SLOPE * x)


def _grad_leaky_relu(x, y):
    # y' = 1 if x > 0 else 0.01  (leaky_relu'(0) = 0.01, as torch)
    return np.where(x > 0, 1, LEAKY_RELU_SLOPE).astype(x.dtype)


def _fwd_elu(x):
    # y = x if x > 0 else alpha (exp(x) - 1); expm1 only sees min(x, 0), so no overflow
    return np.where(x > 0, x, ELU_ALPHA * np.expm1(np.minimum(x, 0)))


def _grad_elu(x, y):
    # y' = 1 if x > 0 else alpha exp(x)  (elu'(0) = alpha = 1, as torch).
    # alpha exp(x) == y + alpha on the negative side, but exp(x) keeps full relative accuracy
    # for very negative x where y + alpha cancels (torch's non-inplace elu uses exp(x) too).
    return np.where(x <= 0, ELU_ALPHA * np.exp(np.minimum(x, 0)), 1).astype(x.dtype)


def _fwd_sigmoid(x):
    # y = 1 / (1 + exp(-x))
    return sigmoid(x)


def _grad_sigmoid(x, y):
    # y' = y (1 - y)
    return y * (1 - y)


def _fwd_tanh(x):
    # y = tanh(x)
    return np.tanh(x)


def _grad_tanh(x, y):
    # y' = 1 - y^2
    return 1 - y * y


def _fwd_silu(x):
    # y = x σ(x)    (a.k.a. swish)
    return x * sigmoid(x)


def _grad_silu(x, y):
    # y' = σ(x) + x σ(x)(1 - σ(x)) = σ(x) (1 + x (1 - σ(x)))    (torch's formula)
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


def _fwd_gelu(x):
    # y = x Φ(x) = 0.5 x (1 + erf(x / sqrt 2))    (exact gelu, torch approximate='none')
    # written as Φ(x) = 0.5 erfc(-x / sqrt 2): the same function, but 1 + erf(x) cancels
    # catastrophically for x < -5 (all digits lost), erfc keeps full relative precision there.
    import scipy.special  # here, not at module level: it costs ~0.2 s of `import gradcore`

    return 0.5 * x * scipy.special.erfc(-x * x.dtype.type(_INV_SQRT2))


def _grad_gelu(x, y):
    # y' = Φ(x) + x φ(x),   Φ(x) = 0.5 (1 + erf(x / sqrt 2)),  φ(x) = exp(-x^2 / 2) / sqrt(2π)
    import scipy.special  # lazy, as in _fwd_gelu

    cdf = 0.5 * scipy.special.erfc(-x * x.dtype.type(_INV_SQRT2))  # Φ(x), accurate tail
    # x^2 may overflow to inf only for |x| > ~1e19 (float32); exp(-inf) = 0 is then the right
    # limit, so that overflow is harmless and silenced.
    with np.errstate(over="ignore"):
        pdf = np.exp(-0.5 * (x * x)) * x.dtype.type(_INV_SQRT_2PI)
    return cdf + x * pdf


_FORWARD = {
    "linear": _fwd_linear,
    "relu": _fwd_relu,
    "leaky_relu": _fwd_leaky_relu,
    "elu": _fwd_elu,
    "sigmoid": _fwd_sigmoid,
    "tanh": _fwd_tanh,
    "silu": _fwd_silu,
    "gelu": _fwd_gelu,
}
_DERIVATIVE = {
    "linear": _grad_linear,
    "relu": _grad_relu,
    "leaky_relu": _grad_leaky_relu,
    "elu": _grad_elu,
    "sigmoid": _grad_sigmoid,
    "tanh": _grad_tanh,
    "silu": _grad_silu,
    "gelu": _grad_gelu,
}


def act_forward(x: np.ndarray, act: str, y: np.ndarray) -> None:
    """``y = act(x)`` elementwise.

    Parameters
    ----------
    x : ndarray, any shape, float32 or float64.
    act : one of :data:`ACTIVATIONS`:
        ``linear`` x; ``relu`` max(x, 0); ``leaky_relu`` x if x > 0 else 0.01 x;
        ``elu`` x if x > 0 else exp(x) - 1; ``sigmoid`` 1/(1+exp(-x)); ``tanh``;
        ``silu`` x σ(x); ``gelu`` 0.5 x (1 + erf(x/√2)).
    y : ndarray, same shape and dtype as ``x``; written. May be ``x`` itself (in place).

    Raises ``ValueError`` for an unknown activation name.
    """
    activation_code(act)
    check_float("act_forward", "x", x)
    y[...] = _FORWARD[act](x)


def act_backward(dy: np.ndarray, x: np.ndarray, y: np.ndarray, act: str, dx: np.ndarray) -> None:
    """``dx = dy * act'(x)`` elementwise (overwrites ``dx``).

    Parameters
    ----------
    dy : ndarray, gradient of the loss w.r.t. ``y``; same shape/dtype as ``x``.
    x : ndarray, the activation's input.
    y : ndarray, ``act(x)`` as computed by :func:`act_forward` (sigmoid and tanh use it).
    act : one of :data:`ACTIVATIONS`. Derivatives (kinks as torch):
        ``linear`` 1; ``relu`` 0 if x <= 0 else 1; ``leaky_relu`` 1 if x > 0 else 0.01;
        ``elu`` 1 if x > 0 else exp(x); ``sigmoid`` y (1 - y); ``tanh`` 1 - y²;
        ``silu`` σ(x) (1 + x (1 - σ(x))); ``gelu`` Φ(x) + x φ(x).
    dx : ndarray, written. May be ``dy`` itself.

    Raises ``ValueError`` for an unknown activation name.
    """
    activation_code(act)
    check_float("act_backward", "x", x)
    local = _DERIVATIVE[act](x, y)
    np.multiply(dy, local, out=dx)
