"""Norms and clipping over a flat buffer cut into segments (numba backend).

Contract and semantics: ``backends/reference/norms.py`` (torch's ``clip_grad_norm_`` /
``clip_grad_value_``): float64 squares and sums, NaN wins over inf in the absmax, an empty
segment gives 0 and 0.

Parallelism: a segment with at least ``PARALLEL_THRESHOLD`` elements is split into fixed
``CHUNK``-element chunks reduced in parallel (``prange``) into per-chunk partials, combined in
order -- so the result does not depend on the thread count. Smaller segments run serially.
``scale_`` and ``clip_value_`` use ``prange`` over the elements above the threshold.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import check_clip, check_flat, check_segments
from ._jit import CHUNK, PARALLEL_LOCK, PARALLEL_THRESHOLD, jit, prange

__all__ = ["clip_value_", "scale_", "segment_absmax", "segment_sumsq"]


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


# --------------------------------------------------------------------- segment kernels


@jit()
def _sumsq_serial(flat, offsets, sumsq, nonfinite):
    for s in range(offsets.shape[0] - 1):
        sumsq[s], nonfinite[s] = _sumsq_range(flat, offsets[s], offsets[s + 1])


@jit(parallel=True)
def _sumsq_parallel(flat, offsets, sumsq, nonfinite, threshold, chunk):
    for s in range(offsets.shape[0] - 1):
        lo = offsets[s]
        hi = offsets[s + 1]
        n = hi - lo
        if n < threshold:
            sumsq[s], nonfinite[s] = _sumsq_range(flat, lo, hi)
            continue
        nch = (n + chunk - 1) // chunk
        part = np.empty(nch, np.float64)
        cnt = np.empty(nch, np.int64)
        for q in prange(nch):
            a = lo + q * chunk
            b = min(hi, a + chunk)
            part[q], cnt[q] = _sumsq_range(flat, a, b)
        tot = 0.0
        bad = 0
        for q in range(nch):
            tot += part[q]
            bad += cnt[q]
        sumsq[s] = tot
        nonfinite[s] = bad


@jit()
def _absmax_serial(flat, offsets, absmax, nonfinite):
    for s in range(offsets.shape[0] - 1):
        absmax[s], nonfinite[s] = _absmax_range(flat, offsets[s], offsets[s + 1])


@jit(parallel=True)
def _absmax_parallel(flat, offsets, absmax, nonfinite, threshold, chunk):
    for s in range(offsets.shape[0] - 1):
        lo = offsets[s]
        hi = offsets[s + 1]
        n = hi - lo
        if n < threshold:
            absmax[s], nonfinite[s] = _absmax_range(flat, lo, hi)
            continue
        nch = (n + chunk - 1) // chunk
        part = np.empty(nch, np.float64)
        cnt = np.empty(nch, np.int64)
        for q in prange(nch):
            a = lo + q * chunk
            b = min(hi, a + chunk)
            part[q], cnt[q] = _absmax_range(flat, a, b)
        m = 0.0
        bad = 0
        for q in range(nch):
            if part[q] > m or part[q] != part[q]:
                if m == m:
                    m = part[q]
            bad += cnt[q]
        absmax[s] = m
        nonfinite[s] = bad


@jit()
def _scale_serial(flat, alpha):
    for k in range(flat.shape[0]):
        flat[k] *= alpha


@jit(parallel=True)
def _scale_parallel(flat, alpha):
    for k in prange(flat.shape[0]):
        flat[k] *= alpha


@jit()
def _clip_serial(flat, lo, hi):
    for k in range(flat.shape[0]):
        v = flat[k]
        if v > hi:
            flat[k] = hi
        elif v < lo:
            flat[k] = lo  # NaN compares false both ways: stays NaN


@jit(parallel=True)
def _clip_parallel(flat, lo, hi):
    for k in prange(flat.shape[0]):
        v = flat[k]
        if v > hi:
            flat[k] = hi
        elif v < lo:
            flat[k] = lo


# --------------------------------------------------------------------- wrappers


def _c(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def segment_sumsq(
    flat: np.ndarray, offsets: np.ndarray, sumsq: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment float64 sum of squares and non-finite count. See the reference."""
    check_segments(flat, offsets, sumsq, "sumsq", nonfinite)
    f, o = _c(flat), _c(offsets)
    s, n = _c(sumsq), _c(nonfinite)
    if np.any(np.diff(offsets) >= PARALLEL_THRESHOLD):
        with PARALLEL_LOCK:
            _sumsq_parallel(f, o, s, n, PARALLEL_THRESHOLD, CHUNK)
    else:
        _sumsq_serial(f, o, s, n)
    if s is not sumsq:
        sumsq[...] = s
    if n is not nonfinite:
        nonfinite[...] = n


def segment_absmax(
    flat: np.ndarray, offsets: np.ndarray, absmax: np.ndarray, nonfinite: np.ndarray
) -> None:
    """Per-segment max |x| (float64; NaN wins) and non-finite count. See the reference."""
    check_segments(flat, offsets, absmax, "absmax", nonfinite)
    f, o = _c(flat), _c(offsets)
    m, n = _c(absmax), _c(nonfinite)
    if np.any(np.diff(offsets) >= PARALLEL_THRESHOLD):
        with PARALLEL_LOCK:
            _absmax_parallel(f, o, m, n, PARALLEL_THRESHOLD, CHUNK)
    else:
        _absmax_serial(f, o, m, n)
    if m is not absmax:
        absmax[...] = m
    if n is not nonfinite:
        nonfinite[...] = n


def scale_(flat: np.ndarray, alpha: float) -> None:
    """``flat *= alpha`` in place (alpha rounded to flat's dtype first). See the reference."""
    check_flat(flat, inplace=True)
    buf = _c(flat)
    a = flat.dtype.type(alpha)
    if buf.shape[0] >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            _scale_parallel(buf, a)
    else:
        _scale_serial(buf, a)
    if buf is not flat:
        flat[...] = buf


def clip_value_(flat: np.ndarray, clip: float) -> None:
    """``flat = clamp(flat, -clip, clip)`` in place; NaN stays NaN; ``clip >= 0`` (ValueError
    otherwise). See the reference."""
    check_flat(flat, inplace=True)
    check_clip(clip)
    buf = _c(flat)
    cv = flat.dtype.type(clip)
    if buf.shape[0] >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            _clip_parallel(buf, -cv, cv)
    else:
        _clip_serial(buf, -cv, cv)
    if buf is not flat:
        flat[...] = buf
