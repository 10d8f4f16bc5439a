"""Elementwise activations and their derivatives (numba backend).

Same contract and formulas as the reference (``backends/reference/activations.py``): one fused
loop per call, the activation chosen by its index in ``ACTIVATIONS``. The scalar functions
below are also used by the dense and LSTM kernels (epilogues).

Numerics: linear, relu, leaky_relu (and the sigmoid/tanh derivatives from ``y``) run in the
data dtype with the reference's formulas; tanh is NumPy's ``np.tanh``; elu, sigmoid, silu and
gelu are computed in float64 and rounded once to the data dtype (the reference rounds float32
intermediates; the difference is at most a few ulp). Stable forms as the reference:
sigmoid through ``exp(-|x|)``, elu's ``expm1`` only for ``x <= 0``, gelu as
``0.5 x erfc(-x/√2)`` (the erf form ``1 + erf`` loses every digit for x < -5). Kinks and NaN
inputs follow torch exactly as the reference: relu'(0) = 0, leaky_relu'(0) = 0.01,
elu'(0) = 1; the forward propagates NaN.
"""

from __future__ import annotations

import math

import numpy as np

from .._contract import ACTIVATIONS
from .._validate import activation_code, check_array, check_float, check_out
from ._jit import InOut, c, jit

__all__ = ["ACTIVATIONS", "act_backward", "act_forward"]

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

# activation codes (index in ACTIVATIONS)
LINEAR, RELU, LEAKY, ELU, SIGMOID, TANH, SILU, GELU = range(8)
assert ACTIVATIONS[GELU] == "gelu" and ACTIVATIONS[LEAKY] == "leaky_relu"


@jit()
def sigmoid(x):
    """σ(x) in float64, via e = exp(-|x|) in (0, 1] (never overflows)."""
    x = np.float64(x)
    e = math.exp(-abs(x))
    if x >= 0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@jit()
def act_value(x, code):
    """act(x) for one element, in float64."""
    x = np.float64(x)
    if code == LINEAR:
        return x
    if code == RELU:
        return 0.0 if x <= 0 else x  # NaN falls through and propagates
    if code == LEAKY:
        return x if x > 0 else LEAKY_RELU_SLOPE * x
    if code == ELU:
        return x if x > 0 else ELU_ALPHA * math.expm1(x)  # x <= 0 or NaN: no overflow
    if code == SIGMOID:
        return sigmoid(x)
    if code == TANH:
        return math.tanh(x)
    if code == SILU:
        return x * sigmoid(x)
    # GELU: x Φ(x), Φ(x) = 0.5 erfc(-x/√2)
    return 0.5 * x * math.erfc(-x * _INV_SQRT2)


@jit()
def act_deriv(x, y, code):
    """act'(x) for one element (y = act(x) as stored), in float64; kinks as torch."""
    x = np.float64(x)
    y = np.float64(y)
    if code == LINEAR:
        return 1.0
    if code == RELU:
        return 0.0 if x <= 0 else 1.0
    if code == LEAKY:
        return 1.0 if x > 0 else LEAKY_RELU_SLOPE
    if code == ELU:
        return ELU_ALPHA * math.exp(x) if x <= 0 else 1.0
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == TANH:
        return 1.0 - y * y
    if code == SILU:
        s = sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    # GELU: Φ(x) + x φ(x); exp(-x²/2) underflows quietly to 0 (x² = inf gives exp(-inf) = 0)
    cdf = 0.5 * math.erfc(-x * _INV_SQRT2)
    return cdf + x * (math.exp(-0.5 * (x * x)) * _INV_SQRT_2PI)


@jit()
def forward_loop(x, code, y, zero, slope):
    """y = act(x) over 1-d arrays. One loop per activation (the switch is outside the loop, so
    the simple ones vectorize); relu/leaky_relu in the data dtype (``zero``, ``slope`` are of
    that dtype) exactly as the reference, the others via :func:`act_value` in float64."""
    n = x.shape[0]
    if code == LINEAR:
        for k in range(n):
            y[k] = x[k]
    elif code == RELU:
        for k in range(n):
            v = x[k]
            y[k] = zero if v <= zero else v  # NaN propagates
    elif code == LEAKY:
        for k in range(n):
            v = x[k]
            y[k] = v if v > zero else slope * v
    else:
        for k in range(n):
            y[k] = act_value(x[k], code)


@jit()
def backward_loop(dy, x, y, code, dx, zero, one, slope):
    """dx = dy act'(x) over 1-d arrays; linear/relu/leaky_relu/sigmoid/tanh in the data dtype
    with the reference's formulas (``y (1 - y)``, ``1 - y²``), the others in float64."""
    n = x.shape[0]
    if code == LINEAR:
        for k in range(n):
            dx[k] = dy[k] * one
    elif code == RELU:
        for k in range(n):
            dx[k] = dy[k] * (zero if x[k] <= zero else one)
    elif code == LEAKY:
        for k in range(n):
            dx[k] = dy[k] * (one if x[k] > zero else slope)
    elif code == SIGMOID:
        for k in range(n):
            yk = y[k]
            dx[k] = dy[k] * (yk * (one - yk))
    elif code == TANH:
        for k in range(n):
            yk = y[k]
            dx[k] = dy[k] * (one - yk * yk)
    else:
        for k in range(n):
            dx[k] = dy[k] * act_deriv(x[k], y[k], code)


def apply_forward(x1: np.ndarray, code: int, y1: np.ndarray) -> None:
    """Forward on 1-d C-contiguous arrays. tanh goes to NumPy's SIMD ``np.tanh`` (the same call
    as the reference): numba compiles ``tanh`` to a scalar libm call, 20-40x slower."""
    if code == TANH:
        np.tanh(x1, out=y1)
    else:
        t = x1.dtype.type
        forward_loop(x1, code, y1, t(0), t(LEAKY_RELU_SLOPE))


def apply_backward(dy1, x1, y1, code: int, dx1) -> None:
    """Backward on 1-d C-contiguous arrays."""
    t = x1.dtype.type
    backward_loop(dy1, x1, y1, code, dx1, t(0), t(1), t(LEAKY_RELU_SLOPE))


def act_forward(x: np.ndarray, act: str, y: np.ndarray) -> None:
    """``y = act(x)`` elementwise, any shape; ``y`` may be ``x``. See the reference."""
    code = activation_code(act)
    dt = check_float("act_forward", "x", x)
    check_out("act_forward", "y", y, x.shape, dt)
    out = InOut(y, copy=False)
    apply_forward(c(x).reshape(-1), code, out.buf.reshape(-1))
    out.done()


def act_backward(dy: np.ndarray, x: np.ndarray, y: np.ndarray, act: str, dx: np.ndarray) -> None:
    """``dx = dy * act'(x)`` elementwise (overwrites ``dx``; may be ``dy``). See the reference."""
    code = activation_code(act)
    dt = check_float("act_backward", "x", x)
    check_out("act_backward", "dx", dx, x.shape, dt)
    _same("dy", dy, x)
    _same("y", y, x)
    out = InOut(dx, copy=False)
    apply_backward(c(dy).reshape(-1), c(x).reshape(-1), c(y).reshape(-1), code, out.buf.reshape(-1))
    out.done()


def _same(name: str, a: object, x: np.ndarray) -> None:
    check_array("act_backward", name, a, x.shape, x.dtype)
