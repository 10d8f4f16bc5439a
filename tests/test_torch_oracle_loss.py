"""Losses against PyTorch (float64): the reference kernels (F.cross_entropy, F.mse_loss,
F.binary_cross_entropy_with_logits, extremes, the documented differences) and the loss objects
on every backend (tolerance: "torch" in ``tests/_tolerances.py``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _torch_oracle import RTOL, F, close, leaf, t, torch

import gradcore as gc
from gradcore.backends.reference.loss import bce_with_logits, mse, softmax_xent


def _vs_torch(ours, theirs, pred, target, dname):
    """The loss kernel ``ours(pred, target, d)`` against ``theirs`` (torch, autograd): the
    value and the gradient ``d``."""
    d = np.empty_like(pred)
    loss = ours(pred, target, d)
    pt = leaf(pred)
    lt = theirs(pt, torch.from_numpy(target))
    lt.backward()
    close(loss, lt, "loss")
    close(d, pt.grad, dname)


# --- reference kernels ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(6, 4), (1, 3), (3, 1), (2, 10)])
def test_cross_entropy_vs_torch(n, k, rng):
    z = 3.0 * rng.standard_normal((n, k))
    labels = rng.integers(0, k, size=n)
    _vs_torch(softmax_xent, F.cross_entropy, z, labels, "dlogits")


def test_cross_entropy_extreme_logits_vs_torch():
    z = np.array([[1e3, -1e3, 0.0], [1e3, 1e3, -1e3], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([1, 0, 0, 2])
    _vs_torch(softmax_xent, F.cross_entropy, z, labels, "dlogits")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (1, 1), (2, 3, 2)])
def test_mse_vs_torch(shape, rng):
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    _vs_torch(mse, F.mse_loss, p, t, "dpred")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (1, 1), (2, 3, 2)])
@pytest.mark.parametrize("hard", [True, False])
def test_bce_with_logits_vs_torch(shape, hard, rng):
    z = 4.0 * rng.standard_normal(shape)
    t = rng.integers(0, 2, size=shape).astype(float) if hard else rng.uniform(0, 1, shape)
    _vs_torch(bce_with_logits, F.binary_cross_entropy_with_logits, z, t, "dlogits")


def test_bce_with_logits_extremes_vs_torch():
    z = np.array([1e3, -1e3, 1e3, -1e3, 1e4, -1e4, 0.0, 40.0, -40.0])
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.5, 0.3, 0.7])
    _vs_torch(bce_with_logits, F.binary_cross_entropy_with_logits, z, t, "dlogits")


# --- documented differences from torch -----------------------------------------------------------


def test_difference_empty_inputs_raise_where_torch_returns_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch may warn about the empty reduction
        assert torch.isnan(F.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))
        assert torch.isnan(F.mse_loss(torch.zeros(0), torch.zeros(0)))
        assert torch.isnan(F.binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0)))
    with pytest.raises(ValueError, match="empty"):
        softmax_xent(np.zeros((0, 3)), np.zeros(0, np.int64), None)
    with pytest.raises(ValueError, match="empty"):
        mse(np.zeros(0), np.zeros(0), None)
    with pytest.raises(ValueError, match="empty"):
        bce_with_logits(np.zeros(0), np.zeros(0), None)


def test_difference_no_ignore_index():
    z = np.zeros((2, 3))
    labels = np.array([0, -100])
    # torch ignores label -100 by default (mean over the remaining samples) ...
    lt = F.cross_entropy(torch.from_numpy(z), torch.from_numpy(labels))
    assert float(lt) == pytest.approx(np.log(3.0))
    # ... the contract has no ignore_index: every label must be a class
    with pytest.raises(ValueError, match=r"labels\[1\] = -100"):
        softmax_xent(z, labels, None)


# --- losses (every backend) ----------------------------------------------------------------------


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce"])
def test_losses_vs_torch(loss_name, rng):
    logits = rng.normal(0, 3, size=(8, 5))
    zt = t(logits, True)
    if loss_name == "ce":
        labels = rng.integers(0, 5, 8)
        ours = gc.losses.SoftmaxCrossEntropy()
        value = ours.forward(logits, labels)
        ref = F.cross_entropy(zt, torch.tensor(labels))
    elif loss_name == "mse":
        target = rng.normal(size=(8, 5))
        ours = gc.losses.MSE()
        value = ours.forward(logits, target)
        ref = F.mse_loss(zt, t(target))
    else:
        target = rng.uniform(size=(8, 5))
        ours = gc.losses.BCEWithLogits()
        value = ours.forward(logits, target)
        ref = F.binary_cross_entropy_with_logits(zt, t(target))
    ref.backward()
    np.testing.assert_allclose(value, ref.item(), rtol=RTOL)
    close(ours.backward(), zt.grad)
