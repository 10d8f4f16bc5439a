"""A plain tanh RNN over a whole batch-first sequence: the C kernels (``kernels/rnn.c``).

The Cython bindings themselves, no Python wrapper (they check every argument). Same signatures
and semantics as :mod:`gradcore.backends.reference.rnn` (``h_t = tanh(x_t Wx + h_{t-1} Wh + b)``,
ONE bias vector, as ``torch.nn.RNN(nonlinearity='tanh')`` with ``bias_ih + bias_hh = b``).
Built like the LSTM's: the whole time loop runs in C, one GEMM for the input projections of
all steps, per step one product with the packed ``Wh`` and one fused tanh pass; the backward
computes the per-step gradient norms inside its fused pass and the weight gradients as three
large GEMMs after the loop. Scratch of the backward (``rnn_da[N,T,H]``, ``rnn_hprev[N,T,H]``)
comes from ``ws`` when given.
"""

from gradcore._kernels import rnn_backward, rnn_forward

__all__ = ["rnn_backward", "rnn_forward"]
