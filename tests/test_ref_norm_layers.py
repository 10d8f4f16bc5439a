"""Reference batchnorm and layernorm kernels: formulas, running stats, finite differences.

Gradients are checked in float64 by central differences of ``L = sum(dy * y)``. Per tensor,
``max|analytic - numeric|`` must be at most ``1e-6 * max|gradient|`` plus a round-off floor
``100 eps sum|dy| yscale / h`` (``yscale`` = the forward's absolute error scale). The step for
``x`` is ``1e-5 * min sqrt(var + eps)``: the normalized output curves on the scale of the
spread (not of |x|), so this keeps truncation error (~h^2) near 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
from _fd import assert_gradcheck, op
from _tolerances import assert_f32_close as _f32_close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends.reference.batchnorm import (
    batchnorm_backward,
    batchnorm_forward_eval,
    batchnorm_forward_train,
)
from gradcore.backends.reference.layernorm import layernorm_backward, layernorm_forward

EPS64 = np.finfo(np.float64).eps
FD_RTOL = 1e-6
BN_EPS = 1e-5

seeds = st.integers(0, 2**32 - 1)
scales = st.floats(-3.0, 2.0).map(lambda e: 10.0**e)  # value scales 1e-3 .. 1e2
eps_values = st.sampled_from([1e-5, 1e-3, 0.1])
momenta = st.sampled_from([0.1, 0.0, 0.5, 1.0])


# --- helpers -------------------------------------------------------------------------------


def _fd_eps(x, eps, axis=0):
    """gradcheck's relative step for a normalization: the function bends on the length
    ``sqrt(var + eps)`` (its curvature scale), which may be far below 1 for small data, so the
    step is 1e-5 of it, relative to gradcheck's ``max(rms(x), 1)``."""
    std = float(np.min(np.sqrt(x.var(axis=axis) + eps)))
    rms = max(float(np.sqrt(np.mean(x * x))), 1.0)
    return min(1e-5 * std / rms, 1e-3)


def assert_f32_close(name, a32, a64, natural):
    """float32 vs float64 on the same inputs (these kernels compute in float64 and round
    once: "float32_vs_float64_rounded_once" in tests/_tolerances.py)."""
    _f32_close(name, a32, a64, natural, "float32_vs_float64_rounded_once")


def make_inputs(rng, n, c, scale, dtype=np.float64):
    offset = scale * rng.uniform(-1, 1, size=c)
    x = scale * rng.standard_normal((n, c)) + offset
    gamma = rng.standard_normal(c)
    beta = rng.standard_normal(c)
    dy = rng.standard_normal((n, c))
    return [a.astype(dtype) for a in (x, gamma, beta, dy)]


# --- batchnorm -----------------------------------------------------------------------------


def bn_train(x, gamma, beta, rm=None, rv=None, momentum=0.1, eps=BN_EPS):
    c = x.shape[-1]
    rm = np.zeros(c, x.dtype) if rm is None else rm
    rv = np.ones(c, x.dtype) if rv is None else rv
    y = np.empty_like(x)
    mean, inv_std = np.empty(c, x.dtype), np.empty(c, x.dtype)
    batchnorm_forward_train(x, gamma, beta, rm, rv, momentum, eps, y, mean, inv_std)
    return y, mean, inv_std


def bn_grads(x, gamma, beta, dy, eps=BN_EPS):
    _, mean, inv_std = bn_train(x, gamma, beta, eps=eps)
    dx = np.empty_like(x)
    dgamma = np.zeros_like(gamma)
    dbeta = np.zeros_like(beta)
    batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
    return dx, dgamma, dbeta


@given(seed=seeds, n=st.integers(2, 6), c=st.integers(1, 4), scale=scales, momentum=momenta)
def test_bn_train_forward_and_running_stats(seed, n, c, scale, momentum):
    rng = np.random.default_rng(seed)
    x, gamma, beta, _ = make_inputs(rng, n, c, scale)
    rm0 = rng.standard_normal(c)
    rv0 = rng.uniform(0.5, 2.0, c)
    rm, rv = rm0.copy(), rv0.copy()
    y, mean, inv_std = bn_train(x, gamma, beta, rm, rv, momentum)
    mu = x.mean(axis=0)
    var = x.var(axis=0)  # biased
    np.testing.assert_allclose(mean, mu, rtol=1e-13, atol=1e-15 * scale)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var + BN_EPS), rtol=1e-10)
    np.testing.assert_allclose(
        y, gamma * (x - mu) / np.sqrt(var + BN_EPS) + beta, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(rm, (1 - momentum) * rm0 + momentum * mu, rtol=1e-13, atol=1e-15)
    unbiased = x.var(axis=0, ddof=1)  # N/(N-1) var
    np.testing.assert_allclose(rv, (1 - momentum) * rv0 + momentum * unbiased, rtol=1e-12)


def test_bn_running_stats_over_steps(rng):
    """Three steps from torch's initial state (0, 1), momentum 0.1, then eval uses them."""
    c = 3
    rm, rv = np.zeros(c), np.ones(c)
    want_m, want_v = np.zeros(c), np.ones(c)
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    for n in (4, 2, 7):
        x = 2.0 * rng.standard_normal((n, c)) + 1.0
        bn_train(x, gamma, beta, rm, rv, 0.1)
        want_m = 0.9 * want_m + 0.1 * x.mean(axis=0)
        want_v = 0.9 * want_v + 0.1 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(rm, want_m, rtol=1e-14)
    np.testing.assert_allclose(rv, want_v, rtol=1e-14)
    x = rng.standard_normal((5, c))
    y = np.empty_like(x)
    batchnorm_forward_eval(x, gamma, beta, rm, rv, BN_EPS, y)
    np.testing.assert_allclose(y, gamma * (x - rm) / np.sqrt(rv + BN_EPS) + beta, rtol=1e-14)


def test_bn_eval_batch_of_one_and_untouched_stats(rng):
    x = rng.standard_normal((1, 4))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    rm0, rv0 = rm.copy(), rv.copy()
    y = np.empty_like(x)
    batchnorm_forward_eval(x, gamma, beta, rm, rv, 1e-3, y)
    np.testing.assert_allclose(y, gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta, rtol=1e-14)
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(rv, rv0)


@pytest.mark.parametrize("n", [0, 1])
def test_bn_train_needs_two_samples(n):
    x = np.zeros((n, 3))
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        bn_train(x, np.ones(3), np.zeros(3), rm, rv)
    np.testing.assert_array_equal(rm, 0)  # nothing written
    np.testing.assert_array_equal(rv, 1)


def test_bn_rejects_non_2d():
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        bn_train(np.zeros((2, 3, 4)), np.ones(3), np.zeros(3))


@given(seed=seeds, n=st.integers(2, 5), c=st.integers(1, 4), scale=scales, eps=eps_values)
def test_bn_gradients_fd(seed, n, c, scale, eps):
    rng = np.random.default_rng(seed)
    x, gamma, beta, _ = make_inputs(rng, n, c, scale)
    fn = op(lambda x, g, b: bn_train(x, g, b, eps=eps)[0],
            lambda dy, x, g, b: bn_grads(x, g, b, dy, eps))  # fmt: skip
    assert_gradcheck(fn, (x, gamma, beta), eps=_fd_eps(x, eps))


def test_bn_backward_formula(rng):
    x, gamma, beta, dy = make_inputs(rng, 5, 3, 1.0)
    dx, dgamma, dbeta = bn_grads(x, gamma, beta, dy)
    n = x.shape[0]
    istd = 1 / np.sqrt(x.var(axis=0) + BN_EPS)
    xhat = (x - x.mean(axis=0)) * istd
    np.testing.assert_allclose(dbeta, dy.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(dgamma, (dy * xhat).sum(axis=0), rtol=1e-12)
    want = gamma * istd / n * (n * dy - dy.sum(axis=0) - xhat * (dy * xhat).sum(axis=0))
    np.testing.assert_allclose(dx, want, rtol=1e-10, atol=1e-13)


def _check_accumulates(kernel, grads, fwd, x, gamma, beta, dy, rng):
    """``kernel`` (a norm backward) overwrites dx and accumulates dgamma, dbeta (twice)."""
    dx_ref, dgamma_ref, dbeta_ref = grads(x, gamma, beta, dy)
    _, mean, inv_std = fwd(x, gamma, beta)
    c = gamma.size
    dgamma0, dbeta0 = rng.standard_normal(c), rng.standard_normal(c)
    dgamma, dbeta = dgamma0.copy(), dbeta0.copy()
    dx = np.full_like(x, np.nan)  # must be overwritten, never read
    kernel(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_allclose(dgamma, dgamma0 + dgamma_ref, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(dbeta, dbeta0 + dbeta_ref, rtol=1e-15, atol=1e-15)
    kernel(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
    np.testing.assert_allclose(dgamma, dgamma0 + 2 * dgamma_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(dbeta, dbeta0 + 2 * dbeta_ref, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(dx, dx_ref)


def test_bn_accumulates_params_overwrites_input(rng):
    x, gamma, beta, dy = make_inputs(rng, 4, 3, 1.0)
    _check_accumulates(batchnorm_backward, bn_grads, bn_train, x, gamma, beta, dy, rng)


def test_bn_statistics_accumulate_in_float64():
    # Feature column [2^24, 1, -2^24]: exact mean 1/3. float32 accumulation loses the 1
    # (2^24 + 1 rounds to 2^24) and would give mean 0.
    x = np.array([[2.0**24], [1.0], [-(2.0**24)]], dtype=np.float32)
    assert np.sum(x, axis=0)[0] == 0
    _, mean, _ = bn_train(x, np.ones(1, np.float32), np.zeros(1, np.float32))
    assert mean.dtype == np.float32 and mean[0] == np.float32(1.0 / 3.0)
    dbeta = np.zeros(1, np.float32)
    dx = np.empty_like(x)
    batchnorm_backward(x, x, np.ones(1, np.float32), mean, np.ones(1, np.float32), dx,
                       np.zeros(1, np.float32), dbeta)  # fmt: skip
    assert dbeta[0] == 1.0


@given(seed=seeds, n=st.integers(2, 6), c=st.integers(1, 4), scale=scales, momentum=momenta)
def test_bn_float32_close_to_float64(seed, n, c, scale, momentum):
    rng = np.random.default_rng(seed)
    a32 = make_inputs(rng, n, c, scale, np.float32)
    x, gamma, beta, dy = (a.astype(np.float64) for a in a32)
    rm32, rv32 = np.zeros(c, np.float32), np.ones(c, np.float32)
    rm64, rv64 = np.zeros(c), np.ones(c)
    y32, m32, s32 = bn_train(*a32[:3], rm32, rv32, momentum)
    y64, m64, s64 = bn_train(x, gamma, beta, rm64, rv64, momentum)
    assert_f32_close("y", y32, y64, np.max(np.abs(y64)))
    assert_f32_close("mean", m32, m64, scale)
    assert_f32_close("inv_std", s32, s64, 0)
    assert_f32_close("running_mean", rm32, rm64, scale)
    assert_f32_close("running_var", rv32, rv64, 1 + scale**2)
    # eval forward
    e32, e64 = np.empty_like(y32), np.empty_like(y64)
    batchnorm_forward_eval(a32[0], a32[1], a32[2], rm32, rv32, BN_EPS, e32)
    batchnorm_forward_eval(x, gamma, beta, rm32.astype(np.float64), rv32.astype(np.float64),
                           BN_EPS, e64)  # fmt: skip
    assert_f32_close("y_eval", e32, e64, np.max(np.abs(e64)))
    # backward: both from the same (float32) saved statistics
    out32 = [np.empty_like(x, np.float32), np.zeros(c, np.float32), np.zeros(c, np.float32)]
    out64 = [np.empty_like(x), np.zeros(c), np.zeros(c)]
    batchnorm_backward(a32[3], a32[0], a32[1], m32, s32, *out32)
    batchnorm_backward(dy, x, gamma, m32.astype(np.float64), s32.astype(np.float64), *out64)
    dmax = np.max(np.abs(dy))
    xhat_max = np.max(np.abs((x - m64) * s64))
    natural = {
        "dx": np.max(np.abs(gamma)) * np.max(s64) * dmax * (n + n + n * xhat_max**2) / n,
        "dgamma": n * dmax * xhat_max,
        "dbeta": n * dmax,
    }
    for (name, nat), r32, r64 in zip(natural.items(), out32, out64, strict=True):
        assert_f32_close(name, r32, r64, nat)


# --- layernorm -----------------------------------------------------------------------------


def ln_forward(x, gamma, beta, eps=1e-5):
    n = x.shape[0]
    y = np.empty_like(x)
    mean = np.empty(n, x.dtype)
    inv_std = np.empty(n, x.dtype)
    layernorm_forward(x, gamma, beta, eps, y, mean, inv_std)
    return y, mean, inv_std


def ln_grads(x, gamma, beta, dy, eps=1e-5):
    _, mean, inv_std = ln_forward(x, gamma, beta, eps)
    dx = np.empty_like(x)
    dgamma = np.zeros_like(gamma)
    dbeta = np.zeros_like(beta)
    layernorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)
    return dx, dgamma, dbeta


def make_ln_inputs(rng, n, c, scale, dtype=np.float64):
    x, gamma, beta, dy = make_inputs(rng, n, c, scale)
    x = x + scale * rng.uniform(-1, 1, size=(n, 1))  # row offsets (what LN removes)
    return [a.astype(dtype) for a in (x, gamma, beta, dy)]


@given(seed=seeds, n=st.integers(1, 4), c=st.integers(1, 6), scale=scales, eps=eps_values)
def test_ln_forward_formula(seed, n, c, scale, eps):
    rng = np.random.default_rng(seed)
    x, gamma, beta, _ = make_ln_inputs(rng, n, c, scale)
    y, mean, inv_std = ln_forward(x, gamma, beta, eps)
    mu = x.mean(axis=1)
    var = x.var(axis=1)  # biased
    np.testing.assert_allclose(mean, mu, rtol=1e-13, atol=1e-15 * scale)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var + eps), rtol=1e-10)
    want = gamma * (x - mu[:, None]) / np.sqrt(var[:, None] + eps) + beta
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)


def test_ln_single_feature(rng):
    """C = 1: xhat = 0, so y = beta and dx = 0."""
    x = rng.standard_normal((3, 1))
    gamma, beta, dy = np.array([2.0]), np.array([0.5]), rng.standard_normal((3, 1))
    y, _, _ = ln_forward(x, gamma, beta)
    np.testing.assert_array_equal(y, 0.5)
    dx, dgamma, dbeta = ln_grads(x, gamma, beta, dy)
    np.testing.assert_array_equal(dx, 0)
    np.testing.assert_array_equal(dgamma, 0)
    np.testing.assert_allclose(dbeta, dy.sum(), rtol=1e-15)


def test_ln_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        ln_forward(np.zeros(3), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="at least one feature"):
        ln_forward(np.zeros((2, 0)), np.ones(0), np.zeros(0))


@given(seed=seeds, n=st.integers(1, 4), c=st.integers(1, 5), scale=scales, eps=eps_values)
def test_ln_gradients_fd(seed, n, c, scale, eps):
    rng = np.random.default_rng(seed)
    x, gamma, beta, _ = make_ln_inputs(rng, n, c, scale)
    fn = op(lambda x, g, b: ln_forward(x, g, b, eps)[0],
            lambda dy, x, g, b: ln_grads(x, g, b, dy, eps))  # fmt: skip
    assert_gradcheck(fn, (x, gamma, beta), eps=_fd_eps(x, eps, axis=1))


def test_ln_accumulates_params_overwrites_input(rng):
    x, gamma, beta, dy = make_ln_inputs(rng, 3, 4, 1.0)
    _check_accumulates(layernorm_backward, ln_grads, ln_forward, x, gamma, beta, dy, rng)


def test_ln_statistics_accumulate_in_float64():
    # Row [2^24, 1, -2^24]: exact mean 1/3; a float32 sum would give 0.
    x = np.array([[2.0**24, 1.0, -(2.0**24)]], dtype=np.float32)
    assert np.sum(x, axis=1)[0] == 0
    _, mean, _ = ln_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32))
    assert mean.dtype == np.float32 and mean[0] == np.float32(1.0 / 3.0)


@given(seed=seeds, n=st.integers(1, 4), c=st.integers(1, 6), scale=scales)
def test_ln_float32_close_to_float64(seed, n, c, scale):
    rng = np.random.default_rng(seed)
    a32 = make_ln_inputs(rng, n, c, scale, np.float32)
    x, gamma, beta, dy = (a.astype(np.float64) for a in a32)
    y32, m32, s32 = ln_forward(*a32[:3])
    y64, m64, s64 = ln_forward(x, gamma, beta)
    assert_f32_close("y", y32, y64, np.max(np.abs(y64)))
    assert_f32_close("mean", m32, m64, scale)
    assert_f32_close("inv_std", s32, s64, 0)
    # backward: both from the same (float32) saved statistics
    out32 = [np.empty_like(x, np.float32), np.zeros(c, np.float32), np.zeros(c, np.float32)]
    out64 = [np.empty_like(x), np.zeros(c), np.zeros(c)]
    layernorm_backward(a32[3], a32[0], a32[1], m32, s32, *out32)
    layernorm_backward(dy, x, gamma, m32.astype(np.float64), s32.astype(np.float64), *out64)
    dmax = np.max(np.abs(dy))
    xhat_max = np.max(np.abs((x - m64[:, None]) * s64[:, None]))
    natural = {
        "dx": np.max(np.abs(gamma)) * np.max(s64) * dmax * (2 + xhat_max**2),
        "dgamma": n * dmax * xhat_max,
        "dbeta": n * dmax,
    }
    for (name, nat), r32, r64 in zip(natural.items(), out32, out64, strict=True):
        assert_f32_close(name, r32, r64, nat)
