"""BatchNorm against PyTorch (float64): the reference kernels (BatchNorm1d over several
training steps, then eval) and the ``BatchNorm`` layer on every backend (tolerance: "torch" in
``tests/_tolerances.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from _torch_oracle import F64, close, leaf, t, torch

from gradcore import nn
from gradcore.backends.reference.batchnorm import (
    batchnorm_backward,
    batchnorm_forward_eval,
    batchnorm_forward_train,
)

# --- reference kernels ---------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batchnorm_train_steps_then_eval_vs_torch(momentum, rng):
    c, eps = 3, 1e-5
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    bn = torch.nn.BatchNorm1d(c, eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    bn.train()
    rm, rv = np.zeros(c), np.ones(c)  # torch's initial running stats
    dgamma, dbeta = np.zeros(c), np.zeros(c)  # accumulate over steps, as torch's .grad does
    for n in (4, 2, 7):
        x = 1.5 * rng.standard_normal((n, c)) + rng.standard_normal(c)
        dy = rng.standard_normal((n, c))
        y, mean, inv_std = np.empty_like(x), np.empty(c), np.empty(c)
        batchnorm_forward_train(x, gamma, beta, rm, rv, momentum, eps, y, mean, inv_std)
        dx = np.empty_like(x)
        batchnorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)

        xt = leaf(x)
        yt = bn(xt)
        (yt * torch.from_numpy(dy)).sum().backward()
        close(y, yt, f"y (N={n})")
        close(rm, bn.running_mean, f"running_mean (N={n})")
        close(rv, bn.running_var, f"running_var (N={n})")
        close(dx, xt.grad, f"dx (N={n})")
        close(dgamma, bn.weight.grad, f"dgamma (N={n})")
        close(dbeta, bn.bias.grad, f"dbeta (N={n})")

    bn.eval()
    for n in (5, 1):
        x = rng.standard_normal((n, c))
        y = np.empty_like(x)
        batchnorm_forward_eval(x, gamma, beta, rm, rv, eps, y)
        with torch.no_grad():
            close(y, bn(torch.from_numpy(x)), f"eval y (N={n})")


def test_batchnorm_batch_of_one_rejected_like_torch():
    bn = torch.nn.BatchNorm1d(3, dtype=torch.float64).train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(torch.zeros(1, 3, dtype=torch.float64))
    x = np.zeros((1, 3))
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        batchnorm_forward_train(
            x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 0.1, 1e-5,
            np.empty_like(x), np.empty(3), np.empty(3),
        )  # fmt: skip


# --- layer (every backend) -----------------------------------------------------------------------


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_batchnorm_vs_batchnorm1d_over_steps(rng):
    bn = nn.BatchNorm(4, momentum=0.1, eps=1e-5, dtype=F64)
    tb = torch.nn.BatchNorm1d(4, momentum=0.1, eps=1e-5, dtype=torch.float64)
    g = rng.normal(size=4) + 1
    bn.params["gamma"][:] = g
    with torch.no_grad():
        tb.weight.copy_(t(g))
    for step in range(5):
        x, dy = rng.normal(1.0, 2.0, size=(9, 4)), rng.normal(size=(9, 4))
        tb.train()
        xt = t(x, True)
        yt = tb(xt)
        yt.backward(t(dy))
        bn.zero_grad()
        close(bn.forward(x, training=True), yt)
        close(bn.backward(dy), xt.grad)
        close(bn.grads["gamma"], tb.weight.grad)
        close(bn.grads["beta"], tb.bias.grad)
        tb.weight.grad = tb.bias.grad = None
        close(bn.buffers["running_mean"], tb.running_mean)
        close(bn.buffers["running_var"], tb.running_var)
        assert int(bn.buffers["num_batches_tracked"]) == int(tb.num_batches_tracked) == step + 1
    tb.eval()
    x, dy = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    xt = t(x, True)
    yt = tb(xt)
    yt.backward(t(dy))
    bn.zero_grad()
    close(bn.forward(x, training=False), yt)
    close(bn.backward(dy), xt.grad)
    close(bn.grads["gamma"], tb.weight.grad)
