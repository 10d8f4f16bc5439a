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

from .._contract import OPS, ieee_silent, ops_of
from . import activations, batchnorm, dense, layernorm, loss, lstm, norms, optim, rnn, stats
from ._jit import CHUNK, PARALLEL_THRESHOLD, cache_disabled_functions

_FAMILIES = (activations, batchnorm, dense, layernorm, loss, lstm, norms, optim, rnn, stats)

NAME = "numba"

# Every op of the contract (docs/kernels.md), bound here under its name. The Python wrappers
# do some NumPy math (GEMMs via np.matmul, small reductions): keep it silent about IEEE events,
# like the kernels themselves and the other backends.
globals().update(ops_of(*_FAMILIES, wrap=ieee_silent))

__all__ = ["CHUNK", "NAME", "PARALLEL_THRESHOLD", "cache_disabled_functions", *OPS]
