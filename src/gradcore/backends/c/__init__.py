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

from .activations import act_backward, act_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train
from .dense import dense_backward, dense_forward
from .layernorm import layernorm_backward, layernorm_forward
from .loss import bce_with_logits, mse, softmax_xent
from .lstm import lstm_backward, lstm_forward
from .norms import clip_value_, scale_, segment_absmax, segment_sumsq
from .optim import adagrad_step, adam_step, rmsprop_step, sgd_step
from .stats import act_stats, segment_delta_sumsq

NAME = "c"

from ... import _gemm  # noqa: E402

#: the GEMM provider chosen at load (env GRADCORE_GEMM=auto|openblas|mkl)
GEMM_PROVIDER = _gemm.select()

__all__ = [
    "NAME",
    "act_backward",
    "act_forward",
    "act_stats",
    "adagrad_step",
    "adam_step",
    "batchnorm_backward",
    "batchnorm_forward_eval",
    "batchnorm_forward_train",
    "bce_with_logits",
    "clip_value_",
    "dense_backward",
    "dense_forward",
    "layernorm_backward",
    "layernorm_forward",
    "lstm_backward",
    "lstm_forward",
    "mse",
    "rmsprop_step",
    "scale_",
    "segment_absmax",
    "segment_delta_sumsq",
    "segment_sumsq",
    "sgd_step",
    "softmax_xent",
]
