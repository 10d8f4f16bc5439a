"""A whole model against PyTorch (float64): Dense-BN-ReLU-Dense + cross-entropy, every
gradient, on every backend (tolerance: "torch" in ``tests/_tolerances.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from _torch_oracle import F64, RTOL, F, close, t, torch

import gradcore as gc
from gradcore import nn


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_whole_model_step_vs_torch(rng):
    """Dense-BN-ReLU-Dense + cross-entropy: every gradient of a small model."""
    model = nn.Sequential(
        [
            nn.Dense(4, 8, "linear", dtype=F64, seed=0),
            nn.BatchNorm(8, dtype=F64),
            nn.Activation("relu", dtype=F64),
            nn.Dense(8, 3, "linear", dtype=F64, seed=1),
        ]
    )
    tm = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).double()
    with torch.no_grad():
        for ti, gi in [(0, 0), (3, 3)]:
            tm[ti].weight.copy_(t(model.layers[gi].params["W"].T))
            tm[ti].bias.copy_(t(model.layers[gi].params["b"]))
    X, y = rng.normal(size=(16, 4)), rng.integers(0, 3, 16)
    loss = gc.losses.SoftmaxCrossEntropy()
    value = loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    ref = F.cross_entropy(tm(t(X)), torch.tensor(y))
    ref.backward()
    np.testing.assert_allclose(value, ref.item(), rtol=RTOL)
    close(model.grads["0.Dense.W"], tm[0].weight.grad.T)
    close(model.grads["1.BatchNorm.gamma"], tm[1].weight.grad)
    close(model.grads["1.BatchNorm.beta"], tm[1].bias.grad)
    close(model.grads["3.Dense.W"], tm[3].weight.grad.T)
    close(model.grads["3.Dense.b"], tm[3].bias.grad)
