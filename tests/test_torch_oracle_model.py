"""Layers against PyTorch (float64, ~1e-10 relative): the independent established oracle.

Runs when the optional ``torch`` extra (torch==2.13.0) is installed; CI installs it.
"""

import numpy as np
import pytest

import gradcore as gc
from gradcore.backends import ACTIVATIONS

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("each_backend")  # every backend against the oracle
F = torch.nn.functional
nn = gc.nn
F64 = np.float64
RTOL, ATOL = 1e-10, 1e-12  # float64 vs float64: only operation order differs

TORCH_ACT = {
    "linear": lambda z: z,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,
    "gelu": lambda z: F.gelu(z, approximate="none"),
}


def t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


def close(a, b):
    np.testing.assert_allclose(
        a, b.detach().numpy() if hasattr(b, "detach") else b, rtol=RTOL, atol=ATOL
    )


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


def test_layernorm_vs_torch(rng):
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


@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm_vs_torch_with_initial_states(return_sequences, rng):
    N, T, D, H = 3, 6, 4, 5
    lstm = nn.LSTM(D, H, return_sequences=return_sequences, dtype=F64, seed=1)
    lstm.params["b"][:] += rng.normal(size=4 * H) * 0.2
    tl = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        tl.weight_ih_l0.copy_(t(lstm.params["Wx"].T))
        tl.weight_hh_l0.copy_(t(lstm.params["Wh"].T))
        tl.bias_ih_l0.copy_(t(lstm.params["b"]))
        tl.bias_hh_l0.zero_()
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    xt, h0t, c0t = t(x, True), t(h0[None], True), t(c0[None], True)
    out, (hT, cT) = tl(xt, (h0t, c0t))
    yt = out if return_sequences else out[:, -1]
    dy = rng.normal(size=tuple(yt.shape))
    yt.backward(t(dy))
    y = lstm.forward(x, h0=h0, c0=c0)
    close(y, yt)
    close(lstm.hT, hT[0])
    close(lstm.cT, cT[0])
    close(lstm.backward(dy), xt.grad)
    close(lstm.grads["Wx"], tl.weight_ih_l0.grad.T)
    close(lstm.grads["Wh"], tl.weight_hh_l0.grad.T)
    close(lstm.grads["b"], tl.bias_ih_l0.grad)
    close(lstm.grads["b"], tl.bias_hh_l0.grad)  # one bias: both torch biases get the same grad
    close(lstm.extra_input_grads["h0"], h0t.grad[0])
    close(lstm.extra_input_grads["c0"], c0t.grad[0])


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
