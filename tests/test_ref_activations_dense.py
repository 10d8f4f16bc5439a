"""Reference activations and dense kernels: finite differences, semantics, extremes, float32.

Gradients are checked in float64 by central differences of the scalar ``L = sum(dy * y)``
against the analytic backward. Error measure (per tensor): ``max|analytic - numeric|`` must
be at most ``1e-6 * max|gradient|`` plus a round-off floor ``100 eps sum|dy y| / h``: a
central difference cannot resolve anything below the float64 rounding of the forward values
divided by the step, so gradients that are ~0 (saturated sigmoid/tanh, huge scales) are
compared against that floor instead of against themselves. The step is relative to each
tensor's scale (``h = 1e-5 rms(tensor)``), which keeps truncation error (``~h^2``) near 1e-10.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
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


def fd_step(a: np.ndarray) -> float:
    """Central-difference step relative to the tensor's scale."""
    rms = float(np.sqrt(np.mean(a * a))) if a.size else 0.0
    return 1e-5 * (rms if rms > 0 else 1.0)


def numeric_grad(forward, a: np.ndarray, dy: np.ndarray, h: float) -> np.ndarray:
    """Central differences of ``L = sum(dy * forward())`` w.r.t. ``a`` (perturbed in place)."""
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + h
        yp = forward()
        a[idx] = old - h
        ym = forward()
        a[idx] = old
        g[idx] = np.sum(dy * (yp - ym)) / (2.0 * h)
    return g


def assert_fd_close(name, analytic, numeric, dy, y, h):
    """Per-tensor check; ``y`` is the forward's absolute-error scale (elementwise magnitude).

    Round-off floor: each forward value carries an absolute error of a few ``eps * |y|``, so a
    central difference cannot resolve gradients below ``~ eps sum|dy y| / h`` (factor 100 for
    the few ulps of every operation in the chain).
    """
    floor = 100.0 * EPS64 * float(np.sum(np.abs(dy * y))) / h
    scale = max(float(np.max(np.abs(numeric), initial=0.0)), float(np.max(np.abs(analytic))))
    err = float(np.max(np.abs(analytic - numeric), initial=0.0))
    assert err <= FD_RTOL * scale + floor, (
        f"{name}: max abs error {err:.3e}, gradient scale {scale:.3e}, round-off floor {floor:.3e}"
    )


def assert_f32_close(name, a32, a64, natural):
    """float32 result vs the float64 result of the same (float32-representable) inputs.

    ``rtol = 2e-5`` (~170 float32 ulps, room for accumulated rounding in short sums), plus an
    absolute term ``2e-5 * natural`` where ``natural`` is the size the quantity would have
    without saturation/cancellation (e.g. ``|dy|`` for a derivative bounded by ~1).
    """
    assert a32.dtype == np.float32
    assert np.all(np.isfinite(a32)), f"{name}: non-finite float32 values"
    np.testing.assert_allclose(a32, a64, rtol=2e-5, atol=2e-5 * natural, err_msg=name)


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
    """Elementwise: act'(x) against (act(x+h) - act(x-h)) / 2h, one step per element."""
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal(n)
    # Activations curve on a scale of ~1 whatever the input scale, so the step is capped at
    # 1e-5 (truncation error ~h^2 ~ 1e-10 relative, elementwise).
    h = 1e-5 * min(scale, 1.0)
    if act in KINKED:
        assume(np.min(np.abs(x)) > 10 * h)
    dy = rng.standard_normal(n)
    dx = run_act_grad(x, act, dy)
    numeric = dy * (run_act(x + h, act) - run_act(x - h, act)) / (2 * h)
    y = run_act(x, act)
    # elementwise version of assert_fd_close: scale and floor per element
    floor = 100.0 * EPS64 * np.abs(dy) * (np.abs(y) + 1.0) / h
    tol = FD_RTOL * np.maximum(np.abs(numeric), np.abs(dx)) + floor
    assert np.all(np.abs(dx - numeric) <= tol), (act, x, dx, numeric)


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
    rng = np.random.default_rng(seed)
    x, W, b, dy = make_dense(rng, n, i, o, scale)
    hx, hW, hb = fd_step(x), fd_step(W), fd_step(b)
    z, y = run_dense(x, W, b, act)
    if act in KINKED:  # no z within 10 perturbations of the kink at 0
        dz_max = max(hx * np.max(np.abs(W)), hW * np.max(np.abs(x)), hb)
        assume(np.min(np.abs(z)) > 10 * dz_max)
    dx, dW, db = run_dense_grads(x, W, b, dy, act)

    def forward():
        return run_dense(x, W, b, act)[1]

    # y = act(z) is accurate to ~eps (|y| + |z|) in absolute terms, not ~eps |y|: e.g. gelu at
    # z = -22 evaluates 0.5 z (1 + erf(z/√2)) as exactly 0 (erf rounds to -1) while its true
    # value and derivative are ~1e-106, so the error scale includes |z| (and 1 for sigmoid).
    yscale = np.abs(y) + np.abs(z) + 1.0
    assert_fd_close("dx", dx, numeric_grad(forward, x, dy, hx), dy, yscale, hx)
    assert_fd_close("dW", dW, numeric_grad(forward, W, dy, hW), dy, yscale, hW)
    assert_fd_close("db", db, numeric_grad(forward, b, dy, hb), dy, yscale, hb)


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
