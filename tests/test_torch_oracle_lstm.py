"""LSTM against PyTorch (float64): the reference kernels against torch.nn.LSTM (with the
final-state gradients) and the per-step gradient norms against torch's retained gradients,
and the ``LSTM`` layer with initial states on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from _torch_oracle import F64, close, torch

from gradcore import nn
from gradcore.backends import reference as ref

# --- reference kernels ---------------------------------------------------------------------------


def _lstm_problem(rng, N, T, D, H, scale=1.0):
    x = rng.standard_normal((N, T, D)) * scale
    Wx = rng.standard_normal((D, 4 * H)) * scale / np.sqrt(D)
    Wh = rng.standard_normal((H, 4 * H)) * scale / np.sqrt(H)
    b = rng.standard_normal(4 * H) * scale
    h0 = rng.standard_normal((N, H)) * 0.5
    c0 = rng.standard_normal((N, H))
    return x, Wx, Wh, b, h0, c0


def _ours(x, Wx, Wh, b, h0, c0, dhs, dhT, dcT):
    N, T, _ = x.shape
    H = Wh.shape[0]
    hs, cs, gates = (np.empty((N, T, k)) for k in (H, H, 4 * H))
    ref.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates)
    out = dict(
        x=np.empty_like(x), Wx=np.zeros_like(Wx), Wh=np.zeros_like(Wh), b=np.zeros_like(b),
        h0=np.empty_like(h0), c0=np.empty_like(c0), dh_norm=np.empty(T), dc_norm=np.empty(T),
    )  # fmt: skip
    ref.lstm_backward(
        dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates,
        out["x"], out["Wx"], out["Wh"], out["b"], out["h0"], out["c0"],
        out["dh_norm"], out["dc_norm"],
    )  # fmt: skip
    return hs, cs, out


def _t(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (3, 5, 4, 2), (2, 8, 3, 5), (4, 2, 6, 1)])
@pytest.mark.parametrize("final_grads", [False, True])
def test_lstm_matches_torch_nn_lstm(rng, N, T, D, H, final_grads):
    x, Wx, Wh, b, h0, c0 = _lstm_problem(rng, N, T, D, H)
    dhs = rng.standard_normal((N, T, H))
    dhT = rng.standard_normal((N, H)) if final_grads else None
    dcT = rng.standard_normal((N, H)) if final_grads else None
    hs, cs, got = _ours(x, Wx, Wh, b, h0, c0, dhs, dhT, dcT)

    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # our [in, 4H] weights are torch's [4H, in]; b = bias_ih + bias_hh
        lstm.weight_ih_l0.copy_(_t(Wx.T))
        lstm.weight_hh_l0.copy_(_t(Wh.T))
        lstm.bias_ih_l0.copy_(_t(b))
        lstm.bias_hh_l0.zero_()
    tx, th0, tc0 = _t(x, True), _t(h0[None], True), _t(c0[None], True)
    out, (hn, cn) = lstm(tx, (th0, tc0))
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cs[:, -1], cn[0].detach().numpy(), rtol=1e-12, atol=1e-14)
    loss = (out * _t(dhs)).sum()
    if final_grads:
        loss = loss + (hn[0] * _t(dhT)).sum() + (cn[0] * _t(dcT)).sum()
    loss.backward()

    def close(ours, theirs, name):
        theirs = theirs.detach().numpy()
        scale = max(np.abs(theirs).max(initial=0.0), 1e-300)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * scale, err_msg=name)

    close(got["x"], tx.grad, "dx")
    close(got["Wx"], lstm.weight_ih_l0.grad.T, "dWx")
    close(got["Wh"], lstm.weight_hh_l0.grad.T, "dWh")
    close(got["b"], lstm.bias_ih_l0.grad, "db")
    close(got["b"], lstm.bias_hh_l0.grad, "db (hh)")
    close(got["h0"], th0.grad[0], "dh0")
    close(got["c0"], tc0.grad[0], "dc0")


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 2, 1), (3, 6, 2, 3)])
def test_lstm_step_norms_match_torch_retained_grads(rng, N, T, D, H):
    # Unroll torch.nn.LSTMCell and retain the gradient of every h_t and c_t: h_t feeds both the
    # output and the next step, c_t both h_t and c_{t+1}, so .grad is the TOTAL gradient.
    x, Wx, Wh, b, h0, c0 = _lstm_problem(rng, N, T, D, H)
    dhs = rng.standard_normal((N, T, H))
    dhT, dcT = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    _, _, got = _ours(x, Wx, Wh, b, h0, c0, dhs, dhT, dcT)

    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(_t(Wx.T))
        cell.weight_hh.copy_(_t(Wh.T))
        cell.bias_ih.copy_(_t(b))
        cell.bias_hh.zero_()
    h, c = _t(h0), _t(c0)
    hs, cs = [], []
    for t in range(T):
        h, c = cell(_t(x[:, t]), (h, c))
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    loss = sum((hs[t] * _t(dhs[:, t])).sum() for t in range(T))
    loss = loss + (hs[-1] * _t(dhT)).sum() + (cs[-1] * _t(dcT)).sum()
    loss.backward()
    dh_norm = [float(torch.linalg.vector_norm(h.grad)) for h in hs]
    dc_norm = [float(torch.linalg.vector_norm(c.grad)) for c in cs]
    np.testing.assert_allclose(got["dh_norm"], dh_norm, rtol=1e-10)
    np.testing.assert_allclose(got["dc_norm"], dc_norm, rtol=1e-10)


# --- layer (every backend) -----------------------------------------------------------------------


@pytest.mark.usefixtures("each_backend")  # every backend against the oracle
@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm_vs_torch_with_initial_states(return_sequences, rng):
    N, T, D, H = 3, 6, 4, 5
    lstm = nn.LSTM(D, H, return_sequences=return_sequences, dtype=F64, seed=1)
    lstm.params["b"][:] += rng.normal(size=4 * H) * 0.2
    tl = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        tl.weight_ih_l0.copy_(_t(lstm.params["Wx"].T))
        tl.weight_hh_l0.copy_(_t(lstm.params["Wh"].T))
        tl.bias_ih_l0.copy_(_t(lstm.params["b"]))
        tl.bias_hh_l0.zero_()
    x, h0, c0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    xt, h0t, c0t = _t(x, True), _t(h0[None], True), _t(c0[None], True)
    out, (hT, cT) = tl(xt, (h0t, c0t))
    yt = out if return_sequences else out[:, -1]
    dy = rng.normal(size=tuple(yt.shape))
    yt.backward(_t(dy))
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
