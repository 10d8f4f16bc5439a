"""LSTM over a whole sequence, batch-first, gate order i, f, g, o (numba backend).

Contract and formulas: ``backends/reference/lstm.py``. The time loop runs inside one compiled
kernel per direction:

- forward: the input projection of all steps is ONE GEMM (``x[N*T, D] @ Wx``, in the wrapper);
  then per step one GEMM ``h_{t-1} Wh`` (``np.dot`` with an output, BLAS inside the kernel)
  and one fused pass computing the gates, ``c_t`` and ``h_t``;
- backward: per step one fused pass computing the total gradients ``δh_t``, ``δc_t``, their
  norms (float64), the pre-activation gradients ``da`` and the bias-gradient sum (float64),
  then one GEMM ``da Wh^T``; the weight gradients and ``dx`` are three GEMMs over all steps
  at the end.

Elementwise math stays in the data dtype like the reference (the constant ``one`` is passed in
the data dtype so float32 math is not promoted to float64), except sigmoid/tanh of the
pre-activations, computed in float64 and rounded once.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import check_lstm_backward, check_lstm_forward
from ._jit import InOut, c, jit, scratch
from .activations import sigmoid

__all__ = ["lstm_backward", "lstm_forward"]


@jit()
def _forward_kernel(xw, Wh, b, h, cc, hs, cs, gates, A):
    # xw[N,T,4H] = x Wx; h, cc [N,H] hold h_{t-1}, c_{t-1} (start: h0, c0); A[N,4H] scratch
    N, T, H4 = xw.shape
    H = H4 // 4
    for t in range(T):
        np.dot(h, Wh, A)  # A = h_{t-1} Wh   (BLAS)
        for n in range(N):
            for j in range(H):
                # a = x_t Wx + h_{t-1} Wh + b, activated, rounded to the dtype in `gates`
                gates[n, t, j] = sigmoid(xw[n, t, j] + A[n, j] + b[j])
                gates[n, t, H + j] = sigmoid(xw[n, t, H + j] + A[n, H + j] + b[H + j])
                gates[n, t, 2 * H + j] = math.tanh(
                    np.float64(xw[n, t, 2 * H + j] + A[n, 2 * H + j] + b[2 * H + j])
                )
                gates[n, t, 3 * H + j] = sigmoid(
                    xw[n, t, 3 * H + j] + A[n, 3 * H + j] + b[3 * H + j]
                )
                i = gates[n, t, j]
                f = gates[n, t, H + j]
                g = gates[n, t, 2 * H + j]
                o = gates[n, t, 3 * H + j]
                cnew = f * cc[n, j] + i * g  # c_t = f c_{t-1} + i g
                hnew = o * np.tanh(cnew)  # h_t = o tanh(c_t)
                cs[n, t, j] = cnew
                hs[n, t, j] = hnew
                cc[n, j] = cnew
                h[n, j] = hnew


@jit()
def _backward_kernel(
    dhs, WhT, c0, cs, gates, one, dh_next, dc_next, da_all, DA, db64, dh_norm, dc_norm
):
    # dh_next, dc_next [N,H]: gradient flowing into step t from t+1 (start: dhT, dcT)
    N, T, H = dhs.shape
    for t in range(T - 1, -1, -1):
        sh = 0.0
        sc = 0.0
        for n in range(N):
            for j in range(H):
                i = gates[n, t, j]
                f = gates[n, t, H + j]
                g = gates[n, t, 2 * H + j]
                o = gates[n, t, 3 * H + j]
                cv = cs[n, t, j]
                cp = c0[n, j] if t == 0 else cs[n, t - 1, j]
                tc = np.tanh(cv)
                dh = dhs[n, t, j] + dh_next[n, j]  # total dL/dh_t
                dc = dc_next[n, j] + dh * o * (one - tc * tc)  # total dL/dc_t
                sh += np.float64(dh) * np.float64(dh)
                sc += np.float64(dc) * np.float64(dc)
                dai = dc * g * (i * (one - i))
                daf = dc * cp * (f * (one - f))
                dag = dc * i * (one - g * g)
                dao = dh * tc * (o * (one - o))
                DA[n, j] = dai
                DA[n, H + j] = daf
                DA[n, 2 * H + j] = dag
                DA[n, 3 * H + j] = dao
                dc_next[n, j] = dc * f  # into c_{t-1}
        for n in range(N):
            for k in range(4 * H):
                da_all[n, t, k] = DA[n, k]
                db64[k] += np.float64(DA[n, k])
        dh_norm[t] = np.sqrt(sh)
        dc_norm[t] = np.sqrt(sc)
        np.dot(DA, WhT, dh_next)  # into h_{t-1}: da Wh^T   (BLAS)


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
    """Run the LSTM over the whole sequence (writes hs, cs, gates). See the reference."""
    N, T, D, H, dt = check_lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates)

    xw = scratch(ws, "lstm_xw", (N, T, 4 * H), dt)
    np.matmul(c(x).reshape(N * T, D), c(Wx), out=xw.reshape(N * T, 4 * H))  # all steps
    h = scratch(ws, "lstm_h", (N, H), dt)
    cc = scratch(ws, "lstm_c", (N, H), dt)
    h[...] = h0
    cc[...] = c0
    A = scratch(ws, "lstm_a", (N, 4 * H), dt)
    outs = [InOut(a, copy=False) for a in (hs, cs, gates)]
    _forward_kernel(xw, c(Wh), c(b), h, cc, *(o.buf for o in outs), A)
    for o in outs:
        o.done()


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
    """Backpropagation through time; dx, dh0, dc0 overwritten, dWx, dWh, db accumulate,
    dh_norm/dc_norm (float64 [T]) = norms of the total dL/dh_t, dL/dc_t. See the reference."""
    N, T, D, H, dt = check_lstm_backward(dhs, dhT, dcT, x, Wx, Wh, h0, c0, hs, cs, gates,
                                         dx, dWx, dWh, db, dh0, dc0, dh_norm, dc_norm)  # fmt: skip

    dh_next = scratch(ws, "lstm_dh", (N, H), dt)
    dc_next = scratch(ws, "lstm_dc", (N, H), dt)
    dh_next[...] = 0 if dhT is None else dhT
    dc_next[...] = 0 if dcT is None else dcT
    WhT = scratch(ws, "lstm_whT", (4 * H, H), dt)
    WhT[...] = Wh.T
    da_all = scratch(ws, "lstm_da_all", (N, T, 4 * H), dt)
    DA = scratch(ws, "lstm_da", (N, 4 * H), dt)
    db64 = np.zeros(4 * H, np.float64)
    norms = [InOut(a, copy=False) for a in (dh_norm, dc_norm)]
    _backward_kernel(
        c(dhs),
        WhT,
        c(c0),
        c(cs),
        c(gates),
        dt.type(1),
        dh_next,
        dc_next,
        da_all,
        DA,
        db64,
        norms[0].buf,
        norms[1].buf,
    )
    for o in norms:
        o.done()

    # a_t = x_t Wx + h_{t-1} Wh + b, summed over all steps: three GEMMs
    da2 = da_all.reshape(N * T, 4 * H)
    xo = InOut(dx, copy=False)
    np.matmul(da2, c(Wx).T, out=xo.buf.reshape(N * T, D))  # dx = da Wx^T
    xo.done()
    gw = scratch(ws, "lstm_gWx", (D, 4 * H), dt)
    np.matmul(c(x).reshape(N * T, D).T, da2, out=gw)
    dWx += gw
    hp = scratch(ws, "lstm_hprev", (N, T, H), dt)  # h_{t-1} for every t
    hp[:, 0] = h0
    hp[:, 1:] = hs[:, :-1]
    gh = scratch(ws, "lstm_gWh", (H, 4 * H), dt)
    np.matmul(hp.reshape(N * T, H).T, da2, out=gh)
    dWh += gh
    db += db64.astype(dt)
    dh0[...] = dh_next
    dc0[...] = dc_next
