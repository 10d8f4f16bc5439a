"""The NumPy reference backend: the definition of every kernel, and the baseline.

Readable math, float64 accumulation for reductions, outputs written into caller arrays.
Allowed to be slow, never allowed to be clever. Contract: ``docs/kernels.md``.

Every op runs with IEEE semantics and no NumPy floating-point warnings (overflow gives inf,
0/0 gives NaN), like torch and the compiled backends: detecting non-finite values is the
caller's job (``fit``'s ``TerminateOnNonFinite``, ``clip_grad_norm(error_if_nonfinite=True)``).
"""

from .. import ieee_silent as _ieee_silent
from .activations import act_backward, act_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train
from .dense import dense_backward, dense_forward
from .layernorm import layernorm_backward, layernorm_forward
from .loss import bce_with_logits, mse, softmax_xent
from .lstm import lstm_backward, lstm_forward
from .norms import clip_value_, scale_, segment_absmax, segment_sumsq
from .optim import adagrad_step, adam_step, rmsprop_step, sgd_step
from .stats import act_stats, segment_delta_sumsq

NAME = "numpy"


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

for _name in __all__[1:]:
    globals()[_name] = _ieee_silent(globals()[_name])
del _name
