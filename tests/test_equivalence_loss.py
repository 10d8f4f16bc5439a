"""Equivalence suite, loss family: softmax cross-entropy, MSE, BCE-with-logits, every compiled
backend vs the NumPy reference, float32 and float64 (harness: ``tests/_equivalence.py``;
tolerances: ``tests/_tolerances.py``).

The loss values are computed in float64 by every backend (one double accumulation), so they
agree to float64 summation order whatever the data dtype. The gradients are computed in double
and rounded once, like the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from _equivalence import (
    BACKEND,
    C_ONLY,
    DT,
    MODS,
    SETTINGS,
    both,
    rand,
    randn,
    read_only,
    value_scales,
)
from _tolerances import close, tol
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref
from gradcore.testing import strategies as gst

K = "compiled"


def _label_scale(shape, labels):
    """dlogits = (softmax - onehot) / N cancels only at the label (p ~ 1 - 2e-7 gave an error
    of one ulp of 1/N, 6e-10 relative): there it is judged at its terms' scale 1/N, elsewhere
    relatively."""
    s = np.zeros(shape)
    s[np.arange(shape[0]), np.asarray(labels, np.int64)] = 1.0 / shape[0]
    return s


def _loss_close(got, want, dt, **kw):
    """A loss value (a Python float, accumulated in float64 by every backend)."""
    assert isinstance(got, float)
    close(np.float64(got), np.float64(want), K, dt, **kw)


@BACKEND
@DT
@SETTINGS
@given(n=st.integers(1, 6), k=st.integers(1, 6), grad=st.booleans(), data=st.data())
def test_softmax_xent(name, dt, n, k, grad, data):
    logits = randn(data, (n, k), dt, lo=-1, hi=2)
    labels = data.draw(gst.labels(n, k))

    def args():
        return (logits, labels, np.empty((n, k), dt) if grad else None)

    a_r, a_b, l_r, l_b = both("softmax_xent", name, args)
    _loss_close(l_b, l_r, dt)
    if grad:
        close(a_b[2], a_r[2], K, scale=_label_scale((n, k), labels))


@BACKEND
@DT
@given(
    N=st.integers(1, 7),
    K_=st.integers(1, 7),
    scale=value_scales,
    seed=st.integers(0, 2**32 - 1),
    grad=st.booleans(),
    label_dtype=st.sampled_from([np.int64, np.int32, np.uint8]),
)
def test_softmax_xent_over_value_scales(name, dt, N, K_, scale, seed, grad, label_dtype):
    """Logits of scale 1e-3 .. 300, labels of three integer dtypes; the loss to 1e-13."""
    rng = np.random.default_rng(seed)
    z = rand(rng, (N, K_), dt, scale)
    labels = rng.integers(0, K_, N).astype(label_dtype)
    g_ref = np.empty_like(z) if grad else None
    g = np.full_like(z, np.nan) if grad else None
    want = ref.softmax_xent(z, labels, g_ref)
    got = MODS[name].softmax_xent(z, labels, g)
    assert isinstance(got, float)
    assert got == pytest.approx(want, rel=1e-13, abs=1e-300)  # double math in both
    if grad:
        # softmax = exp(z - max - lse): a rounding of the argument (~ulp(max|z|)) is a relative
        # error of the result, so the relative slack grows with the logits' magnitude
        grow = 1.0 + 4 * np.finfo(dt).eps * float(np.abs(z).max(initial=0.0)) / tol(K, dt)
        close(g, g_ref, K, factor=grow, scale=_label_scale(z.shape, labels))


@BACKEND
@DT
@SETTINGS
@given(
    op=st.sampled_from(["mse", "bce_with_logits"]),
    shape=gst.shapes(min_dims=1, max_dims=3),
    grad=st.booleans(),
    data=st.data(),
)
def test_elementwise_losses(name, dt, op, shape, grad, data):
    pred = randn(data, shape, dt, lo=-1, hi=2)
    if op == "mse":
        target = randn(data, shape, dt)
    else:
        target = np.random.default_rng(data.draw(gst.seeds())).uniform(size=shape).astype(dt)

    def args():
        return (pred, target, np.empty(shape, dt) if grad else None)

    a_r, a_b, l_r, l_b = both(op, name, args)
    _loss_close(l_b, l_r, dt)
    if grad:
        # d = (pred - target) / M or (sigmoid(pred) - target) / M: a difference of terms of
        # size (|pred| + |target|) / M (sigmoid <= 1)
        M = max(pred.size, 1)
        terms = (np.minimum(np.abs(pred), 1 if op != "mse" else np.inf) + np.abs(target)) / M
        close(a_b[2], a_r[2], K, scale=terms)


@BACKEND
@pytest.mark.parametrize("op", ["mse", "bce_with_logits"])
@DT
@given(
    shape=st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple),
    scale=value_scales,
    seed=st.integers(0, 2**32 - 1),
    grad=st.booleans(),
)
def test_mse_bce_over_value_scales(name, op, dt, shape, scale, seed, grad):
    rng = np.random.default_rng(seed)
    p = rand(rng, shape, dt, scale)
    t = rand(rng, shape, dt) if op == "mse" else np.array(rng.random(shape), dtype=dt)
    g_ref = np.empty_like(p) if grad else None
    g = np.full_like(p, np.nan) if grad else None
    want = getattr(ref, op)(p, t, g_ref)
    got = getattr(MODS[name], op)(p, t, g)
    assert got == pytest.approx(want, rel=1e-13, abs=1e-300)
    if grad:
        # computed in double and rounded once, like the reference; NumPy's SIMD exp differs
        # from libm's by an ulp, which sigmoid(z) - t can amplify: the terms' scale 1 / M
        close(g, g_ref, K, scale=1.0 / p.size)


@BACKEND
@DT
def test_losses_large_inputs_use_threads(name, dt, rng):
    be = MODS[name]
    z = rand(rng, (3000, 30), dt, 3.0)
    labels = rng.integers(0, 30, 3000)
    g, g_ref = np.empty_like(z), np.empty_like(z)
    assert be.softmax_xent(z, labels, g) == pytest.approx(
        ref.softmax_xent(z, labels, g_ref), rel=1e-13
    )
    close(g, g_ref, K, scale=_label_scale(z.shape, labels))
    p, t = rand(rng, 200_000, dt), rng.random(200_000).astype(dt)
    for op in ("mse", "bce_with_logits"):
        g, g_ref = np.empty_like(p), np.empty_like(p)
        got = getattr(be, op)(p, t, g)
        assert got == pytest.approx(getattr(ref, op)(p, t, g_ref), rel=1e-12)
        close(g, g_ref, K, scale=1.0 / p.size)


@BACKEND
@DT
def test_losses_propagate_nan_and_inf_like_reference(name, dt):
    be = MODS[name]
    z = np.array([[0.0, 1.0, 2.0], [np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0]], dt)
    labels = np.array([0, 1, 2, 1])
    g, g_ref = np.empty_like(z), np.empty_like(z)
    with np.errstate(all="ignore"):
        want = ref.softmax_xent(z, labels, g_ref)
    got = be.softmax_xent(z, labels, g)
    assert np.isnan(got) and np.isnan(want)
    close(g, g_ref, K)
    p = np.array([0.0, np.nan, np.inf, -np.inf, 1.0], dt)
    t = np.array([0.5, 0.5, 1.0, 0.0, 1.0], dt)
    for op in ("mse", "bce_with_logits"):
        g, g_ref = np.empty_like(p), np.empty_like(p)
        with np.errstate(all="ignore"):
            want = getattr(ref, op)(p, t, g_ref)
        got = getattr(be, op)(p, t, g)
        assert np.isnan(got) == np.isnan(want) and (np.isnan(got) or got == want)
        np.testing.assert_array_equal(g, g_ref)  # NaN where NaN, values exactly


# ------------------------------------------------------------------------- c: input handling


@C_ONLY
def test_c_loss_bad_inputs_raise():
    cb = MODS["c"]
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels\[1\] = 4"):
        cb.softmax_xent(z, np.array([0, 4, -1]), None)
    g = np.full_like(z, 7.0)
    with pytest.raises(ValueError, match="out of range"):
        cb.softmax_xent(z, np.array([0, 1, -1]), g)
    assert (g == 7.0).all()  # nothing written on a bad label
    with pytest.raises(TypeError, match="integer"):
        cb.softmax_xent(z, np.zeros(3), None)
    with pytest.raises(ValueError, match=r"labels .*shape"):
        cb.softmax_xent(z, np.zeros(4, np.int64), None)
    with pytest.raises(ValueError, match="empty batch"):
        cb.softmax_xent(np.zeros((0, 4)), np.zeros(0, np.int64), None)
    with pytest.raises(ValueError, match=r"share.* memory with logits"):
        cb.softmax_xent(z, np.zeros(3, np.int64), z)
    with pytest.raises(ValueError, match=r"read-only|writeable"):
        cb.softmax_xent(z, np.zeros(3, np.int64), read_only(z))
    with pytest.raises(ValueError, match="same shape"):
        cb.mse(np.zeros(3), np.zeros(4), None)
    with pytest.raises(TypeError, match=r"target .*float64"):
        cb.mse(np.zeros(3), np.zeros(3, np.float32), None)
    with pytest.raises(ValueError, match="empty"):
        cb.bce_with_logits(np.zeros(0), np.zeros(0), None)
    with pytest.raises(ValueError, match="C-contiguous"):
        cb.bce_with_logits(np.zeros((4, 4))[:, 0], np.zeros(4), None)
    p = np.zeros(3)
    assert cb.mse(p, np.ones(3), p) == 1.0 and (p == -2.0 / 3).all()  # dpred may be pred
