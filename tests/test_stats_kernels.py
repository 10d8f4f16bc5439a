"""The stats family (act_stats, segment_delta_sumsq): the reference against direct formulas,
every compiled backend against the reference, and bad inputs raising alike everywhere."""

import itertools
import math

import numpy as np
import pytest
from _tolerances import close
from hypothesis import given
from hypothesis import strategies as st

import gradcore as gc
from gradcore.backends._validate import SATURATION, STATS_FIELDS

ref = gc.backends._try_load("numpy")
COMPILED = [b for b in gc.available_backends() if b != "numpy"]
K = "compiled_reduction"  # tests/_tolerances.py: float64 accumulation, summation order only
MODS = {name: gc.backends._try_load(name) for name in COMPILED}
DTYPES = [np.float32, np.float64]
SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0]
THRESHOLDS = [0.0, 1e-4, 0.01, 0.1, 0.25]


def _stats(mod, x, sat, thr):
    C = x.shape[-1] if x.ndim else 1
    colnz = np.full(C, -7, np.int64)
    out = np.full(len(STATS_FIELDS), -7.0)
    mod.act_stats(x, sat, thr, colnz, out)
    return colnz, out


def _near_threshold(rng, n, sat, thr):
    """Outputs of sigmoid (sat 1, in [0, 1]) or tanh (sat 2, in [-1, 1]) clustered around the
    points where the saturation test flips, plus uniform ones."""
    if sat == 2:
        b = math.sqrt(max(0.0, 1.0 - thr))
        edges = np.array([b, -b, 1.0, -1.0])
    else:
        d = max(0.0, 1.0 - 4.0 * thr)
        b = (1.0 - math.sqrt(d)) / 2.0 if d > 0 else 0.5
        edges = np.array([b, 1.0 - b, 0.0, 1.0])
    lo, hi = (-1.0, 1.0) if sat == 2 else (0.0, 1.0)
    near = edges[rng.integers(0, 4, n)] * (1.0 + rng.integers(-4, 5, n) * 2e-16)
    near = near + rng.integers(-3, 4, n) * 1e-8 * (rng.random(n) < 0.5)
    uni = rng.uniform(lo, hi, n)
    return np.where(rng.random(n) < 0.6, near, uni)


@st.composite
def activations(draw, dtype=None):
    """(x, sat, threshold): any rank 0-3 (incl. empty dims), values from sigmoid/tanh-like
    outputs near the thresholds, normals, exact zeros, whole zero columns, NaN and ±inf."""
    dtype = dtype or draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=3)))
    sat = draw(st.sampled_from([0, 1, 2]))
    thr = draw(st.sampled_from(THRESHOLDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    n = int(np.prod(shape))
    kind = draw(st.sampled_from(["sat", "normal", "relu"]))
    if kind == "sat":
        v = _near_threshold(rng, n, sat or 1, thr)
    elif kind == "normal":
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4)
    else:
        v = np.maximum(rng.standard_normal(n), 0.0)
    special = draw(st.floats(0.0, 0.3))
    mask = rng.random(n) < special
    v[mask] = np.array(SPECIAL)[rng.integers(0, len(SPECIAL), int(mask.sum()))]
    x = v.astype(dtype).reshape(shape)
    if x.ndim and x.shape[-1] and draw(st.booleans()):
        x[..., rng.integers(0, x.shape[-1])] = 0  # a dead unit
    return x, sat, thr


def _direct(x, sat, thr):
    """act_stats from scratch: Python floats (doubles) element by element."""
    C = x.shape[-1] if x.ndim else 1
    v2 = x.astype(np.float64).reshape(-1, C) if x.size else np.zeros((0, C))
    flat = [float(t) for t in v2.reshape(-1)]
    colnz = np.array([sum(1 for t in v2[:, c] if t != 0) for c in range(C)], np.int64)
    if sat == 1:
        nsat = sum(1 for t in flat if t * (1.0 - t) < thr)
    elif sat == 2:
        nsat = sum(1 for t in flat if 1.0 - t * t < thr)
    else:
        nsat = 0
    anynan = any(math.isnan(t) for t in flat)
    fin = [t for t in flat if not math.isnan(t)]
    mn = math.nan if anynan else min(fin, default=math.inf)
    mx = math.nan if anynan else max(fin, default=-math.inf)
    with np.errstate(all="ignore"):
        s = float(np.sum(v2, dtype=np.float64))
        ss = float(np.sum(v2 * v2, dtype=np.float64))
    bad = sum(1 for t in flat if not math.isfinite(t))
    return colnz, np.array([s, ss, mn, mx, nsat, bad])


def _sum_scale(x):
    """A signed sum can cancel: its rounding is bounded relative to Σ|x|, not to the sum."""
    with np.errstate(all="ignore"):
        a = float(np.sum(np.abs(x.astype(np.float64))))
    return a if math.isfinite(a) else 0.0


def _assert_stats(got, want, x, what=""):
    colnz, out = got
    wcolnz, wout = want
    np.testing.assert_array_equal(colnz, wcolnz, err_msg=f"colnz {what}")
    # counts, min, max: exactly (NaN == NaN here, and -0.0 == 0.0)
    np.testing.assert_array_equal(out[2:], wout[2:], err_msg=f"min/max/counts {what}")
    # sums: both accumulate in float64, only the summation order differs
    close(out[0], wout[0], K, scale=_sum_scale(x), err_msg=what)
    close(out[1], wout[1], K, err_msg=what)


# --------------------------------------------------------------------- the reference


def test_constants():
    assert SATURATION == {"none": 0, "sigmoid": 1, "tanh": 2}
    assert STATS_FIELDS == ("sum", "sumsq", "min", "max", "saturated", "nonfinite")
    for name in ["numpy", *COMPILED]:
        be = gc.backends._try_load(name)
        assert "SATURATION" not in be.__all__ and "STATS_FIELDS" not in be.__all__


@given(case=activations())
def test_reference_act_stats_matches_direct_formulas(case):
    x, sat, thr = case
    _assert_stats(_stats(ref, x, sat, thr), _direct(x, sat, thr), x)


def test_reference_act_stats_edge_cases():
    # empty: sums 0, min +inf, max -inf, counts 0
    for shape in [(0,), (3, 0), (0, 4), (2, 0, 5)]:
        colnz, out = _stats(ref, np.zeros(shape, np.float32), 1, 0.1)
        assert colnz.shape == (shape[-1],) and (colnz == 0).all()
        np.testing.assert_array_equal(out, [0, 0, np.inf, -np.inf, 0, 0])
    # 0-d is [1, 1]
    colnz, out = _stats(ref, np.array(0.5), 1, 0.25)
    np.testing.assert_array_equal(colnz, [1])
    np.testing.assert_array_equal(out, [0.5, 0.25, 0.5, 0.5, 0, 0])
    # NaN: non-zero, never saturated, min/max NaN; inf and 0 saturated (y(1-y) = -inf, 0)
    x = np.array([[np.nan, 0.0], [np.inf, 0.5]])
    colnz, out = _stats(ref, x, 1, 0.1)
    np.testing.assert_array_equal(colnz, [2, 1])
    assert np.isnan(out[:4]).all() and out[4] == 2 and out[5] == 2
    # sat 0 never counts; threshold 0 never saturates finite sigmoid outputs in [0, 1]
    assert _stats(ref, np.zeros(4), 0, 1.0)[1][4] == 0
    assert _stats(ref, np.array([0.0, 1.0, 0.5]), 1, 0.0)[1][4] == 0
    # the test is evaluated in float64 for float32 data: at y = 0.19999999 (float32),
    # y (1 - y) < 0.16 in double but not in float32 arithmetic
    y = np.float32(0.19999999)
    assert float(y) * (1.0 - float(y)) < 0.16
    assert not (y * (np.float32(1) - y) < np.float32(0.16))
    for name in ["numpy", *COMPILED]:
        be = gc.backends._try_load(name)
        assert _stats(be, np.array([y]), 1, 0.16)[1][4] == 1, name


@st.composite
def segmented(draw, dtype=None, nonfinite=False):
    dtype = dtype or draw(st.sampled_from(DTYPES))
    sizes = draw(st.lists(st.integers(0, 300), min_size=0, max_size=6))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    P = int(offsets[-1])
    scale = 10.0 ** draw(st.integers(-3, 3))
    prev = (rng.standard_normal(P) * scale).astype(dtype)
    new = (prev + rng.standard_normal(P) * scale * 10.0 ** draw(st.integers(-6, 0))).astype(dtype)
    same = rng.random(P) < 0.2
    new[same] = prev[same]  # unchanged (frozen) entries
    if nonfinite and P:
        k = rng.integers(0, P, 3)
        new[k[0]], prev[k[1]], new[k[2]] = np.inf, np.nan, -np.inf
    return new, prev, offsets


def _delta(mod, new, prev, offsets):
    S = len(offsets) - 1
    d, n = np.full(S, -1.0), np.full(S, -1.0)
    mod.segment_delta_sumsq(new, prev, offsets, d, n)
    return d, n


@given(case=segmented(nonfinite=True))
def test_reference_delta_matches_direct_formulas(case):
    new, prev, offsets = case
    p0 = prev.copy()
    d, n = _delta(ref, new, prev, offsets)
    with np.errstate(all="ignore"):
        for s, (a, b) in enumerate(itertools.pairwise(offsets)):
            nw = [float(t) for t in new[a:b]]
            dd = [t - float(u) for t, u in zip(nw, p0[a:b], strict=True)]
            np.testing.assert_allclose(d[s], np.sum(np.square(dd)), rtol=1e-12)
            np.testing.assert_allclose(n[s], np.sum(np.square(nw)), rtol=1e-12)
    assert prev.tobytes() == new.tobytes()


# --------------------------------------------------------------------- compiled vs reference


@pytest.fixture
def threads():
    """Set gradcore's thread count for a test; restored afterwards."""
    n0 = gc.get_num_threads()
    yield gc.set_num_threads
    gc.set_num_threads(n0)


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_act_stats_matches_reference(name, dtype, data):
    x, sat, thr = data.draw(activations(dtype))
    _assert_stats(_stats(MODS[name], x, sat, thr), _stats(ref, x, sat, thr), x)


def _big_activation(rng, shape, dtype, sat):
    n = int(np.prod(shape))
    x = _near_threshold(rng, n, sat or 1, 0.01) if sat else rng.standard_normal(n)
    x = np.maximum(x, 0.0) if not sat else x
    x = x.astype(dtype).reshape(shape)
    if x.ndim >= 2 and x.shape[-1] > 3:
        x[..., 3] = 0  # dead units at a chunk edge and inside
        x[..., -1] = 0
    flat = x.reshape(-1)
    flat[n // 2] = np.nan if sat != 2 else np.inf
    flat[-1] = -np.inf if sat == 2 else flat[-1]
    return x


BIG_SHAPES = [(2000, 64), (600, 300), (300_000,), (70_000, 1), (9000, 10), (4096, 256),
              (7, 11, 1300)]  # fmt: skip


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BIG_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("sat", [0, 1, 2])
def test_act_stats_large_threaded(name, dtype, shape, sat, rng, threads):
    """Above 65536 elements the kernels split the work (C: over column blocks, or over bundled
    rows for C < 128; numba: fixed blocks); 1, 2 and 3 threads must give the reference's
    counts exactly and its sums to rounding."""
    x = _big_activation(rng, shape, dtype, sat)
    want = _stats(ref, x, sat, 0.01)
    finite = x.copy()
    finite[~np.isfinite(finite)] = 0.5  # the single-pass path (no non-finite element)
    want_f = _stats(ref, finite, sat, 0.01)
    for nth in (1, 2, 3):
        threads(nth)
        _assert_stats(_stats(MODS[name], x, sat, 0.01), want, x, f"{nth} threads")
        _assert_stats(_stats(MODS[name], finite, sat, 0.01), want_f, finite, f"{nth} threads")


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_delta_matches_reference(name, dtype, data):
    new, prev, offsets = data.draw(segmented(dtype, nonfinite=data.draw(st.booleans())))
    p_ref = prev.copy()
    want = _delta(ref, new, p_ref, offsets)
    got = _delta(MODS[name], new, prev, offsets)
    for g, w in zip(got, want, strict=True):
        close(g, w, K)
    assert prev.tobytes() == new.tobytes()  # bit for bit, NaN payloads and -0.0 included


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "sizes",
    [
        [70_000],
        [300_000],
        [5, 0, 70_000, 0, 0, 3, 65_536, 1],  # empty segments, edges near the chunk cuts
        [1000] * 150 + [0] + [777] * 9,  # many small segments, chunks cut through them
        [0, 0, 131_072, 0],  # a cut exactly on a segment edge
        [16_384, 16_383, 16_385, 50_000, 0],  # around numba's CHUNK
        [50_000] * 20,  # 1e6 over 20 segments, none above the threshold on its own
    ],
    ids=["70k", "300k", "mixed", "many", "edge", "chunk", "20x50k"],
)
def test_delta_large_threaded(name, dtype, sizes, rng, threads):
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    P = int(offsets[-1])
    base = rng.standard_normal(P).astype(dtype)
    step = (rng.standard_normal(P) * 1e-3).astype(dtype)
    for nth in (1, 2, 3):
        threads(nth)
        new, prev = base + step, base.copy()
        new[P // 3] = np.nan  # one non-finite segment
        want = _delta(ref, new, prev.copy(), offsets)
        got = _delta(MODS[name], new, prev, offsets)
        for g, w in zip(got, want, strict=True):
            close(g, w, K, err_msg=f"{nth} threads")
        assert (got[0][np.diff(offsets) == 0] == 0).all()
        assert prev.tobytes() == new.tobytes()


@pytest.mark.parametrize("name", COMPILED)
def test_read_only_inputs_and_layouts(name, rng):
    be = MODS[name]
    x = rng.standard_normal((6, 5))
    x[:, 2] = 0
    x.flags.writeable = False
    _assert_stats(_stats(be, x, 2, 0.1), _stats(ref, x, 2, 0.1), x)
    new = rng.standard_normal(40)
    new.flags.writeable = False
    offs = np.array([0, 10, 40])
    prev = np.zeros(40)
    for g, w in zip(_delta(be, new, prev, offs), _delta(ref, new, np.zeros(40), offs), strict=True):
        close(g, w, K)
    assert prev.tobytes() == new.tobytes()
    # non-contiguous: the c backend rejects it, numba copies (same results)
    xt = np.asarray(x).T
    newv = np.repeat(np.asarray(new), 2)[::2]
    prevv = np.zeros(80)[::2]
    if name == "c":
        with pytest.raises(ValueError, match="contiguous"):
            _stats(be, xt, 1, 0.1)
        with pytest.raises(ValueError, match="contiguous"):
            _delta(be, newv, prevv, offs)
        return
    _assert_stats(_stats(be, xt, 1, 0.1), _stats(ref, xt, 1, 0.1), xt)
    want = _delta(ref, newv, np.zeros(80)[::2], offs)
    got = _delta(be, newv, prevv, offs)
    for g, w in zip(got, want, strict=True):
        close(g, w, K)
    np.testing.assert_array_equal(prevv, newv)
    colnz = np.zeros((5, 2), np.int64)[:, 0]  # a strided output is written back
    out = np.zeros(6)
    be.act_stats(x, 0, 0.0, colnz, out)
    np.testing.assert_array_equal(colnz, [6, 6, 0, 6, 6])


# --------------------------------------------------------------------- bad inputs


def _bad_cases(dt):
    other = np.float64 if dt == np.float32 else np.float32
    x = np.zeros((3, 4), dt)
    cz, out = np.zeros(4, np.int64), np.zeros(6)
    ro_cz, ro_out = cz.copy(), out.copy()
    ro_cz.flags.writeable = False
    ro_out.flags.writeable = False
    v = np.zeros(6, dt)
    offs = np.array([0, 2, 6], np.int64)
    s2 = np.zeros(2)
    ro_prev = v.copy()
    ro_prev.flags.writeable = False
    buf = np.zeros(12, dt)
    return {
        "stats int x": ("act_stats", (x.astype(np.int64), 0, 0.0, cz, out)),
        "stats list x": ("act_stats", ([[0.0]], 0, 0.0, np.zeros(1, np.int64), out)),
        "stats colnz short": ("act_stats", (x, 0, 0.0, np.zeros(3, np.int64), out)),
        "stats colnz int32": ("act_stats", (x, 0, 0.0, cz.astype(np.int32), out)),
        "stats colnz 2-d": ("act_stats", (x, 0, 0.0, np.zeros((1, 4), np.int64), out)),
        "stats out short": ("act_stats", (x, 0, 0.0, cz, np.zeros(5))),
        "stats out float32": ("act_stats", (x, 0, 0.0, cz, np.zeros(6, np.float32))),
        "stats read-only colnz": ("act_stats", (x, 0, 0.0, ro_cz, out)),
        "stats read-only out": ("act_stats", (x, 0, 0.0, cz, ro_out)),
        "stats sat 3": ("act_stats", (x, 3, 0.1, cz, out)),
        "stats sat -1": ("act_stats", (x, -1, 0.1, cz, out)),
        "stats sat bool": ("act_stats", (x, True, 0.1, cz, out)),
        "stats sat str": ("act_stats", (x, "sigmoid", 0.1, cz, out)),
        "stats threshold negative": ("act_stats", (x, 1, -0.1, cz, out)),
        "stats threshold nan": ("act_stats", (x, 1, np.nan, cz, out)),
        "stats threshold str": ("act_stats", (x, 1, "0.1", cz, out)),
        "delta int new": ("segment_delta_sumsq", (v.astype(np.int64), v.copy(), offs, s2,
                                                  s2.copy())),
        "delta prev other dtype": ("segment_delta_sumsq", (v, v.astype(other), offs, s2,
                                                           s2.copy())),
        "delta prev shorter": ("segment_delta_sumsq", (v, v[:5].copy(), offs, s2, s2.copy())),
        "delta 2-d new": ("segment_delta_sumsq", (v.reshape(2, 3), v.reshape(2, 3).copy(),
                                                  offs, s2, s2.copy())),
        "delta read-only prev": ("segment_delta_sumsq", (v, ro_prev, offs, s2, s2.copy())),
        "delta prev is new": ("segment_delta_sumsq", (v, v, offs, s2, s2.copy())),
        "delta prev overlaps new": ("segment_delta_sumsq", (buf[:6], buf[3:9], offs, s2,
                                                            s2.copy())),
        "delta offsets end": ("segment_delta_sumsq", (v, v.copy(), np.array([0, 2, 5]), s2,
                                                      s2.copy())),
        "delta offsets start": ("segment_delta_sumsq", (v, v.copy(), np.array([1, 2, 6]), s2,
                                                        s2.copy())),
        "delta offsets decreasing": ("segment_delta_sumsq", (v, v.copy(),
                                                             np.array([0, 4, 2, 6]),
                                                             np.zeros(3), np.zeros(3))),
        "delta offsets int32": ("segment_delta_sumsq", (v, v.copy(), offs.astype(np.int32),
                                                        s2, s2.copy())),
        "delta offsets empty": ("segment_delta_sumsq", (v, v.copy(), np.zeros(0, np.int64),
                                                        np.zeros(0), np.zeros(0))),
        "delta delta_sumsq short": ("segment_delta_sumsq", (v, v.copy(), offs, np.zeros(1),
                                                            s2.copy())),
        "delta new_sumsq short": ("segment_delta_sumsq", (v, v.copy(), offs, s2,
                                                          np.zeros(1))),
        "delta new_sumsq float32": ("segment_delta_sumsq", (v, v.copy(), offs, s2,
                                                            np.zeros(2, np.float32))),
    }  # fmt: skip


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(_bad_cases(np.float32)))
def test_bad_inputs_raise_like_the_reference(name, dtype, case):
    op, args = _bad_cases(dtype)[case]
    with pytest.raises((TypeError, ValueError)) as want:
        getattr(ref, op)(*args)
    op, args = _bad_cases(dtype)[case]
    with pytest.raises(want.type):
        getattr(MODS[name], op)(*args)


@pytest.mark.parametrize("name", ["numpy", *COMPILED])
def test_bad_delta_leaves_prev_untouched(name):
    be = gc.backends._try_load(name)
    new, prev = np.ones(6), np.zeros(6)
    with pytest.raises(ValueError):
        be.segment_delta_sumsq(new, prev, np.array([0, 2, 5]), np.zeros(2), np.zeros(2))
    assert (prev == 0).all()


# --------------------------------------------------------------------- float32 saturation test


def test_float32_saturation_bounds_exhaustive(tmp_path):
    """The C kernel tests float32 saturation as y < lo || y > hi (float compares, bounds found
    once per call in kernels/stats.c); tests/c/stats_sat_exhaustive.c checks that this equals
    the contract's double test for all 2^32 float32 bit patterns at thresholds 0.01, 0.25,
    1e-30 and 0 (sat 1 and 2). Skipped without a C compiler."""
    import shutil
    import subprocess
    from pathlib import Path

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    root = Path(__file__).resolve().parents[1]
    exe = tmp_path / "stats_sat_exhaustive"
    src = root / "tests" / "c" / "stats_sat_exhaustive.c"
    base = [cc, "-std=c99", "-O3", "-ffp-contract=off", "-fno-math-errno",
            f"-I{root / 'kernels' / 'include'}", f"-I{root / 'kernels'}",
            str(src), "-o", str(exe), "-lm"]  # fmt: skip
    for extra in (["-march=native", "-fopenmp"], ["-fopenmp"], []):
        if subprocess.run(base + extra, capture_output=True).returncode == 0:
            break
    else:
        pytest.fail("could not compile tests/c/stats_sat_exhaustive.c")
    run = subprocess.run([str(exe), "quick"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stdout


@pytest.mark.parametrize("name", COMPILED)
@pytest.mark.parametrize("sat", [1, 2])
def test_act_stats_float32_at_saturation_bounds(name, sat, rng):
    """float32 elements at and next to the float where the double test flips, for random
    thresholds (the kernel's float bounds are found per call)."""
    for thr in [*rng.uniform(0, 0.3, 20), *10.0 ** rng.uniform(-40, 0, 20), 0.0, 0.25, 1.0]:
        if sat == 2:
            b = math.sqrt(max(0.0, 1.0 - thr))
            centres = [b, -b, 0.0, 1.0, -1.0]
        else:
            d = max(0.0, 1.0 - 4.0 * thr)
            b = (1.0 - math.sqrt(d)) / 2.0
            centres = [b, 1.0 - b, 0.5, 0.0, 1.0]
        up = down = np.array(centres, np.float32)
        near = [up]
        for _ in range(4):  # 4 floats either side
            up = np.nextafter(up, np.float32(np.inf))
            down = np.nextafter(down, np.float32(-np.inf))
            near += [up, down]
        x = np.concatenate(near)
        x = np.concatenate([x, -x, [np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45]]).astype(np.float32)
        x = np.tile(x, 5).reshape(-1, 1 if len(x) % 2 else 2)
        _assert_stats(_stats(MODS[name], x, sat, thr), _stats(ref, x, sat, thr), x, f"thr {thr}")
