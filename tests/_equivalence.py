"""Shared harness of the equivalence suite (``tests/test_equivalence*.py``): every op of the
backend contract, on every compiled backend (``c``, ``numba``), against the NumPy reference, in
float32 and float64, with the tolerances of ``tests/_tolerances.py``.

Modules import this first; it skips the whole module when no compiled backend is available
(the only skip; ``GRADCORE_REQUIRE_BACKENDS`` turns it into a failure, see conftest).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

import gradcore as gc
from gradcore.backends import reference as ref
from gradcore.testing import strategies as gst

try:  # the contract module (issue 12); until it lands, the reference's list is the contract
    from gradcore.backends import _contract
except ImportError:  # pragma: no cover - depends on the branch
    _contract = None

#: every op of the backend contract
OPS: tuple[str, ...] = tuple(
    getattr(_contract, "OPS", None) or (n for n in ref.__all__ if n != "NAME")
)

BACKENDS = [b for b in gc.available_backends() if b != "numpy"]
if not BACKENDS:
    pytest.skip("no compiled backend (numba, c) is available", allow_module_level=True)


def _module(name):
    with gc.use_backend(name) as mod:
        return mod


MODS = {name: _module(name) for name in BACKENDS}
DTYPES = [np.float32, np.float64]

#: parametrize a test over the compiled backends (argument ``name``) and dtypes (``dt``)
BACKEND = pytest.mark.parametrize("name", BACKENDS)
DT = pytest.mark.parametrize("dt", DTYPES, ids=["f32", "f64"])
SETTINGS = settings(max_examples=25, deadline=None)
#: tests of the c backend's own input handling (its error messages, its thread count)
C_ONLY = pytest.mark.skipif("c" not in MODS, reason="gradcore._kernels (backend 'c') is not built")

#: backends that reject non-contiguous arrays with a clear ValueError instead of copying them
#: (allowed by the contract; documented in the backend's docstring)
REJECTS_NONCONTIGUOUS = {"c"}

value_scales = st.sampled_from([1e-3, 1e-1, 1.0, 3.0, 30.0, 300.0])


def randn(data, shape, dt, lo=-2, hi=1):
    """A hypothesis-drawn array of ``shape``, magnitudes 2**lo .. 2**hi."""
    return data.draw(gst.arrays(shape, min_exponent=lo, max_exponent=hi, dtype=dt))


def rand(rng, shape, dtype, scale=1.0, loc=0.0):
    """``loc + scale * N(0, 1)`` as a C-contiguous array of ``dtype`` (0-d stays 0-d)."""
    return np.array(loc + rng.standard_normal(shape) * scale, dtype=dtype, order="C")


def both(fn_name, name, make_args):
    """Run op ``fn_name`` on the reference and on backend ``name`` with fresh copies of the same
    arguments; return (reference args, backend args, reference result, backend result)."""
    a_ref, a_be = make_args(), make_args()
    r_ref = getattr(ref, fn_name)(*a_ref)
    r_be = getattr(MODS[name], fn_name)(*a_be)
    return a_ref, a_be, r_ref, r_be


def read_only(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@st.composite
def norm_shapes(draw, min_n=2):
    """(N, C, seed, loc) for BatchNorm/LayerNorm: small, or above GC_PARALLEL_MIN elements (row
    chunks on threads); data offset ``loc`` 0, 3 or 100 (the centering's cancellation)."""
    if draw(st.booleans()):
        N, C = draw(st.integers(256, 700)), draw(st.integers(100, 260))
    else:
        N, C = draw(st.integers(min_n, 40)), draw(st.integers(1, 40))
    return N, C, draw(st.integers(0, 2**31)), draw(st.sampled_from([0.0, 3.0, 100.0]))


def norm_scales(x, gamma, beta, mean, inv_std, dy, axis):
    """The error scales of a normalization over ``axis`` (0: BatchNorm's columns, 1:
    LayerNorm's rows), from its inputs, as ``{output name: scale}`` for ``close``: the size of
    the terms each output is summed from. The centering ``x - mean`` rounds at the size of
    ``|x|`` and of the mean's own error, which is that of a sum of the column's (row's) terms,
    ``max|x|``: not at the size of the (possibly much smaller) difference. So ``xhat`` is
    judged at ``xa = (|x| + max|x|) inv_std``. ``mean``: the column's (row's) ``max|x|``;
    ``inv_std``: 0 (computed from the centred data, rounded once); ``y = gamma xhat + beta``:
    ``|gamma| xa + |beta|``; ``dx = gamma inv_std / N (N dy - sum dy - xhat sum(dy xhat))``
    cancels (to ~1e-7 of its terms at N = 2): judged at ``|gamma| inv_std (|dy| + mean|dy| +
    xa mean|dy| xa)``; dgamma, dbeta: the sums of ``|dy| xa``, ``|dy|`` over the batch."""
    f = lambda a: np.asarray(a, np.float64)  # noqa: E731
    x, gamma, beta, dy = f(x), f(gamma), f(beta), f(dy)
    keep = lambda a: np.expand_dims(a, axis)  # noqa: E731  (a per-column/row vector, broadcast)
    mean, inv_std = keep(f(mean)), keep(f(inv_std))
    if x.size == 0:
        z, zc = np.zeros(x.shape[1 - axis]), np.zeros(x.shape[1])
        return {"mean": z, "inv_std": z, "y": 0.0, "dx": 0.0, "dgamma": zc, "dbeta": zc}
    xhat = (np.abs(x) + np.max(np.abs(x), axis=axis, keepdims=True)) * inv_std  # xa
    g = np.abs(gamma)  # per feature (column) in both
    n = x.shape[axis]
    dyx = np.sum(np.abs(dy) * xhat, axis=axis, keepdims=True) / n
    dym = np.sum(np.abs(dy), axis=axis, keepdims=True) / n
    return {
        "mean": np.max(np.abs(x), axis=axis),
        "inv_std": 0.0,
        "y": g * xhat + np.abs(beta),
        "dx": g * inv_std * (np.abs(dy) + dym + xhat * dyx),
        "dgamma": np.sum(np.abs(dy) * xhat, axis=0),  # dgamma, dbeta: sums over the batch
        "dbeta": np.sum(np.abs(dy), axis=0),
    }


@st.composite
def recurrent_shapes(draw, min_d=1):
    """``(N, T, D, H)`` for a recurrent family's kernels (LSTM, RNN): half small, half drawn
    to cross the OpenMP threshold of the time loop (N*T*H >= 32768: the batch is split over
    threads), as a long sequence or as T = 1 with a large batch. ``min_d``: the smallest input
    size of the small and long kinds (0: also no input at all)."""
    kind = draw(st.sampled_from(["small", "small", "long", "wide"]))
    if kind == "long":  # N*T*H >= 32768: the time loop runs on threads (batch split)
        N, H = draw(st.integers(32, 40)), draw(st.integers(64, 72))
        T, D = draw(st.integers(16, 18)), draw(st.integers(min_d, 8))
    elif kind == "wide":  # the same with T = 1 and a large batch
        N, H = draw(st.integers(512, 600)), draw(st.integers(64, 70))
        T, D = 1, draw(st.integers(1, 8))
    else:
        N, H = draw(st.integers(1, 6)), draw(st.integers(1, 9))
        T, D = draw(st.integers(1, 12)), draw(st.integers(min_d, 7))
    return N, T, D, H


def threaded_and_serial(run):
    """``run()`` with the c kernels' default thread count, then with one thread (one chunk:
    the serial path), restoring the count."""
    from gradcore import _kernels

    n = _kernels.max_threads()
    out = [run()]
    _kernels.set_num_threads(1)
    try:
        out.append(run())
    finally:
        _kernels.set_num_threads(n)
    return out
