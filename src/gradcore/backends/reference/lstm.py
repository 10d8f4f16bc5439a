"""LSTM over a whole sequence (batch-first), the reference definition.

Gate order ``i, f, g, o`` as in ``torch.nn.LSTM``, but with ONE bias vector ``b[4H]`` (torch
has ``bias_ih + bias_hh``; their sum is our ``b``). Weights are stored ``[in, 4H]`` so that a
step is ``x_t @ Wx``: torch's ``weight_ih_l0`` is ``Wx.T`` and ``weight_hh_l0`` is ``Wh.T``.
(The layer initialises the forget-gate slice of ``b`` to 1.0, like Keras' ``unit_forget_bias``;
the kernels do not care.)

Forward, for t = 0 .. T-1 (``h_{-1} = h0``, ``c_{-1} = c0``)::

    a_t = x_t Wx + h_{t-1} Wh + b                      a_t = [a_i | a_f | a_g | a_o], each [N,H]
    i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Backward through time, t = T-1 .. 0, with ``δh`` / ``δc`` the TOTAL gradients dL/dh_t, dL/dc_t::

    δh_t = dhs_t + δh_{t+1 -> t}                       (output gradient + recurrent gradient)
    δc_t = δc_{t+1 -> t} + δh_t * o * (1 - tanh²(c_t))  (from c_{t+1} + through h_t)
    do = δh_t * tanh(c_t)   di = δc_t * g   dg = δc_t * i   df = δc_t * c_{t-1}
    da = [di σ'(a_i) | df σ'(a_f) | dg (1 - g²) | do σ'(a_o)],  σ' = σ (1 - σ)
    δh_{t -> t-1} = da Wh^T       δc_{t -> t-1} = δc_t * f
    dx_t = da Wx^T    dWx += x_t^T da    dWh += h_{t-1}^T da    db += Σ_n da

with ``δh_{T -> T-1} = dhT`` and ``δc_{T -> T-1} = dcT`` (zero when None), and finally
``dh0 = δh_{0 -> -1}``, ``dc0 = δc_{0 -> -1}``.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_lstm_backward, check_lstm_forward

__all__ = ["lstm_backward", "lstm_forward"]


# --------------------------------------------------------------------------- gate math


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = 1 / (1 + e^{-a}), evaluated with e^{-|a|} <= 1 so it never overflows:
    σ(a) = 1/(1+e) for a >= 0 and e/(1+e) for a < 0, with e = e^{-|a|}."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_grad_from_y(y: np.ndarray) -> np.ndarray:
    """σ'(a) = σ(a) (1 - σ(a)), from the activated value y = σ(a)."""
    return y * (1 - y)


def _tanh_grad_from_y(y: np.ndarray) -> np.ndarray:
    """tanh'(a) = 1 - tanh²(a), from the activated value y = tanh(a)."""
    return 1 - y * y


# --------------------------------------------------------------------------- forward


def lstm_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    hs: np.ndarray,
    cs: np.ndarray,
    gates: np.ndarray,
    ws: object = None,
) -> None:
    """Run the LSTM over the whole sequence; mirrors ``torch.nn.LSTM(batch_first=True)``.

    Shapes (one float dtype, float32 or float64, for every array):
    ``x[N,T,D]``, ``Wx[D,4H]``, ``Wh[H,4H]``, ``b[4H]``, ``h0[N,H]``, ``c0[N,H]``;
    outputs ``hs[N,T,H]`` (h_t), ``cs[N,T,H]`` (c_t), ``gates[N,T,4H]`` = activated
    ``[i | f | g | o]`` per step. ``hT = hs[:, -1]``, ``cT = cs[:, -1]``. ``ws`` is ignored.

    Per step::

        a = x_t Wx + h_{t-1} Wh + b
        i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
        c_t = f c_{t-1} + i g
        h_t = o tanh(c_t)
    """
    _, T, _, H, _ = check_lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates)

    h_prev = h0.copy()  # copies: an output may alias an input of a later step
    c_prev = c0.copy()
    for t in range(T):
        a = x[:, t] @ Wx + h_prev @ Wh + b  # [N, 4H]
        i = _sigmoid(a[:, 0 * H : 1 * H])
        f = _sigmoid(a[:, 1 * H : 2 * H])
        g = np.tanh(a[:, 2 * H : 3 * H])
        o = _sigmoid(a[:, 3 * H : 4 * H])
        c = f * c_prev + i * g
        h = o * np.tanh(c)

        gates[:, t, 0 * H : 1 * H] = i
        gates[:, t, 1 * H : 2 * H] = f
        gates[:, t, 2 * H : 3 * H] = g
        gates[:, t, 3 * H : 4 * H] = o
        cs[:, t] = c
        hs[:, t] = h
        h_prev, c_prev = h, c


# --------------------------------------------------------------------------- backward


def lstm_backward(
    dhs: np.ndarray,
    dhT: np.ndarray | None,
    dcT: np.ndarray | None,
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    hs: np.ndarray,
    cs: np.ndarray,
    gates: np.ndarray,
    dx: np.ndarray,
    dWx: np.ndarray,
    dWh: np.ndarray,
    db: np.ndarray,
    dh0: np.ndarray,
    dc0: np.ndarray,
    dh_norm: np.ndarray,
    dc_norm: np.ndarray,
    ws: object = None,
) -> None:
    """Backpropagation through time for :func:`lstm_forward` (the cache is hs, cs, gates).

    Inputs: ``dhs[N,T,H]`` the gradient arriving at every output h_t (zeros where none),
    ``dhT[N,H] | None`` and ``dcT[N,H] | None`` extra gradients on the final states, and the
    forward's ``x, Wx, Wh, h0, c0, hs, cs, gates``.

    Outputs: ``dx[N,T,D]``, ``dh0[N,H]``, ``dc0[N,H]`` are OVERWRITTEN; ``dWx[D,4H]``,
    ``dWh[H,4H]``, ``db[4H]`` ACCUMULATE (``+=``). ``dh_norm[T]``, ``dc_norm[T]`` (float64)
    receive the Frobenius norms over (N, H) of the TOTAL gradients dL/dh_t and dL/dc_t:
    ``δh_t = dhs_t + (da_{t+1} Wh^T)`` and
    ``δc_t = δc_{t+1} f_{t+1} + δh_t o_t (1 - tanh²(c_t))`` (see the module docstring for the
    whole recurrence). ``db`` and the norms are accumulated in float64.

    Mirrors the autograd backward of ``torch.nn.LSTM(batch_first=True)``.
    """
    N, T, D, H, dt = check_lstm_backward(dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates,
                                         dx, dWx, dWh, db, dh0, dc0, dh_norm, dc_norm)  # fmt: skip

    # Gradient flowing into step t from step t+1 (for t = T-1: the extra final-state terms).
    dh_next = np.zeros((N, H), dt) if dhT is None else dhT.copy()
    dc_next = np.zeros((N, H), dt) if dcT is None else dcT.copy()
    da_all = np.empty((N, T, 4 * H), dt)  # pre-activation gradients, for the weight GEMMs

    for t in range(T - 1, -1, -1):
        i = gates[:, t, 0 * H : 1 * H]
        f = gates[:, t, 1 * H : 2 * H]
        g = gates[:, t, 2 * H : 3 * H]
        o = gates[:, t, 3 * H : 4 * H]
        c = cs[:, t]
        c_prev = c0 if t == 0 else cs[:, t - 1]
        tanh_c = np.tanh(c)

        # total gradients at h_t and c_t
        dh = dhs[:, t] + dh_next
        dc = dc_next + dh * o * _tanh_grad_from_y(tanh_c)  # h_t = o tanh(c_t)
        dh_norm[t] = np.sqrt(np.sum(np.square(dh, dtype=np.float64)))
        dc_norm[t] = np.sqrt(np.sum(np.square(dc, dtype=np.float64)))

        # through the gates: h_t = o tanh(c_t), c_t = f c_{t-1} + i g
        do = dh * tanh_c
        di = dc * g
        dg = dc * i
        df = dc * c_prev
        da = da_all[:, t]
        da[:, 0 * H : 1 * H] = di * _sigmoid_grad_from_y(i)
        da[:, 1 * H : 2 * H] = df * _sigmoid_grad_from_y(f)
        da[:, 2 * H : 3 * H] = dg * _tanh_grad_from_y(g)
        da[:, 3 * H : 4 * H] = do * _sigmoid_grad_from_y(o)

        # into step t-1: a_t = ... + h_{t-1} Wh, and c_t = f c_{t-1} + ...
        dh_next = da @ Wh.T
        dc_next = dc * f

    # a_t = x_t Wx + h_{t-1} Wh + b, summed over all steps
    h_prev_all = np.concatenate([h0[:, None, :], hs[:, :-1]], axis=1)  # [N, T, H]
    dx[...] = da_all @ Wx.T
    dWx += np.reshape(x, (N * T, D)).T @ np.reshape(da_all, (N * T, 4 * H))
    dWh += np.reshape(h_prev_all, (N * T, H)).T @ np.reshape(da_all, (N * T, 4 * H))
    db += np.sum(da_all, axis=(0, 1), dtype=np.float64).astype(dt)
    dh0[...] = dh_next
    dc0[...] = dc_next
