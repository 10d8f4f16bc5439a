"""The monitor's statistics family (numba backend).

Contract and semantics: ``backends/reference/stats.py``. ``act_stats`` reads ``x`` (viewed as
``[M, C]``) once, in float64: sums, min/max, saturation count and per-column non-zero counts.
The non-finite and NaN counts are taken by a second pass only when the sum of squares is not
finite (``inf²`` and NaN propagate, so a finite sum proves every element finite), as in the C
kernel. ``segment_delta_sumsq`` reads ``new`` and ``prev`` once and writes ``prev`` in the same
loop.

Parallelism (``prange``) from ``PARALLEL_THRESHOLD`` elements, over pieces whose edges depend
only on the shapes (never on the thread count), partials combined in piece order:

- ``act_stats``: blocks of columns (each block owns its ``colnz`` entries; at least 64
  columns and ``CHUNK`` elements per block) when ``C >= 2 * 64``; otherwise (narrow arrays,
  e.g. ``[N, 10]``) blocks of ``CHUNK // C`` rows with per-block ``colnz`` partials.
- ``segment_delta_sumsq``: the whole buffer cut into ``CHUNK``-element chunks regardless of the
  segments (one parallel region for all of them, so 20 segments of 5e4 elements run threaded
  too); a segment crossing chunk edges gets its partial sums added in chunk order.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import check_delta_args, check_stats_args
from ._jit import CHUNK, PARALLEL_LOCK, PARALLEL_THRESHOLD, InOut, c, jit, prange

__all__ = ["act_stats", "segment_delta_sumsq"]

#: minimum columns per block of the column-split parallel act_stats
COLBLOCK = 64


# --------------------------------------------------------------------- act_stats


#: Sums in three levels (as the C kernel): blocks of <= SUMBLOCK elements, block sums into a
#: partial flushed into the total every SUMFLUSH elements. Activations cluster on few values
#: (ReLU zeros, saturated tanh), so one long running float64 sum drifts: a sequential sum of
#: squares of 2.6e5 such float32 values was 1.5e-12 (relative) off NumPy's pairwise sum.
SUMBLOCK = 512
SUMFLUSH = 65536


@jit()
def _stats_block(x, r0, r1, c0, c1, C, sat, thr, cnt, coff):
    """Rows [r0, r1) x columns [c0, c1) of x (flat, [M, C]); cnt[coff + c - c0] += (x != 0).
    Returns (sum, sumsq, min, max, n_saturated); min/max skip NaN (see the module doc)."""
    s = 0.0
    ss = 0.0
    ps = 0.0
    pss = 0.0
    npart = 0
    bs = 0.0
    bss = 0.0
    nblk = 0
    mn = np.inf
    mx = -np.inf
    nsat = 0
    for r in range(r0, r1):
        base = r * C
        for b0 in range(c0, c1, SUMBLOCK):
            b1 = min(c1, b0 + SUMBLOCK)
            for j in range(b0, b1):
                v = np.float64(x[base + j])
                if v != 0.0:  # NaN counts as non-zero
                    cnt[coff + j - c0] += 1
                bs += v
                bss += v * v
                if v < mn:
                    mn = v
                if v > mx:
                    mx = v
                if sat == 1:
                    if v * (1.0 - v) < thr:
                        nsat += 1
                elif sat == 2:
                    if 1.0 - v * v < thr:
                        nsat += 1
            nblk += b1 - b0
            if nblk >= SUMBLOCK:  # narrow rows: a block spans several rows
                ps += bs
                pss += bss
                npart += nblk
                bs = 0.0
                bss = 0.0
                nblk = 0
                if npart >= SUMFLUSH:
                    s += ps
                    ss += pss
                    ps = 0.0
                    pss = 0.0
                    npart = 0
    return s + (ps + bs), ss + (pss + bss), mn, mx, nsat


@jit()
def _count_bad(x):
    bad = 0
    nan = 0
    for k in range(x.shape[0]):
        v = x[k]
        if not math.isfinite(v):
            bad += 1
        if v != v:
            nan += 1
    return bad, nan


@jit()
def _finish(x, s, ss, mn, mx, nsat, out):
    bad = 0
    nan = 0
    if not math.isfinite(ss):
        bad, nan = _count_bad(x)
    if nan > 0:
        mn = np.nan
        mx = np.nan
    out[0] = s
    out[1] = ss
    out[2] = mn
    out[3] = mx
    out[4] = nsat
    out[5] = bad


@jit()
def _stats_serial(x, M, C, sat, thr, colnz, out):
    for j in range(C):
        colnz[j] = 0
    s, ss, mn, mx, nsat = _stats_block(x, 0, M, 0, C, C, sat, thr, colnz, 0)
    _finish(x, s, ss, mn, mx, nsat, out)


@jit()
def _combine(part, ns):
    """Block partials combined in block order (deterministic): sums, min, max, saturated."""
    s = 0.0
    ss = 0.0
    mn = np.inf
    mx = -np.inf
    nsat = 0
    for q in range(part.shape[0]):
        s += part[q, 0]
        ss += part[q, 1]
        mn = min(mn, part[q, 2])
        mx = max(mx, part[q, 3])
        nsat += ns[q]
    return s, ss, mn, mx, nsat


@jit(parallel=True)
def _stats_by_cols(x, M, C, sat, thr, colnz, out, cw):
    nb = (C + cw - 1) // cw
    part = np.empty((nb, 4), np.float64)
    ns = np.empty(nb, np.int64)
    for q in prange(nb):
        c0 = q * cw
        c1 = min(C, c0 + cw)
        for j in range(c0, c1):
            colnz[j] = 0
        part[q, 0], part[q, 1], part[q, 2], part[q, 3], ns[q] = _stats_block(
            x, 0, M, c0, c1, C, sat, thr, colnz, c0
        )
    s, ss, mn, mx, nsat = _combine(part, ns)
    _finish(x, s, ss, mn, mx, nsat, out)


@jit(parallel=True)
def _stats_by_rows(x, M, C, sat, thr, colnz, out, rows):
    nb = (M + rows - 1) // rows
    part = np.empty((nb, 4), np.float64)
    ns = np.empty(nb, np.int64)
    pc = np.zeros((nb, C), np.int64)
    for q in prange(nb):
        r0 = q * rows
        r1 = min(M, r0 + rows)
        part[q, 0], part[q, 1], part[q, 2], part[q, 3], ns[q] = _stats_block(
            x, r0, r1, 0, C, C, sat, thr, pc[q], 0
        )
    for j in range(C):
        colnz[j] = 0
    s, ss, mn, mx, nsat = _combine(part, ns)
    for q in range(nb):
        for j in range(C):
            colnz[j] += pc[q, j]
    _finish(x, s, ss, mn, mx, nsat, out)


def act_stats(
    x: np.ndarray, sat: int, threshold: float, colnz: np.ndarray, out: np.ndarray
) -> None:
    """One-pass statistics of an activation array; see the reference for the definition."""
    M, C = check_stats_args(x, sat, threshold, colnz, out)
    xf = c(x).reshape(-1)
    cz, o = InOut(colnz, copy=False), InOut(out, copy=False)
    thr = float(threshold)
    if M * C < PARALLEL_THRESHOLD:
        _stats_serial(xf, M, C, int(sat), thr, cz.buf, o.buf)
    elif C >= 2 * COLBLOCK:
        # >= COLBLOCK columns and >= CHUNK elements per block, 16-column multiples
        cw = max(COLBLOCK, -(-CHUNK // M))
        cw = -(-cw // 16) * 16
        with PARALLEL_LOCK:
            _stats_by_cols(xf, M, C, int(sat), thr, cz.buf, o.buf, cw)
    else:
        with PARALLEL_LOCK:
            _stats_by_rows(xf, M, C, int(sat), thr, cz.buf, o.buf, max(1, CHUNK // C))
    cz.done()
    o.done()


# --------------------------------------------------------------------- segment_delta_sumsq


@jit()
def _delta_range(new, prev, lo, hi):
    d2 = 0.0
    n2 = 0.0
    for f0 in range(lo, hi, SUMFLUSH):
        f1 = min(hi, f0 + SUMFLUSH)
        pd = 0.0
        pn = 0.0
        for b0 in range(f0, f1, SUMBLOCK):
            b1 = min(f1, b0 + SUMBLOCK)
            bd = 0.0
            bn = 0.0
            for k in range(b0, b1):
                a = new[k]
                v = np.float64(a)
                d = v - np.float64(prev[k])
                bd += d * d
                bn += v * v
                prev[k] = a
            pd += bd
            pn += bn
        d2 += pd
        n2 += pn
    return d2, n2


@jit()
def _delta_serial(new, prev, offsets, dsum, nsum):
    for s in range(offsets.shape[0] - 1):
        dsum[s], nsum[s] = _delta_range(new, prev, offsets[s], offsets[s + 1])


@jit(parallel=True)
def _delta_parallel(new, prev, offsets, dsum, nsum, chunk):
    P = new.shape[0]
    S = offsets.shape[0] - 1
    nch = (P + chunk - 1) // chunk
    sf = np.empty(nch, np.int64)
    sl = np.empty(nch, np.int64)
    pf = np.zeros((nch, 2), np.float64)
    pl = np.zeros((nch, 2), np.float64)
    for s in range(S):
        dsum[s] = 0.0
        nsum[s] = 0.0
    for q in prange(nch):
        c0 = q * chunk
        c1 = min(P, c0 + chunk)
        # the segments holding c0 and c1 - 1: the last ones starting at or before them
        s0 = np.searchsorted(offsets, c0, side="right") - 1
        s1 = np.searchsorted(offsets, c1 - 1, side="right") - 1
        sf[q] = s0
        sl[q] = s1
        for s in range(s0, s1 + 1):
            a = max(offsets[s], c0)
            b = min(offsets[s + 1], c1)
            d2, n2 = _delta_range(new, prev, a, b)
            if s == s0:
                pf[q, 0] = d2
                pf[q, 1] = n2
            elif s == s1:
                pl[q, 0] = d2
                pl[q, 1] = n2
            else:  # wholly inside this chunk: no other chunk touches it
                dsum[s] = d2
                nsum[s] = n2
    for q in range(nch):
        dsum[sf[q]] += pf[q, 0]
        nsum[sf[q]] += pf[q, 1]
        if sl[q] != sf[q]:
            dsum[sl[q]] += pl[q, 0]
            nsum[sl[q]] += pl[q, 1]


def segment_delta_sumsq(
    new: np.ndarray,
    prev: np.ndarray,
    offsets: np.ndarray,
    delta_sumsq: np.ndarray,
    new_sumsq: np.ndarray,
) -> None:
    """Per-segment ``Σ (new - prev)²``, ``Σ new²`` (float64), then ``prev[:] = new``."""
    check_delta_args(new, prev, offsets, delta_sumsq, new_sumsq)
    nw, o = c(new), c(offsets)
    pv = InOut(prev, copy=True)
    ds, ns = InOut(delta_sumsq, copy=False), InOut(new_sumsq, copy=False)
    if nw.shape[0] >= PARALLEL_THRESHOLD:
        with PARALLEL_LOCK:
            _delta_parallel(nw, pv.buf, o, ds.buf, ns.buf, CHUNK)
    else:
        _delta_serial(nw, pv.buf, o, ds.buf, ns.buf)
    pv.done()
    ds.done()
    ns.done()
