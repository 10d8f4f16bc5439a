"""Optimizer steps over flat buffers, compiled (``kernels/optim.c``); contract: ``docs/kernels.md``.

``sgd_step``, ``rmsprop_step``, ``adagrad_step``, ``adam_step`` (Adam / AdamW, amsgrad): ONE
fused streaming pass over ``p``, ``g`` and the state buffers, split across OpenMP threads
above 65536 elements, each option combination compiled to its own vector loop. Operation
order, scalar rounding and NaN propagation are the reference's (torch's single-tensor code),
so results are bitwise equal to the reference in float32 and float64. Buffers may have any
shape (viewed flat) but must be C-contiguous, writeable (except ``g``) and must not overlap.
"""

from gradcore._kernels import adagrad_step, adam_step, rmsprop_step, sgd_step

__all__ = ["adagrad_step", "adam_step", "rmsprop_step", "sgd_step"]
