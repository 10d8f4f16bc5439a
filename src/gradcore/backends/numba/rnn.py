"""A plain tanh RNN over a whole sequence, batch-first (numba backend).

Contract and formulas: ``backends/reference/rnn.py``. Built like the LSTM (``numba/lstm.py``):
the time loop runs inside one compiled kernel per direction,

- forward: the input projection of all steps is ONE GEMM (``x[N*T, D] @ Wx``, in the wrapper);
  then per step one GEMM ``h_{t-1} Wh`` (``np.dot`` with an output, BLAS inside the kernel)
  and one pass ``h_t = tanh(xw_t + A + b)``;
- backward: per step one fused pass computing the total gradient ``δh_t``, its norm (float64),
  the pre-activation gradient ``da`` and the bias-gradient sum (float64), then one GEMM
  ``da Wh^T``; the weight gradients and ``dx`` are three GEMMs over all steps at the end.

Elementwise math stays in the data dtype like the reference (the constant ``one`` is passed in
the data dtype so float32 math is not promoted to float64); ``np.tanh`` of a float32 is
float32, as NumPy's.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_rnn_backward, check_rnn_forward
from ._jit import InOut, c, jit, scratch

__all__ = ["rnn_backward", "rnn_forward"]


@jit()
def _forward_kernel(xw, Wh, b, h, hs, A):
    # xw[N,T,H] = x Wx; h [N,H] holds h_{t-1} (start: h0); A[N,H] scratch
    N, T, H = xw.shape
    for t in range(T):
        np.dot(h, Wh, A)  # A = h_{t-1} Wh   (BLAS)
        for n in range(N):
            for j in range(H):
                hnew = np.tanh(xw[n, t, j] + A[n, j] + b[j])  # h_t = tanh(a_t)
                hs[n, t, j] = hnew
                h[n, j] = hnew


@jit()
def _backward_kernel(dhs, WhT, hs, one, dh_next, da_all, DA, db64, dh_norm):
    # dh_next [N,H]: gradient flowing into step t from t+1 (start: dhT)
    N, T, H = dhs.shape
    for t in range(T - 1, -1, -1):
        sh = 0.0
        for n in range(N):
            for j in range(H):
                dh = dhs[n, t, j] + dh_next[n, j]  # total dL/dh_t
                sh += np.float64(dh) * np.float64(dh)
                hv = hs[n, t, j]
                da = dh * (one - hv * hv)
                DA[n, j] = da
                da_all[n, t, j] = da
                db64[j] += np.float64(da)
        dh_norm[t] = np.sqrt(sh)
        np.dot(DA, WhT, dh_next)  # into h_{t-1}: da Wh^T   (BLAS)


def rnn_forward(
    x: np.ndarray,
    Wx: np.ndarray,
    Wh: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray,
    hs: np.ndarray,
    ws: object = None,
) -> None:
    """Run the tanh RNN over the whole sequence (writes hs). See the reference."""
    N, T, D, H, dt = check_rnn_forward(x, Wx, Wh, b, h0, hs)

    xw = scratch(ws, "rnn_xw", (N, T, H), dt)
    np.matmul(c(x).reshape(N * T, D), c(Wx), out=xw.reshape(N * T, H))  # all steps
    h = scratch(ws, "rnn_h", (N, H), dt)
    h[...] = h0
    A = scratch(ws, "rnn_a", (N, H), dt)
    out = InOut(hs, copy=False)
    _forward_kernel(xw, c(Wh), c(b), h, out.buf, A)
    out.done()


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
    """Backpropagation through time; dx, dh0 overwritten, dWx, dWh, db accumulate,
    dh_norm (float64 [T]) = norms of the total dL/dh_t. See the reference."""
    N, T, D, H, dt = check_rnn_backward(dhs, dhT, x, Wx, Wh, h0, hs, dx, dWx, dWh, db, dh0,
                                        dh_norm)  # fmt: skip

    dh_next = scratch(ws, "rnn_dh", (N, H), dt)
    dh_next[...] = 0 if dhT is None else dhT
    WhT = scratch(ws, "rnn_whT", (H, H), dt)
    WhT[...] = Wh.T
    da_all = scratch(ws, "rnn_da_all", (N, T, H), dt)
    DA = scratch(ws, "rnn_da", (N, H), dt)
    db64 = np.zeros(H, np.float64)
    norm = InOut(dh_norm, copy=False)
    _backward_kernel(c(dhs), WhT, c(hs), dt.type(1), dh_next, da_all, DA, db64, norm.buf)
    norm.done()

    # a_t = x_t Wx + h_{t-1} Wh + b, summed over all steps: three GEMMs
    da2 = da_all.reshape(N * T, H)
    xo = InOut(dx, copy=False)
    np.matmul(da2, c(Wx).T, out=xo.buf.reshape(N * T, D))  # dx = da Wx^T
    xo.done()
    gw = scratch(ws, "rnn_gWx", (D, H), dt)
    np.matmul(c(x).reshape(N * T, D).T, da2, out=gw)
    dWx += gw
    hp = scratch(ws, "rnn_hprev", (N, T, H), dt)  # h_{t-1} for every t
    hp[:, 0] = h0
    hp[:, 1:] = hs[:, :-1]
    gh = scratch(ws, "rnn_gWh", (H, H), dt)
    np.matmul(hp.reshape(N * T, H).T, da2, out=gh)
    dWh += gh
    db += db64.astype(dt)
    dh0[...] = dh_next
