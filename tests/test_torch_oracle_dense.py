"""The reference kernels against PyTorch (float64), forward and backward (torch autograd).

Families: activations, dense (F.linear + activation), batchnorm (BatchNorm1d over several
training steps, then eval), layernorm (F.layer_norm), losses (F.cross_entropy, F.mse_loss,
F.binary_cross_entropy_with_logits).

Tolerance: ``rtol = 1e-10``, ``atol = 1e-12`` everywhere. Both sides evaluate the same formulas
in float64; they differ only by libm-vs-NumPy/SciPy transcendentals (a few ulps), BLAS
summation order and the order of operations in fused expressions. ``1e-10`` relative (~1e6
ulps) leaves room for the cancellation in short sums while still catching any difference of
formula, constant or convention; ``atol = 1e-12`` covers entries that cancel to ~0 while the
quantities themselves are O(1) (inputs here are O(1), except the explicit extremes).

Dense weights: ours are ``W[in, out]``, torch's ``Linear.weight`` is ``[out, in]`` = ``W.T``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from gradcore.backends.reference.activations import (  # noqa: E402
    ACTIVATIONS,
    act_backward,
    act_forward,
)
from gradcore.backends.reference.batchnorm import (  # noqa: E402
    batchnorm_backward,
    batchnorm_forward_eval,
    batchnorm_forward_train,
)
from gradcore.backends.reference.dense import dense_backward, dense_forward  # noqa: E402
from gradcore.backends.reference.layernorm import (  # noqa: E402
    layernorm_backward,
    layernorm_forward,
)
from gradcore.backends.reference.loss import bce_with_logits, mse, softmax_xent  # noqa: E402

RTOL, ATOL = 1e-10, 1e-12

TORCH_ACT = {
    "linear": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=0.01),
    "elu": lambda z: F.elu(z, alpha=1.0),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,
    "gelu": lambda z: F.gelu(z, approximate="none"),
}


def close(ours, theirs, name=""):
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=name)


def leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def test_torch_version_is_the_pinned_one():
    assert torch.__version__.startswith("2.13.")  # the kink conventions were checked on 2.13


# --- activations ---------------------------------------------------------------------------


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


# --- dense ---------------------------------------------------------------------------------


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


# --- batchnorm -----------------------------------------------------------------------------


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


# --- layernorm -----------------------------------------------------------------------------


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


# --- losses --------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(6, 4), (1, 3), (3, 1), (2, 10)])
def test_cross_entropy_vs_torch(n, k, rng):
    z = 3.0 * rng.standard_normal((n, k))
    labels = rng.integers(0, k, size=n)
    d = np.empty_like(z)
    loss = softmax_xent(z, labels, d)
    zt = leaf(z)
    lt = F.cross_entropy(zt, torch.from_numpy(labels))
    lt.backward()
    close(loss, lt, "loss")
    close(d, zt.grad, "dlogits")


def test_cross_entropy_extreme_logits_vs_torch():
    z = np.array([[1e3, -1e3, 0.0], [1e3, 1e3, -1e3], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([1, 0, 0, 2])
    d = np.empty_like(z)
    loss = softmax_xent(z, labels, d)
    zt = leaf(z)
    lt = F.cross_entropy(zt, torch.from_numpy(labels))
    lt.backward()
    close(loss, lt, "loss")
    close(d, zt.grad, "dlogits")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (1, 1), (2, 3, 2)])
def test_mse_vs_torch(shape, rng):
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    d = np.empty_like(p)
    loss = mse(p, t, d)
    pt = leaf(p)
    lt = F.mse_loss(pt, torch.from_numpy(t))
    lt.backward()
    close(loss, lt, "loss")
    close(d, pt.grad, "dpred")


@pytest.mark.parametrize("shape", [(5,), (3, 4), (1, 1), (2, 3, 2)])
@pytest.mark.parametrize("hard", [True, False])
def test_bce_with_logits_vs_torch(shape, hard, rng):
    z = 4.0 * rng.standard_normal(shape)
    t = rng.integers(0, 2, size=shape).astype(float) if hard else rng.uniform(0, 1, shape)
    d = np.empty_like(z)
    loss = bce_with_logits(z, t, d)
    zt = leaf(z)
    lt = F.binary_cross_entropy_with_logits(zt, torch.from_numpy(t))
    lt.backward()
    close(loss, lt, "loss")
    close(d, zt.grad, "dlogits")


def test_bce_with_logits_extremes_vs_torch():
    z = np.array([1e3, -1e3, 1e3, -1e3, 1e4, -1e4, 0.0, 40.0, -40.0])
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.5, 0.3, 0.7])
    d = np.empty_like(z)
    loss = bce_with_logits(z, t, d)
    zt = leaf(z)
    lt = F.binary_cross_entropy_with_logits(zt, torch.from_numpy(t))
    lt.backward()
    close(loss, lt, "loss")
    close(d, zt.grad, "dlogits")


# --- documented differences from torch -----------------------------------------------------


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
