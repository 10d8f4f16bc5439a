"""gradcore: a small, fast, inspectable deep-learning engine for the CPU.

Built to make vanishing and exploding gradients visible, explainable and fixable.

Quick tour::

    import numpy as np, gradcore as gc
    model = gc.nn.Sequential([gc.nn.Dense(4, 16, "tanh"), gc.nn.Dense(16, 3, "linear")])
    loss = gc.losses.SoftmaxCrossEntropy()
    value = loss.forward(model.forward(x), labels)
    model.backward(loss.backward())          # grads accumulate in layer.grads
    gc.gradcheck(gc.nn.Dense(4, 3, "gelu", dtype=np.float64), x64)

Kernels run on the active backend (``gc.available_backends()``, ``gc.set_backend``,
``gc.use_backend``, env ``GRADCORE_BACKEND``); ``numpy`` is the readable reference.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from . import data, init, losses, monitor, nn, optim, params, threads, train
from .backends import (
    Workspace,
    available_backends,
    get_backend,
    get_backend_name,
    set_backend,
    use_backend,
)
from .checkpoint import Checkpoint, CheckpointError, load, save
from .gradcheck import GradcheckError, GradcheckResult, TensorCheck, gradcheck
from .optim import clip_grad_norm, clip_grad_value
from .threads import get_num_threads, set_num_threads

try:
    __version__ = _version("gradcore")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "GradcheckError",
    "GradcheckResult",
    "TensorCheck",
    "Workspace",
    "__version__",
    "available_backends",
    "clip_grad_norm",
    "clip_grad_value",
    "data",
    "get_backend",
    "get_backend_name",
    "get_num_threads",
    "gradcheck",
    "init",
    "load",
    "losses",
    "monitor",
    "nn",
    "optim",
    "params",
    "save",
    "set_backend",
    "set_num_threads",
    "threads",
    "train",
    "use_backend",
]
