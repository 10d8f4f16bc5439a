"""LSTM over a whole batch-first sequence: the C kernels (``kernels/lstm.c``).

The Cython bindings themselves, no Python wrapper (they check every argument). Same signatures
and semantics as :mod:`gradcore.backends.reference.lstm` (gate order i, f, g, o as
``torch.nn.LSTM``, ONE bias vector; the layer initialises the forget-gate bias to 1.0 like
Keras' ``unit_forget_bias``, the kernels do not care). The whole time loop runs in C: one GEMM
for the input projections of all steps, per step one GEMM with ``Wh`` and one fused gate pass;
the backward computes the per-step gradient norms inside its fused pass and the weight
gradients as three large GEMMs after the loop. Scratch of the backward (``lstm_da[N,T,4H]``,
``lstm_hprev[N,T,H]``) comes from ``ws`` when given.
"""

from gradcore._kernels import lstm_backward, lstm_forward

__all__ = ["lstm_backward", "lstm_forward"]
