"""Batch normalization over the features of ``[N, C]``: the C kernels (``kernels/batchnorm.c``).

Same signatures and semantics as :mod:`gradcore.backends.reference.batchnorm` (torch
``BatchNorm1d``; contract ``docs/kernels.md``); the ops are the Cython bindings themselves (they
check every argument), no Python wrapper. Statistics and sums accumulate in float64;
the elementwise normalisation runs in the data dtype. Threads split the rows above
``GC_PARALLEL_MIN`` elements.
"""

from gradcore._kernels import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train

__all__ = ["batchnorm_backward", "batchnorm_forward_eval", "batchnorm_forward_train"]
