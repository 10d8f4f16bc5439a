"""LayerNorm against PyTorch (float64): the reference kernels (F.layer_norm) and the
``LayerNorm`` layer on every backend (tolerance: "torch" in ``tests/_tolerances.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from _torch_oracle import F64, F, close, leaf, t, torch

from gradcore import nn
from gradcore.backends.reference.layernorm import layernorm_backward, layernorm_forward

# --- reference kernels ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "c"), [(4, 5), (1, 3), (3, 1), (2, 8)])
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_layernorm_vs_torch(n, c, eps, rng):
    x = 2.0 * rng.standard_normal((n, c)) + rng.standard_normal((n, 1))
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    dy = rng.standard_normal((n, c))
    y, mean, inv_std = np.empty_like(x), np.empty(n), np.empty(n)
    layernorm_forward(x, gamma, beta, eps, y, mean, inv_std)
    dx, dgamma, dbeta = np.empty_like(x), np.zeros(c), np.zeros(c)
    layernorm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta)

    xt, gt, bt = leaf(x), leaf(gamma), leaf(beta)
    yt = F.layer_norm(xt, (c,), gt, bt, eps)
    (yt * torch.from_numpy(dy)).sum().backward()
    close(y, yt, "y")
    close(dx, xt.grad, "dx")
    close(dgamma, gt.grad, "dgamma")
    close(dbeta, bt.grad, "dbeta")


# --- layer (every backend) -----------------------------------------------------------------------


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
def test_layernorm_layer_vs_torch(rng):
    ln = nn.LayerNorm(6, dtype=F64)
    ln.params["gamma"][:] = rng.normal(size=6)
    ln.params["beta"][:] = rng.normal(size=6)
    tl = torch.nn.LayerNorm(6, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        tl.weight.copy_(t(ln.params["gamma"]))
        tl.bias.copy_(t(ln.params["beta"]))
    x, dy = rng.normal(3.0, 2.0, size=(5, 6)), rng.normal(size=(5, 6))
    xt = t(x, True)
    yt = tl(xt)
    yt.backward(t(dy))
    close(ln.forward(x), yt)
    close(ln.backward(dy), xt.grad)
    close(ln.grads["gamma"], tl.weight.grad)
    close(ln.grads["beta"], tl.bias.grad)
