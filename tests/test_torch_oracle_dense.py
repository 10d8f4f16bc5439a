"""Activations and dense against PyTorch (float64): the reference kernels (F.linear +
activation, torch autograd) and the ``Dense`` layer on every backend.

Tolerance: ``tests/_tolerances.py`` ("torch"): both sides evaluate the same formulas in float64;
they differ only by libm-vs-NumPy/SciPy transcendentals (a few ulps), BLAS summation order and
the order of operations in fused expressions. Dense weights: ours are ``W[in, out]``, torch's
``Linear.weight`` is ``[out, in]`` = ``W.T``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _torch_oracle import F64, TORCH_ACT, F, close, leaf, t, torch

from gradcore import nn
from gradcore.backends import ACTIVATIONS
from gradcore.backends.reference.activations import act_backward, act_forward
from gradcore.backends.reference.dense import dense_backward, dense_forward

# --- reference kernels ---------------------------------------------------------------------------


def test_torch_version_is_the_pinned_one():
    assert torch.__version__.startswith("2.13.")  # the kink conventions were checked on 2.13


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_vs_torch(act, rng):
    # random values, exact kinks (+0 and -0), and large magnitudes
    x = np.concatenate(
        [
            2.0 * rng.standard_normal(20),
            [0.0, -0.0, 1e-300, -1e-300, 5.0, -5.0, 30.0, -30.0, 1e3, -1e3],
        ]
    )
    dy = rng.standard_normal(x.shape)
    y = np.empty_like(x)
    act_forward(x, act, y)
    dx = np.empty_like(x)
    act_backward(dy, x, y, act, dx)
    xt = leaf(x)
    yt = TORCH_ACT[act](xt)
    (yt * torch.from_numpy(dy)).sum().backward()
    close(y, yt, f"{act} forward")
    close(dx, xt.grad, f"{act} backward")


def test_kink_derivatives_match_torch():
    """relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1 in torch 2.13, as in our contract."""
    for act, want in (("relu", 0.0), ("leaky_relu", 0.01), ("elu", 1.0)):
        xt = leaf(np.array([0.0, -0.0]))
        TORCH_ACT[act](xt).sum().backward()
        np.testing.assert_array_equal(xt.grad.numpy(), [want, want], err_msg=act)
        x = np.array([0.0, -0.0])
        dx = np.empty(2)
        act_backward(np.ones(2), x, np.zeros(2), act, dx)
        np.testing.assert_array_equal(dx, [want, want], err_msg=act)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize(("n", "i", "o"), [(5, 4, 3), (1, 1, 1), (3, 1, 4), (1, 6, 1)])
def test_dense_vs_torch(act, n, i, o, rng):
    x = rng.standard_normal((n, i))
    W = rng.standard_normal((i, o))
    b = rng.standard_normal(o)
    dy = rng.standard_normal((n, o))
    z, y = np.empty((n, o)), np.empty((n, o))
    dense_forward(x, W, b, act, z, y)
    dx, dW, db = np.empty_like(x), np.zeros_like(W), np.zeros_like(b)
    dense_backward(dy, x, W, z, y, act, dx, dW, db)

    xt, Wt, bt = leaf(x), leaf(W.T.copy()), leaf(b)  # torch weight is [out, in]
    zt = F.linear(xt, Wt, bt)
    yt = TORCH_ACT[act](zt)
    (yt * torch.from_numpy(dy)).sum().backward()
    close(z, zt, "z")
    close(y, yt, "y")
    close(dx, xt.grad, "dx")
    close(dW, Wt.grad.T, "dW")
    close(db, bt.grad, "db")


# --- layer (every backend) -----------------------------------------------------------------------


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_dense_vs_linear(act, rng):
    d = nn.Dense(6, 5, act, dtype=F64, seed=0)
    d.params["b"][:] = rng.normal(size=5)
    x, dy = rng.normal(size=(7, 6)) * 2, rng.normal(size=(7, 5))
    lin = torch.nn.Linear(6, 5, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(t(d.params["W"].T))
        lin.bias.copy_(t(d.params["b"]))
    xt = t(x, True)
    yt = TORCH_ACT[act](lin(xt))
    yt.backward(t(dy))
    close(d.forward(x), yt)
    close(d.backward(dy), xt.grad)
    close(d.grads["W"], lin.weight.grad.T)
    close(d.grads["b"], lin.bias.grad)
