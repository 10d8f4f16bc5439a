"""LSTM over a whole batch-first sequence: the C kernels (``kernels/lstm.c``).

Same signatures and semantics as :mod:`gradcore.backends.reference.lstm` (gate order i, f, g, o
as ``torch.nn.LSTM``, ONE bias vector; the layer initialises the forget-gate bias to 1.0 like
Keras' ``unit_forget_bias``, the kernels do not care). The whole time loop runs in C: one GEMM
for the input projections of all steps, per step one GEMM with ``Wh`` and one fused gate pass;
the backward computes the per-step gradient norms inside its fused pass and the weight
gradients as three large GEMMs after the loop. Scratch of the backward (``lstm_da[N,T,4H]``,
``lstm_hprev[N,T,H]``) comes from ``ws`` when given.
"""

from __future__ import annotations

import numpy as np

from gradcore import _kernels

__all__ = ["lstm_backward", "lstm_forward"]


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
    """Forward over the sequence; see :func:`gradcore.backends.reference.lstm_forward`."""
    _kernels.lstm_forward(x, Wx, Wh, b, h0, c0, hs, cs, gates, ws)


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
    """Backpropagation through time; see :func:`gradcore.backends.reference.lstm_backward`."""
    _kernels.lstm_backward(
        dhs,
        dhT,
        dcT,
        x,
        Wx,
        Wh,
        h0,
        c0,
        hs,
        cs,
        gates,
        dx,
        dWx,
        dWh,
        db,
        dh0,
        dc0,
        dh_norm,
        dc_norm,
        ws,
    )
