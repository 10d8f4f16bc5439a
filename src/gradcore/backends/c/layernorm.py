"""Layer normalization over the last axis of ``[N, C]``: the C kernels (``kernels/layernorm.c``).

Same signatures and semantics as :mod:`gradcore.backends.reference.layernorm` (torch
``LayerNorm``; contract ``docs/kernels.md``); the ops are the Cython bindings themselves (they
check every argument), no Python wrapper. Row statistics and all sums accumulate in float64;
threads split the rows above ``GC_PARALLEL_MIN`` elements.
"""

from gradcore._kernels import layernorm_backward, layernorm_forward

__all__ = ["layernorm_backward", "layernorm_forward"]
