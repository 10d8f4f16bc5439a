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

import importlib as _importlib

from . import init, losses, nn, optim, params, threads, train
from ._version import __version__
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
from .params import StaleArenaError
from .threads import get_num_threads, set_num_threads

# Imported on first attribute access (PEP 562), so that `import gradcore` stays cheap (~0.1 s
# over NumPy's own import): the monitor (and, through its figures, matplotlib), the datasets and
# the experiments are not needed to build and train a model. `gc.data.spirals(...)`,
# `from gradcore import monitor` and `import gradcore.data` all work as before.
_LAZY_SUBMODULES = ("data", "experiments", "meanfield", "monitor", "sweep")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        module = _importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__all__ = [
    "Checkpoint",
    "CheckpointError",
    "GradcheckError",
    "GradcheckResult",
    "StaleArenaError",
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
    "meanfield",
    "monitor",
    "nn",
    "optim",
    "params",
    "save",
    "set_backend",
    "set_num_threads",
    "sweep",
    "threads",
    "train",
    "use_backend",
]
