"""Reference losses: values, finite-difference gradients, stability, label validation.

Gradients are checked in float64 against central differences of the scalar loss by
``gc.gradcheck`` (through ``tests/_fd.py``; its step, round-off floor and tolerance are
documented in ``gradcore.gradcheck`` and ``tests/_tolerances.py``).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import scipy.special
from _fd import assert_gradcheck
from _tolerances import assert_f32_close as _f32_close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends.reference.loss import bce_with_logits, mse, softmax_xent

EPS64 = np.finfo(np.float64).eps
FD_RTOL = 1e-6

seeds = st.integers(0, 2**32 - 1)
scales = st.floats(-3.0, 2.0).map(lambda e: 10.0**e)  # value scales 1e-3 .. 1e2
shapes = st.sampled_from([(1,), (5,), (1, 1), (3, 1), (1, 4), (2, 3), (3, 2, 2)])


# --- helpers -------------------------------------------------------------------------------


class KernelLoss:
    """A loss kernel ``fn(pred, target, dpred)`` as a gc.gradcheck *loss* target
    (``forward(pred, target) -> float``, ``backward() -> dpred``): gradcheck then differentiates
    ``pred`` only and sets its round-off floor from ``|L| + mean|pred|``, the loss's absolute
    error scale (``logsumexp(z) - z_label`` rounds at the size of the logits, not of a loss
    that is ~1e-13 when one logit dominates)."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, pred, target):
        self.pred, self.target = pred, target
        return self.fn(pred, target, None)

    def backward(self):
        d = np.empty_like(self.pred)
        self.fn(self.pred, self.target, d)
        return d


def assert_f32_close(name, a32, a64, natural):
    """float32 vs float64 on the same inputs (these kernels compute in float64 and round
    once: "float32_vs_float64_rounded_once" in tests/_tolerances.py)."""
    _f32_close(name, a32, a64, natural, "float32_vs_float64_rounded_once")


@contextlib.contextmanager
def no_warnings():
    """Any Python warning, and NumPy overflow/invalid/divide, becomes an error in the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            yield


def xent(logits, labels):
    d = np.empty_like(logits)
    loss = softmax_xent(logits, labels, d)
    return loss, d


def make_xent(rng, n, k, scale, dtype=np.float64):
    logits = (scale * rng.standard_normal((n, k))).astype(dtype)
    labels = rng.integers(0, k, size=n).astype(np.int64)
    return logits, labels


# --- softmax cross-entropy -----------------------------------------------------------------


@given(seed=seeds, n=st.integers(1, 5), k=st.integers(1, 5), scale=scales)
def test_xent_value_and_gradient_fd(seed, n, k, scale):
    rng = np.random.default_rng(seed)
    z, y = make_xent(rng, n, k, scale)
    loss, _ = xent(z, y)
    assert isinstance(loss, float)
    # naive formula is fine at these scales in float64 (|z| <= ~500)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    naive = -np.mean(np.log(p[np.arange(n), y]))
    assert abs(loss - naive) <= 1e-12 * max(1.0, abs(naive)) + 1e-12 * np.max(np.abs(z))
    assert_gradcheck(KernelLoss(softmax_xent), (z, y))


def test_xent_gradient_formula(rng):
    z, y = make_xent(rng, 4, 3, 1.0)
    _, d = xent(z, y)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(d, (p - onehot) / 4, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-16)  # rows of softmax - onehot


def test_xent_mean_over_batch(rng):
    z, y = make_xent(rng, 3, 4, 1.0)
    loss, d = xent(z, y)
    loss2, d2 = xent(np.concatenate([z, z]), np.concatenate([y, y]))
    assert loss2 == pytest.approx(loss, rel=1e-15)
    np.testing.assert_allclose(d2[:3], d / 2, rtol=1e-15)


def test_xent_single_class_is_zero():
    loss, d = xent(np.array([[3.0], [-7.0]]), np.array([0, 0]))
    assert loss == 0.0
    np.testing.assert_array_equal(d, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xent_extreme_logits(dtype):
    z = np.array([[1e3, -1e3, 0.0], [1e3, -1e3, 0.0], [1e3, 1e3, -1e3], [-1e4, 1e4, 0.0]], dtype)
    y = np.array([1, 0, 0, 0])
    with no_warnings():
        loss, d = xent(z, y)
    # per row: 2000, 0, log 2, 2e4
    assert loss == pytest.approx((2000.0 + 0.0 + np.log(2.0) + 2e4) / 4, rel=1e-15)
    want = np.array([[1, -1, 0], [0, 0, 0], [-0.5, 0.5, 0], [-1, 1, 0]]) / 4
    assert d.dtype == dtype
    np.testing.assert_allclose(d, want, rtol=1e-7, atol=0)


def test_xent_overwrites_and_none(rng):
    z, y = make_xent(rng, 3, 4, 1.0)
    loss, d_ref = xent(z, y)
    d = np.full_like(z, np.nan)  # must be overwritten, never read
    assert softmax_xent(z, y, d) == loss
    np.testing.assert_array_equal(d, d_ref)
    assert softmax_xent(z, y, None) == loss


def test_xent_accepts_other_integer_dtypes(rng):
    z, y = make_xent(rng, 3, 4, 1.0)
    loss, d = xent(z, y)
    for dt in (np.int32, np.uint8, np.int16):
        l2, d2 = xent(z, y.astype(dt))
        assert l2 == loss
        np.testing.assert_array_equal(d2, d)


@pytest.mark.parametrize(
    "labels",
    [np.array([0.0, 1.0, 2.0]), np.array([True, False, True]), [0, 1, 2]],
    ids=["float", "bool", "list"],
)
def test_xent_label_dtype_errors(labels):
    with pytest.raises(TypeError, match="labels must be an integer ndarray"):
        softmax_xent(np.zeros((3, 4)), labels, None)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([0, 4, 1]), r"labels must be in \[0, 4\) for 4 classes; got labels\[1\] = 4"),
        (np.array([0, 1, -1]), r"got labels\[2\] = -1"),
        (np.array([-100, 1, 2]), r"got labels\[0\] = -100"),  # no ignore_index (torch: -100)
        (np.array([7, 9, 2]), r"\(2 label\(s\) out of range\)"),
        (np.array([[0], [1], [2]]), r"labels must have shape \[N\] = \[3\], got \[3, 1\]"),
        (np.array([0, 1]), r"shape \[N\] = \[3\], got \[2\]"),
    ],
)
def test_xent_label_value_errors(labels, match):
    d = np.zeros((3, 4))
    with pytest.raises(ValueError, match=match):
        softmax_xent(np.zeros((3, 4)), labels, d)
    np.testing.assert_array_equal(d, 0)  # nothing written


def test_xent_other_input_errors():
    with pytest.raises(ValueError, match=r"logits must have shape \[N, K\]"):
        softmax_xent(np.zeros(4), np.array([0]), None)
    with pytest.raises(ValueError, match="empty batch"):
        softmax_xent(np.zeros((0, 3)), np.zeros(0, np.int64), None)
    with pytest.raises(TypeError, match="logits must be a float32 or float64"):
        softmax_xent(np.zeros((2, 3), np.int64), np.array([0, 1]), None)
    with pytest.raises(ValueError, match="dlogits and logits must have the same shape"):
        softmax_xent(np.zeros((2, 3)), np.array([0, 1]), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"in \[0, 0\)"):  # K = 0: no valid label
        softmax_xent(np.zeros((2, 0)), np.array([0, 0]), None)


@given(seed=seeds, n=st.integers(1, 5), k=st.integers(1, 5), scale=scales)
def test_xent_float32_close_to_float64(seed, n, k, scale):
    rng = np.random.default_rng(seed)
    z32, y = make_xent(rng, n, k, scale, np.float32)
    l32, d32 = xent(z32, y)
    l64, d64 = xent(z32.astype(np.float64), y)
    assert np.isfinite(l32) and l32 == pytest.approx(l64, rel=1e-12, abs=1e-12)
    assert_f32_close("dlogits", d32, d64, 1.0 / n)


# --- mse -----------------------------------------------------------------------------------


@given(seed=seeds, shape=shapes, scale=scales)
def test_mse_value_and_gradient_fd(seed, shape, scale):
    rng = np.random.default_rng(seed)
    p = scale * rng.standard_normal(shape)
    t = scale * rng.standard_normal(shape)
    d = np.empty_like(p)
    loss = mse(p, t, d)
    assert isinstance(loss, float)
    assert loss == pytest.approx(np.mean((p - t) ** 2), rel=1e-13)
    np.testing.assert_allclose(d, 2 * (p - t) / p.size, rtol=1e-15)
    assert_gradcheck(KernelLoss(mse), (p, t))


def test_mse_overwrites_extremes_and_errors():
    p = np.array([[1e3, -1e3], [0.0, 2.0]])
    t = np.array([[-1e3, 1e3], [0.0, 1.0]])
    d = np.full_like(p, np.nan)
    with no_warnings():
        loss = mse(p, t, d)
    assert loss == pytest.approx((4e6 + 4e6 + 0 + 1) / 4, rel=1e-15)
    np.testing.assert_array_equal(d, 2 * (p - t) / 4)
    with pytest.raises(ValueError, match=r"same shape, got \[2, 2\] and \[2\] \(no broadcasting"):
        mse(p, np.zeros(2), None)
    with pytest.raises(ValueError, match="empty"):
        mse(np.zeros(0), np.zeros(0), None)
    with pytest.raises(TypeError, match="pred must be a float32 or float64"):
        mse(np.zeros(2, np.int64), np.zeros(2, np.int64), None)


@given(seed=seeds, shape=shapes, scale=scales)
def test_mse_float32_close_to_float64(seed, shape, scale):
    rng = np.random.default_rng(seed)
    p = (scale * rng.standard_normal(shape)).astype(np.float32)
    t = (scale * rng.standard_normal(shape)).astype(np.float32)
    d32, d64 = np.empty_like(p), np.empty(shape)
    l32 = mse(p, t, d32)
    l64 = mse(p.astype(np.float64), t.astype(np.float64), d64)
    assert np.isfinite(l32) and l32 == pytest.approx(l64, rel=1e-12)
    assert_f32_close("dpred", d32, d64, scale / p.size)


# --- bce with logits -----------------------------------------------------------------------


def make_bce(rng, shape, scale, hard, dtype=np.float64):
    z = scale * rng.standard_normal(shape)
    t = rng.integers(0, 2, size=shape).astype(float) if hard else rng.uniform(0, 1, shape)
    return z.astype(dtype), t.astype(dtype)


@given(seed=seeds, shape=shapes, scale=scales, hard=st.booleans())
def test_bce_value_and_gradient_fd(seed, shape, scale, hard):
    rng = np.random.default_rng(seed)
    z, t = make_bce(rng, shape, scale, hard)
    d = np.empty_like(z)
    loss = bce_with_logits(z, t, d)
    assert isinstance(loss, float)
    # -(t log σ(z) + (1-t) log σ(-z)), with scipy's accurate log σ (independent code path)
    want = -np.mean(t * scipy.special.log_expit(z) + (1 - t) * scipy.special.log_expit(-z))
    assert loss == pytest.approx(want, rel=1e-13, abs=1e-300)
    s = 1 / (1 + np.exp(-np.clip(z, -700, 700)))
    # atol: σ - t cancels when σ ≈ t; each of σ, t (<= 1) carries ~eps of rounding
    np.testing.assert_allclose(d, (s - t) / z.size, rtol=1e-13, atol=4 * EPS64 / z.size)
    assert_gradcheck(KernelLoss(bce_with_logits), (z, t))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_extreme_logits(dtype):
    z = np.array([1e3, -1e3, 1e3, -1e3, 1e4, -1e4, 0.0, 0.0], dtype)
    t = np.array([0, 1, 1, 0, 0, 1, 1, 0.5], dtype)
    d = np.full_like(z, np.nan)
    with no_warnings():
        loss = bce_with_logits(z, t, d)
    # per element: 1000, 1000, 0, 0, 1e4, 1e4, log 2, log 2
    assert loss == pytest.approx((2000 + 2e4 + 2 * np.log(2.0)) / 8, rel=1e-15)
    want = np.array([1, -1, 0, 0, 1, -1, -0.5, 0.0]) / 8
    assert d.dtype == dtype
    np.testing.assert_allclose(d, want, rtol=1e-7, atol=0)


def test_bce_tail_accuracy():
    # z = -40, t = 0: loss = log1p(exp(-40)) ~ 4.25e-18 keeps full relative precision
    z, t = np.array([-40.0]), np.array([0.0])
    assert bce_with_logits(z, t, None) == pytest.approx(np.log1p(np.exp(-40.0)), rel=1e-15)


def test_bce_errors():
    with pytest.raises(ValueError, match="logits and target must have the same shape"):
        bce_with_logits(np.zeros((2, 1)), np.zeros(2), None)
    with pytest.raises(ValueError, match="empty"):
        bce_with_logits(np.zeros((0, 3)), np.zeros((0, 3)), None)
    with pytest.raises(ValueError, match="dlogits and logits must have the same shape"):
        bce_with_logits(np.zeros(3), np.zeros(3), np.zeros(2))


@given(seed=seeds, shape=shapes, scale=scales, hard=st.booleans())
def test_bce_float32_close_to_float64(seed, shape, scale, hard):
    rng = np.random.default_rng(seed)
    z, t = make_bce(rng, shape, scale, hard, np.float32)
    d32, d64 = np.empty_like(z), np.empty(shape)
    l32 = bce_with_logits(z, t, d32)
    l64 = bce_with_logits(z.astype(np.float64), t.astype(np.float64), d64)
    assert np.isfinite(l32) and l32 == pytest.approx(l64, rel=1e-12)
    assert_f32_close("dlogits", d32, d64, 1.0 / z.size)
