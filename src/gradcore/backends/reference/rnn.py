"""A plain tanh RNN (Elman; Keras' ``SimpleRNN``) over a whole sequence, batch-first: the
reference definition.

The LSTM's conventions (``reference/lstm.py``): ONE bias vector ``b[H]`` (torch's
``nn.RNN(nonlinearity='tanh')`` has ``bias_ih + bias_hh``; their sum is our ``b``), weights
stored ``[in, H]`` so that a step is ``x_t @ Wx``: torch's ``weight_ih_l0`` is ``Wx.T`` and
``weight_hh_l0`` is ``Wh.T``.

Forward, for t = 0 .. T-1 (``h_{-1} = h0``)::

    h_t = tanh(x_t Wx + h_{t-1} Wh + b)

Backward through time, t = T-1 .. 0, with ``δh_t`` the TOTAL gradient dL/dh_t::

    δh_t = dhs_t + δh_{t+1 -> t}                       (output gradient + recurrent gradient)
    da_t = δh_t * (1 - h_t²)                           (tanh' from the output: the cache is hs)
    δh_{t -> t-1} = da_t Wh^T
    dx_t = da_t Wx^T    dWx += x_t^T da_t    dWh += h_{t-1}^T da_t    db += Σ_n da_t

with ``δh_{T -> T-1} = dhT`` (zero when None) and finally ``dh0 = δh_{0 -> -1}``. Each step
multiplies the carried gradient by ``diag(1 - h_t²) Wh^T``: with no additive path (the LSTM's
``c_t = f c_{t-1} + ...``) it shrinks geometrically when that product's norm is below 1 —
the vanishing gradient through time that ``dh_norm`` makes visible.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_rnn_backward, check_rnn_forward

__all__ = ["rnn_backward", "rnn_forward"]


def rnn_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray,
    hs: np.ndarray,
    ws: object = None,
) -> None:
    """Run the tanh RNN over the whole sequence; mirrors
    ``torch.nn.RNN(nonlinearity='tanh', batch_first=True)``.

    Shapes (one float dtype, float32 or float64, for every array): ``x[N,T,D]``, ``Wx[D,H]``,
    ``Wh[H,H]``, ``b[H]``, ``h0[N,H]``; output ``hs[N,T,H]`` (h_t, also the backward's cache).
    ``hT = hs[:, -1]``. ``ws`` is ignored.

    Per step: ``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``.
    """
    _, T, _, _, _ = check_rnn_forward(x, Wx, Wh, b, h0, hs)

    h_prev = h0.copy()  # a copy: an output may alias an input of a later step
    for t in range(T):
        h = np.tanh(x[:, t] @ Wx + h_prev @ Wh + b)  # [N, H]
        hs[:, t] = h
        h_prev = h


def rnn_backward(
    dhs: np.ndarray,
    dhT: np.ndarray | None,
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    h0: np.ndarray,
    hs: np.ndarray,
    dx: np.ndarray,
    dWx: np.ndarray,
    dWh: np.ndarray,
    db: np.ndarray,
    dh0: np.ndarray,
    dh_norm: np.ndarray,
    ws: object = None,
) -> None:
    """Backpropagation through time for :func:`rnn_forward` (the cache is ``hs``).

    Inputs: ``dhs[N,T,H]`` the gradient arriving at every output h_t (zeros where none),
    ``dhT[N,H] | None`` an extra gradient on the final state, and the forward's
    ``x, Wx, Wh, h0, hs``.

    Outputs: ``dx[N,T,D]``, ``dh0[N,H]`` are OVERWRITTEN; ``dWx[D,H]``, ``dWh[H,H]``, ``db[H]``
    ACCUMULATE (``+=``). ``dh_norm[T]`` (float64) receives the Frobenius norms over (N, H) of
    the TOTAL gradients ``δh_t = dhs_t + da_{t+1} Wh^T`` (the gradient through time). ``db``
    and the norms are accumulated in float64.

    Mirrors the autograd backward of ``torch.nn.RNN(nonlinearity='tanh', batch_first=True)``.
    """
    N, T, D, H, dt = check_rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0,
                                        dh_norm)  # fmt: skip

    # Gradient flowing into step t from step t+1 (for t = T-1: the extra final-state term).
    dh_next = np.zeros((N, H), dt) if dhT is None else dhT.copy()
    da_all = np.empty((N, T, H), dt)  # pre-activation gradients, for the weight GEMMs

    for t in range(T - 1, -1, -1):
        dh = dhs[:, t] + dh_next  # total dL/dh_t
        dh_norm[t] = np.sqrt(np.sum(np.square(dh, dtype=np.float64)))
        h = hs[:, t]
        da = dh * (1 - h * h)  # h_t = tanh(a_t)
        da_all[:, t] = da
        dh_next = da @ Wh.T  # into step t-1: a_t = ... + h_{t-1} Wh

    # a_t = x_t Wx + h_{t-1} Wh + b, summed over all steps
    h_prev_all = np.concatenate([h0[:, None, :], hs[:, :-1]], axis=1)  # [N, T, H]
    dx[...] = da_all @ Wx.T
    dWx += np.reshape(x, (N * T, D)).T @ np.reshape(da_all, (N * T, H))
    dWh += np.reshape(h_prev_all, (N * T, H)).T @ np.reshape(da_all, (N * T, H))
    db += np.sum(da_all, axis=(0, 1), dtype=np.float64).astype(dt)
    dh0[...] = dh_next
