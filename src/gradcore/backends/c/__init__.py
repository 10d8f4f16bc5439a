"""The compiled C backend: a thin adapter over ``gradcore._kernels`` (C99 kernels + Cython).

Every op has the contract's signature (``docs/kernels.md``) and matches the NumPy reference
within dtype-keyed tolerances (optimizers bit for bit). Differences in input handling, shared
by every op here: arrays must be C-contiguous (a non-contiguous array raises ``ValueError``
instead of being read through a strided view), all floating arrays of a call must share one
dtype (``TypeError`` otherwise), and outputs may not overlap the arguments they would corrupt
(``ValueError``; the documented in-place cases such as ``act_forward(x, act, x)`` are allowed).

Importing this package raises ``ImportError`` when the compiled extension is not built, so the
backend registry simply lists it as unavailable.
"""

from ... import _gemm
from .._contract import OPS, ops_of
from . import activations, batchnorm, dense, layernorm, loss, lstm, norms, optim, rnn, stats

_FAMILIES = (activations, batchnorm, dense, layernorm, loss, lstm, norms, optim, rnn, stats)

NAME = "c"

# Every op of the contract (docs/kernels.md), bound here under its name.
globals().update(ops_of(*_FAMILIES))

#: the GEMM provider chosen at load (env GRADCORE_GEMM=auto|openblas|mkl)
GEMM_PROVIDER = _gemm.select()

__all__ = ["NAME", *OPS]  # the contract's op list, not a copy
