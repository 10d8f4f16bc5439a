"""Reference activations and dense kernels: finite differences, semantics, extremes, float32.

Gradients are checked in float64 against central differences by ``gc.gradcheck`` (through
``tests/_fd.py``): its per-tensor step, its round-off floor (gradients that are ~0, saturated
sigmoid/tanh or huge scales, are compared against the float64 rounding of the forward divided
by the step instead of against themselves) and its kink exclusion (relu, leaky_relu and elu
at 0) are documented in ``gradcore.gradcheck``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from _fd import assert_gradcheck, op
from _tolerances import assert_f32_close
from hypothesis import assume, given
from hypothesis import strategies as st

from gradcore.backends import Workspace
from gradcore.backends.reference import activations, dense
from gradcore.backends.reference.activations import ACTIVATIONS, act_backward, act_forward
from gradcore.backends.reference.dense import dense_backward, dense_forward

EPS64 = np.finfo(np.float64).eps
FD_RTOL = 1e-6
KINKED = ("relu", "leaky_relu", "elu")  # not C^2 at 0: keep inputs away from the kink

seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 4)
scales = st.floats(-3.0, 2.0).map(lambda e: 10.0**e)  # value scales 1e-3 .. 1e2
acts = st.sampled_from(ACTIVATIONS)


# --- helpers -------------------------------------------------------------------------------


def run_act(x, act):
    y = np.empty_like(x)
    act_forward(x, act, y)
    return y


def run_act_grad(x, act, dy=None):
    y = run_act(x, act)
    dy = np.ones_like(x) if dy is None else dy
    dx = np.empty_like(x)
    act_backward(dy, x, y, act, dx)
    return dx


# --- activations ---------------------------------------------------------------------------


def test_activation_names():
    import gradcore.backends

    # the registry keeps its own copy of the names (for layers); both must agree
    assert getattr(gradcore.backends, "ACTIVATIONS", ACTIVATIONS) == ACTIVATIONS
    assert ACTIVATIONS == (
        "linear",
        "relu",
        "leaky_relu",
        "elu",
        "sigmoid",
        "tanh",
        "silu",
        "gelu",
    )


@pytest.mark.parametrize("bad", ["swish", "ReLU", "", None])
def test_unknown_activation_raises(bad):
    x = np.zeros(3)
    with pytest.raises(ValueError, match="valid activations are: 'linear', 'relu'") as exc:
        act_forward(x, bad, np.empty_like(x))
    assert "'gelu'" in str(exc.value)
    with pytest.raises(ValueError, match="unknown activation"):
        act_backward(x, x, x, bad, np.empty_like(x))
    with pytest.raises(ValueError, match="unknown activation"):
        dense_forward(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), bad, *[np.zeros((1, 1))] * 2)


@given(seed=seeds, n=st.integers(1, 20), scale=scales, act=acts)
def test_activation_derivative_fd(seed, n, scale, act):
    """act'(x) (the backward) against finite differences of the forward, gc.gradcheck."""
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal(n)
    assert_gradcheck(op(lambda x: run_act(x, act), lambda dy, x: run_act_grad(x, act, dy)), x)


REFERENCE_VALUES = {
    # act: (forward at [-2, -0.5, 0, 0.5, 2], derivative there), from the closed forms
    "linear": ([-2, -0.5, 0, 0.5, 2], [1, 1, 1, 1, 1]),
    "relu": ([0, 0, 0, 0.5, 2], [0, 0, 0, 1, 1]),
    "leaky_relu": ([-0.02, -0.005, 0, 0.5, 2], [0.01, 0.01, 0.01, 1, 1]),
    "elu": (
        [np.expm1(-2), np.expm1(-0.5), 0, 0.5, 2],
        [np.exp(-2), np.exp(-0.5), 1, 1, 1],
    ),
}


@pytest.mark.parametrize("act", list(REFERENCE_VALUES))
def test_piecewise_values_and_kinks(act):
    """Kinks as torch: relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1 (also at -0.0)."""
    x = np.array([-2, -0.5, 0, 0.5, 2], dtype=np.float64)
    want_y, want_d = REFERENCE_VALUES[act]
    np.testing.assert_allclose(run_act(x, act), want_y, rtol=1e-15, atol=0)
    np.testing.assert_allclose(run_act_grad(x, act), want_d, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(run_act_grad(np.array([-0.0]), act), want_d[2])


def test_smooth_values():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    s = 1.0 / (1.0 + np.exp(-x))
    erf = np.array([math.erf(v / math.sqrt(2.0)) for v in x])  # stdlib, independent of scipy
    phi = 0.5 * (1.0 + erf)  # Φ(x)
    pdf = np.exp(-0.5 * x**2) / np.sqrt(2 * np.pi)
    cases = {
        "sigmoid": (s, s * (1 - s)),
        "tanh": (np.tanh(x), 1 - np.tanh(x) ** 2),
        "silu": (x * s, s + x * s * (1 - s)),
        "gelu": (x * phi, phi + x * pdf),
    }
    for act, (want_y, want_d) in cases.items():
        np.testing.assert_allclose(run_act(x, act), want_y, rtol=1e-14, atol=1e-16, err_msg=act)
        np.testing.assert_allclose(
            run_act_grad(x, act), want_d, rtol=1e-13, atol=1e-16, err_msg=act
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_extreme_inputs_finite_no_warnings(act, dtype):
    """|x| up to 1e4: finite, correct limits, no RuntimeWarning (overflow/invalid/divide)."""
    x = np.array([-1e4, -1e3, -100, -20, 0, 20, 100, 1e3, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = run_act(x, act)
            dx = run_act_grad(x, act)
    assert y.dtype == dtype and dx.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    lo, hi = np.array([-1e4], dtype), np.array([1e4], dtype)
    limits = {  # act: (y(-1e4), y(1e4), y'(-1e4), y'(1e4))
        "linear": (-1e4, 1e4, 1, 1),
        "relu": (0, 1e4, 0, 1),
        "leaky_relu": (-100, 1e4, 0.01, 1),
        "elu": (-1, 1e4, 0, 1),
        "sigmoid": (0, 1, 0, 0),
        "tanh": (-1, 1, 0, 0),
        "silu": (0, 1e4, 0, 1),
        "gelu": (0, 1e4, 0, 1),
    }[act]
    got = (run_act(lo, act)[0], run_act(hi, act)[0], run_act_grad(lo, act)[0])
    got += (run_act_grad(hi, act)[0],)
    np.testing.assert_allclose(got, limits, rtol=1e-6, atol=0)


def test_sigmoid_tails_keep_relative_accuracy():
    # σ(-30) = exp(-30)/(1+exp(-30)); the stable form keeps full relative precision.
    x = np.array([-30.0, -700.0])
    want = np.exp(x) / (1 + np.exp(x))
    np.testing.assert_allclose(run_act(x, "sigmoid"), want, rtol=1e-15)
    # elu'(x) = exp(x) on the negative side, also accurate far out (not y + 1, which cancels)
    np.testing.assert_allclose(run_act_grad(np.array([-40.0]), "elu"), np.exp(-40.0), rtol=1e-15)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_nan_propagates_forward(act):
    y = run_act(np.array([np.nan, 1.0]), act)
    assert np.isnan(y[0]) and np.isfinite(y[1])


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_in_place_aliasing(act, rng):
    x = rng.standard_normal((3, 4))
    y_ref = run_act(x, act)
    dy = rng.standard_normal((3, 4))
    dx_ref = np.empty_like(x)
    act_backward(dy, x, y_ref, act, dx_ref)
    # y may be x
    xx = x.copy()
    act_forward(xx, act, xx)
    np.testing.assert_array_equal(xx, y_ref)
    # dx may be dy
    dd = dy.copy()
    act_backward(dd, x, y_ref, act, dd)
    np.testing.assert_array_equal(dd, dx_ref)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_act_backward_overwrites(act, rng):
    x = rng.standard_normal(5)
    y = run_act(x, act)
    dx = np.full(5, np.nan)
    act_backward(np.ones(5), x, y, act, dx)
    np.testing.assert_array_equal(dx, run_act_grad(x, act))


@given(seed=seeds, n=st.integers(1, 12), scale=scales, act=acts)
def test_activation_float32_close_to_float64(seed, n, scale, act):
    rng = np.random.default_rng(seed)
    x32 = (scale * rng.standard_normal(n)).astype(np.float32)
    dy32 = rng.standard_normal(n).astype(np.float32)
    x64, dy64 = x32.astype(np.float64), dy32.astype(np.float64)
    if act in KINKED:  # a float32 rounding must not move x across the kink's derivative jump
        assume(np.min(np.abs(x64)) > 0)
    assert_f32_close("y", run_act(x32, act), run_act(x64, act), max(scale, 1.0))
    assert_f32_close(
        "dx", run_act_grad(x32, act, dy32), run_act_grad(x64, act, dy64), np.max(np.abs(dy64))
    )


# --- dense ---------------------------------------------------------------------------------


def make_dense(rng, n, i, o, scale, dtype=np.float64):
    x = scale * rng.standard_normal((n, i))
    W = rng.standard_normal((i, o)) / np.sqrt(i)
    b = 0.5 * scale * rng.standard_normal(o)
    dy = rng.standard_normal((n, o))
    return [a.astype(dtype) for a in (x, W, b, dy)]


def run_dense(x, W, b, act):
    n, o = x.shape[0], W.shape[1]
    z = np.empty((n, o), x.dtype)
    y = np.empty((n, o), x.dtype)
    dense_forward(x, W, b, act, z, y)
    return z, y


def run_dense_grads(x, W, b, dy, act):
    z, y = run_dense(x, W, b, act)
    dx = np.empty_like(x)
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    dense_backward(dy, x, W, z, y, act, dx, dW, db)
    return dx, dW, db


def test_dense_forward_formula(rng):
    x, W, b, _ = make_dense(rng, 3, 4, 2, 1.0)
    for act in ACTIVATIONS:
        z, y = run_dense(x, W, b, act)
        np.testing.assert_allclose(z, x @ W + b, rtol=1e-15, atol=1e-15)
        np.testing.assert_array_equal(y, run_act(z, act))


@given(seed=seeds, n=dims, i=dims, o=dims, scale=scales, act=acts)
def test_dense_gradients_fd(seed, n, i, o, scale, act):
    """dx, dW, db against finite differences of y = act(x W + b), gc.gradcheck (its kink
    exclusion takes the z that a perturbation moves across relu's 0)."""
    rng = np.random.default_rng(seed)
    x, W, b, _ = make_dense(rng, n, i, o, scale)
    fn = op(lambda x, W, b: run_dense(x, W, b, act)[1],
            lambda dy, x, W, b: run_dense_grads(x, W, b, dy, act))  # fmt: skip
    assert_gradcheck(fn, (x, W, b))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_accumulates_params_overwrites_input(act, rng):
    x, W, b, dy = make_dense(rng, 3, 4, 5, 1.0)
    dx_ref, dW_ref, db_ref = run_dense_grads(x, W, b, dy, act)
    z, y = run_dense(x, W, b, act)
    dW0 = rng.standard_normal(W.shape)
    db0 = rng.standard_normal(b.shape)
    dW, db = dW0.copy(), db0.copy()
    dx = np.full_like(x, np.nan)  # must be overwritten, never read
    dense_backward(dy, x, W, z, y, act, dx, dW, db)
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_allclose(dW, dW0 + dW_ref, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(db, db0 + db_ref, rtol=1e-15, atol=1e-15)
    # twice in a row: parameter grads are the sum of both
    dense_backward(dy, x, W, z, y, act, dx, dW, db)
    np.testing.assert_allclose(dW, dW0 + 2 * dW_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(db, db0 + 2 * db_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(dx, dx_ref)


def test_dense_dx_none_workspace_and_linear_alias(rng):
    x, W, b, dy = make_dense(rng, 4, 3, 2, 1.0)
    dx_ref, dW_ref, db_ref = run_dense_grads(x, W, b, dy, "tanh")
    z, y = run_dense(x, W, b, "tanh")
    dW, db = np.zeros_like(W), np.zeros_like(b)
    ws = Workspace()
    dense_backward(dy, x, W, z, y, "tanh", None, dW, db, ws=ws)  # dx skipped
    np.testing.assert_array_equal(dW, dW_ref)
    np.testing.assert_array_equal(db, db_ref)
    dx = np.empty_like(x)
    dW[...] = 0
    dense_backward(dy, x, W, z, y, "tanh", dx, dW, db, ws=ws)  # workspace reused
    np.testing.assert_array_equal(dx, dx_ref)
    # linear: y may be the same array as z
    z = np.empty((4, 2))
    dense_forward(x, W, b, "linear", z, z)
    np.testing.assert_allclose(z, x @ W + b, rtol=1e-15, atol=1e-15)


def test_dense_shape_errors():
    with pytest.raises(ValueError, match="shape mismatch"):
        dense_forward(
            np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5), "relu", *[np.zeros((2, 5))] * 2
        )
    with pytest.raises(ValueError, match="shape mismatch"):
        dense_forward(
            np.zeros((2, 3)), np.zeros((3, 5)), np.zeros(4), "relu", *[np.zeros((2, 5))] * 2
        )
    with pytest.raises(ValueError, match=r"x\[N,I\]"):
        dense_forward(np.zeros(3), np.zeros((3, 5)), np.zeros(5), "relu", *[np.zeros((2, 5))] * 2)


def test_bias_gradient_sums_in_float64():
    # Column [2^24, 1, -2^24]: exact sum 1. A float32 running sum loses the 1 (2^24 + 1 rounds
    # to 2^24 in float32) and returns 0; the float64 accumulation of the contract returns 1.
    dy = np.array([[2.0**24], [1.0], [-(2.0**24)]], dtype=np.float32)
    assert np.sum(dy, axis=0)[0] == 0  # what float32 accumulation gives
    x = np.ones((3, 1), dtype=np.float32)
    W = np.ones((1, 1), dtype=np.float32)
    z, y = run_dense(x, W, np.zeros(1, np.float32), "linear")
    db = np.zeros(1, np.float32)
    dense_backward(dy, x, W, z, y, "linear", None, np.zeros((1, 1), np.float32), db)
    assert db.dtype == np.float32 and db[0] == 1.0


@given(seed=seeds, n=dims, i=dims, o=dims, scale=scales, act=acts)
def test_dense_float32_close_to_float64(seed, n, i, o, scale, act):
    rng = np.random.default_rng(seed)
    a32 = make_dense(rng, n, i, o, scale, np.float32)
    a64 = [a.astype(np.float64) for a in a32]
    z64, _ = run_dense(*a64[:3], act)
    if act in KINKED:  # float32 rounding of z must not cross the derivative's jump at 0
        assume(np.min(np.abs(z64)) > 1e-4 * scale)
    x, W, b, dy = a64
    z_nat = np.max(np.abs(x)) * np.max(np.abs(W)) * i + np.max(np.abs(b))
    dmax = np.max(np.abs(dy)) * 1.13  # |act'| <= 1.13 (gelu's maximum)
    for name, r32, r64 in zip(
        ("z", "y"), run_dense(*a32[:3], act), run_dense(*a64[:3], act), strict=True
    ):
        assert_f32_close(name, r32, r64, max(z_nat, 1.0))
    natural = {
        "dx": dmax * np.max(np.abs(W)) * o,
        "dW": dmax * np.max(np.abs(x)) * n,
        "db": dmax * n,
    }
    for (name, nat), r32, r64 in zip(
        natural.items(), run_dense_grads(*a32, act), run_dense_grads(*a64, act), strict=True
    ):
        assert_f32_close(name, r32, r64, nat)


def test_modules_export():
    assert activations.__all__ and dense.__all__
