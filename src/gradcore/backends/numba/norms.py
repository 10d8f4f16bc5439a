"""Norms and clipping over a flat buffer cut into segments (numba backend).

Contract and semantics: ``backends/reference/norms.py`` (torch's ``clip_grad_norm_`` /
``clip_grad_value_``): float64 squares and sums, NaN wins over inf in the absmax, an empty
segment gives 0 and 0.

Parallelism: a segment with at least ``PARALLEL_THRESHOLD`` elements is split into fixed
``CHUNK``-element chunks reduced in parallel (``prange``) into per-chunk partials, combined in
order -- so the result does not depend on the thread count. Smaller segments run serially.
``scale_`` and ``clip_value_`` run the serial loop on fixed ``CHUNK``-element slices under
``prange`` above the threshold (elementwise: the same result on any thread count).
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import check_clip, check_flat, check_segments
from ._jit import CHUNK, PARALLEL_LOCK, PARALLEL_THRESHOLD, c, jit, prange

__all__ = ["clip_value_", "scale_", "segment_absmax", "segment_sumsq"]

#: which reduction the segment kernels run
SUMSQ, ABSMAX = 0, 1
_OPS = ("segment_sumsq", "segment_absmax")


# --------------------------------------------------------------------- range kernels (serial)


@jit()
def _sumsq_range(flat, lo, hi):
    s = 0.0
    bad = 0
    for k in range(lo, hi):
        v = np.float64(flat[k])
        s += v * v
        if not math.isfinite(v):
            bad += 1
    return s, bad


@jit()
def _absmax_range(flat, lo, hi):
    m = 0.0
    bad = 0
    for k in range(lo, hi):
        a = abs(np.float64(flat[k]))
        if a > m or a != a:
            if m == m:  # once NaN, stays NaN (NaN wins over inf, as np.max / torch)
                m = a
        if not math.isfinite(a):
            bad += 1
    return m, bad


@jit()
def _range(kind, flat, lo, hi):
    """(value, non-finite count) of ``flat[lo:hi]``: sum of squares or absmax (``kind``)."""
    if kind == SUMSQ:
        return _sumsq_range(flat, lo, hi)
    return _absmax_range(flat, lo, hi)


@jit()
def _merge(kind, acc, part):
    """Two partial values combined: summed (sumsq) or the max with NaN winning (absmax)."""
    if kind == SUMSQ:
        return acc + part
    if part > acc or part != part:
        if acc == acc:
            acc = part
    return acc


# --------------------------------------------------------------------- segment kernels


@jit()
def _segments_serial(kind, flat, offsets, values, nonfinite):
    for s in range(offsets.shape[0] - 1):
        values[s], nonfinite[s] = _range(kind, flat, offsets[s], offsets[s + 1])


@jit(parallel=True)
def _segments_parallel(kind, flat, offsets, values, nonfinite, threshold, chunk):
    for s in range(offsets.shape[0] - 1):
        lo = offsets[s]
        hi = offsets[s + 1]
        n = hi - lo
        if n < threshold:
            values[s], nonfinite[s] = _range(kind, flat, lo, hi)
            continue
        nch = (n + chunk - 1) // chunk
        part = np.empty(nch, np.float64)
        cnt = np.empty(nch, np.int64)
        for q in prange(nch):
            a = lo + q * chunk
            b = min(hi, a + chunk)
            part[q], cnt[q] = _range(kind, flat, a, b)
        tot = 0.0
        bad = 0
        for q in range(nch):  # in chunk order: the result does not depend on the threads
            tot = _merge(kind, tot, part[q])
            bad += cnt[q]
        values[s] = tot
        nonfinite[s] = bad


@jit()
def _scale_serial(flat, alpha):
    for k in range(flat.shape[0]):
        flat[k] *= alpha


@jit(parallel=True)
def _scale_parallel(flat, alpha, chunk):
    n = flat.shape[0]
    for q in prange((n + chunk - 1) // chunk):  # the serial loop on each chunk
        lo = q * chunk
        _scale_serial(flat[lo : min(n, lo + chunk)], alpha)


@jit()
def _clip_serial(flat, lo, hi):
    for k in range(flat.shape[0]):
        v = flat[k]
        if v > hi:
            flat[k] = hi
        elif v < lo:
            flat[k] = lo  # NaN compares false both ways: stays NaN


@jit(parallel=True)
def _clip_parallel(flat, lo, hi, chunk):
    n = flat.shape[0]
    for q in prange((n + chunk - 1) // chunk):  # the serial loop on each chunk
        a = q * chunk
        _clip_serial(flat[a : min(n, a + chunk)], lo, hi)


# --------------------------------------------------------------------- wrappers


def _segments(kind: int, flat, offsets, values, vname: str, nonfinite) -> None:
    check_segments(_OPS[kind], flat, offsets, values, vname, nonfinite)
    f, o = c(flat), c(offsets)
    v, n = c(values), c(nonfinite)
    if np.any(np.diff(offsets) >= PARALLEL_THRESHOLD):
        with PARALLEL_LOCK:
            _segments_parallel(kind, f, o, v, n, PARALLEL_THRESHOLD, CHUNK)
    else:
        _segments_serial(kind, f, o, v, n)
    if v is not values:
        values[...] = v
    if n is not nonfinite:
        nonfinite[...] = n


def segment_sumsq(
    flat: np.ndarray, offsets: np.ndarray, sumsq: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment float64 sum of squares and non-finite count. See the reference."""
    _segments(SUMSQ, flat, offsets, sumsq, "sumsq", nonfinite)


def segment_absmax(
    flat: np.ndarray, offsets: np.ndarray, absmax: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment max |x| (float64; NaN wins) and non-finite count. See the reference."""
    _segments(ABSMAX, flat, offsets, absmax, "absmax", nonfinite)


def scale_(flat: np.ndarray, alpha: float) -> None:
    """``flat *= alpha`` in place (alpha rounded to flat's dtype first). See the reference."""
    check_flat("scale_", flat, inplace=True)
    buf = c(flat)
    a = flat.dtype.type(alpha)
    if buf.shape[0] >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            _scale_parallel(buf, a, CHUNK)
    else:
        _scale_serial(buf, a)
    if buf is not flat:
        flat[...] = buf


def clip_value_(flat: np.ndarray, clip: float) -> None:
    """``flat = clamp(flat, -clip, clip)`` in place; NaN stays NaN; ``clip >= 0`` (ValueError
    otherwise). See the reference."""
    check_flat("clip_value_", flat, inplace=True)
    check_clip(clip)
    buf = c(flat)
    cv = flat.dtype.type(clip)
    if buf.shape[0] >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            _clip_parallel(buf, -cv, cv, CHUNK)
    else:
        _clip_serial(buf, -cv, cv)
    if buf is not flat:
        flat[...] = buf
