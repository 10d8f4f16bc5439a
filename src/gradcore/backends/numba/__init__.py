"""The numba backend: the kernel contract (``docs/kernels.md``) compiled with Numba.

Python wrappers validate arguments (``gradcore.backends._validate``: the same exception types
as the reference) and hand C-contiguous buffers to ``@njit(cache=True)`` kernels: GEMMs through
BLAS (``np.matmul``/``np.dot``), everything else fused loops; reductions in float64. Large
streaming kernels (optimizer steps, segment norms, scale, clip) switch to ``prange`` at
``PARALLEL_THRESHOLD`` elements. See ``docs/kernels.md`` ("numba backend") for caching and
threading.

Importing raises ``ImportError`` when numba is not installed, so the registry simply leaves
``"numba"`` out of ``gradcore.available_backends()``.
"""

from __future__ import annotations

try:
    import numba as _numba  # noqa: F401  (the top-level package, not this one)
except Exception as exc:  # pragma: no cover - exercised only without a working numba
    # Not installed, or installed but unusable (e.g. built for another NumPy): either way the
    # registry must simply not list this backend, never break ``import gradcore``.
    raise ImportError(
        f"the gradcore 'numba' backend needs a working numba (pip install 'gradcore[numba]'): "
        f"{type(exc).__name__}: {exc}"
    ) from exc

from ._jit import CHUNK, PARALLEL_THRESHOLD, cache_disabled_functions
from .activations import act_backward, act_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train
from .dense import dense_backward, dense_forward
from .layernorm import layernorm_backward, layernorm_forward
from .loss import bce_with_logits, mse, softmax_xent
from .lstm import lstm_backward, lstm_forward
from .norms import clip_value_, scale_, segment_absmax, segment_sumsq
from .optim import adagrad_step, adam_step, rmsprop_step, sgd_step
from .stats import act_stats, segment_delta_sumsq

NAME = "numba"

__all__ = [
    "CHUNK",
    "NAME",
    "PARALLEL_THRESHOLD",
    "act_backward",
    "act_forward",
    "act_stats",
    "adagrad_step",
    "adam_step",
    "batchnorm_backward",
    "batchnorm_forward_eval",
    "batchnorm_forward_train",
    "bce_with_logits",
    "cache_disabled_functions",
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

# The Python wrappers do some NumPy math (GEMMs via np.matmul, small reductions): keep it
# silent about IEEE events, like the kernels themselves and the other backends.
from .. import ieee_silent as _ieee_silent  # noqa: E402

for _name in __all__:
    if _name not in ("CHUNK", "NAME", "PARALLEL_THRESHOLD", "cache_disabled_functions"):
        globals()[_name] = _ieee_silent(globals()[_name])
del _name
