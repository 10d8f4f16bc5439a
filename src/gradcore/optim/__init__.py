"""Optimizers, gradient clipping and learning-rate schedules over the flat parameter arena.

Semantics of ``torch.optim`` / ``torch.nn.utils.clip_grad_*`` / ``torch.optim.lr_scheduler``
(see each class); state lives in flat buffers so a step is one kernel call for the model.

Every argument is validated where it enters (constructors, ``opt.lr``/``opt.hyper`` setters,
``load_state_dict``, ``step(metric)``, each clip call) with the ``gradcore._args`` wording,
``"{owner}: {name} must be {expected}, got {given}"``: ``TypeError`` for a wrong type,
``ValueError`` for a wrong value; NumPy scalars are taken as the Python numbers they equal.
"""

from .clip import (
    AGC,
    AutoClip,
    NonFiniteGradientError,
    clip_grad_norm,
    clip_grad_norm_per_tensor,
    clip_grad_value,
    grad_norms,
    tensor_grad_norms,
)
from .optimizers import SGD, AdaGrad, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, ReduceLROnPlateau, StepLR

__all__ = [
    "AGC",
    "SGD",
    "AdaGrad",
    "Adagrad",
    "Adam",
    "AdamW",
    "AutoClip",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "NonFiniteGradientError",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "clip_grad_norm",
    "clip_grad_norm_per_tensor",
    "clip_grad_value",
    "grad_norms",
    "tensor_grad_norms",
]
