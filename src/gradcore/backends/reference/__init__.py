"""The NumPy reference backend: the definition of every kernel, and the baseline.

Readable math, float64 accumulation for reductions, outputs written into caller arrays.
Allowed to be slow, never allowed to be clever. Contract: ``docs/kernels.md``.

Every op runs with IEEE semantics and no NumPy floating-point warnings (overflow gives inf,
0/0 gives NaN), like torch and the compiled backends: detecting non-finite values is the
caller's job (``fit``'s ``TerminateOnNonFinite``, ``clip_grad_norm(error_if_nonfinite=True)``).
"""

from .._contract import OPS, ieee_silent, ops_of
from . import activations, batchnorm, dense, layernorm, loss, lstm, norms, optim, rnn, stats

_FAMILIES = (activations, batchnorm, dense, layernorm, loss, lstm, norms, optim, rnn, stats)

NAME = "numpy"

# Every op of the contract (docs/kernels.md), bound here under its name, silent about IEEE
# events (the family modules keep the plain functions).
globals().update(ops_of(*_FAMILIES, wrap=ieee_silent))

__all__ = ["NAME", *OPS]  # the contract's op list, not a copy
