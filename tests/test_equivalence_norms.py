"""Equivalence suite, norms family: segment sums of squares / abs-max (the clipping and the
monitor's norms), ``scale_`` and ``clip_value_``, every compiled backend vs the NumPy reference,
float32 and float64 (harness: ``tests/_equivalence.py``; tolerances: ``tests/_tolerances.py``).

The reductions accumulate in float64 whatever the data dtype (``compiled_reduction``); the
non-finite counts agree exactly; ``scale_``/``clip_value_`` round once per element: bitwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from _equivalence import BACKEND, DT, MODS, SETTINGS, both, rand, randn
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref

K = "compiled_reduction"


def _flat_with_segments(data, dt, nonfinite):
    sizes = data.draw(st.lists(st.integers(0, 9), min_size=0, max_size=6))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = randn(data, (int(offsets[-1]),), dt, lo=-3, hi=3)
    if nonfinite and flat.size:
        k = data.draw(st.integers(1, min(3, flat.size)))
        idx = data.draw(st.lists(st.integers(0, flat.size - 1), min_size=k, max_size=k))
        vals = data.draw(st.lists(st.sampled_from([np.inf, -np.inf, np.nan]), min_size=k,
                                  max_size=k))  # fmt: skip
        flat[idx] = vals
    return flat, offsets


@BACKEND
@DT
@SETTINGS
@given(op=st.sampled_from(["segment_sumsq", "segment_absmax"]), nonfinite=st.booleans(),
       data=st.data())  # fmt: skip
def test_segment_reductions(name, dt, op, nonfinite, data):
    flat, offsets = _flat_with_segments(data, dt, nonfinite)
    S = offsets.size - 1

    def args():
        return (flat, offsets, np.full(S, -1.0), np.full(S, -1, np.int64))

    a_r, a_b, _, _ = both(op, name, args)
    np.testing.assert_array_equal(a_b[3], a_r[3])  # non-finite counts exactly
    close(a_b[2], a_r[2], K, dt)


@BACKEND
@DT
@pytest.mark.parametrize("op", ["segment_sumsq", "segment_absmax"])
def test_segment_reductions_large(name, dt, op, rng):
    """Segments longer than any parallel threshold, mixed with empty and small ones."""
    sizes = [0, 70_000, 3, 0, 200_001, 1]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = rng.standard_normal(int(offsets[-1])).astype(dt)
    flat[100] = np.inf
    flat[70_010] = np.nan
    flat[200_000] = -np.inf
    S = len(sizes)

    def args():
        return (flat, offsets, np.empty(S), np.empty(S, np.int64))

    a_r, a_b, _, _ = both(op, name, args)
    np.testing.assert_array_equal(a_b[3], a_r[3])
    close(a_b[2], a_r[2], K, dt)


@BACKEND
@DT
@SETTINGS
@given(
    n=st.sampled_from([0, 1, 7, 100, 70_000]),
    alpha=st.sampled_from([0.0, 0.3, 1.0, -2.5, 1e-7, 0.123456789]),
    clip=st.sampled_from([0.0, 0.5, 1.0, 3.0, np.inf]),
    data=st.data(),
)
def test_scale_and_clip_value(name, dt, n, alpha, clip, data):
    flat = randn(data, (n,), dt, lo=-1, hi=1)
    if n:
        flat[data.draw(st.integers(0, n - 1))] = data.draw(st.sampled_from([np.inf, -np.inf,
                                                                            np.nan]))  # fmt: skip
    for op, arg in (("scale_", alpha), ("clip_value_", clip)):
        a_r, a_b = flat.copy(), flat.copy()
        with np.errstate(all="ignore"):
            getattr(ref, op)(a_r, arg)
        getattr(MODS[name], op)(a_b, arg)
        np.testing.assert_array_equal(a_b, a_r)  # one rounding per element: bitwise


@BACKEND
@DT
def test_norms_adapter_matches_reference(name, dt, rng):
    be = MODS[name]
    flat = rand(rng, 1000, dt)
    flat[[3, 500]] = [np.nan, np.inf]
    off = np.array([0, 0, 10, 400, 1000], np.int64)
    for op in ("segment_sumsq", "segment_absmax"):
        out = [(np.empty(4), np.empty(4, np.int64)) for _ in range(2)]
        getattr(be, op)(flat, off, *out[0])
        getattr(ref, op)(flat, off, *out[1])
        close(out[0][0], out[1][0], K, dt)
        np.testing.assert_array_equal(out[0][1], out[1][1])
    a, b = flat.copy(), flat.copy()
    be.scale_(a, 0.3)
    ref.scale_(b, 0.3)
    np.testing.assert_array_equal(a, b)
    be.clip_value_(a, 0.5)
    ref.clip_value_(b, 0.5)
    np.testing.assert_array_equal(a, b)
    for backend in (be, ref):
        with pytest.raises(ValueError, match="clip must be"):
            backend.clip_value_(a, float("nan"))
        with pytest.raises(TypeError):
            backend.segment_sumsq(flat, off.astype(np.int32), np.empty(4), np.empty(4, np.int64))
