"""The compiled C norms family (gradcore._kernels) against straightforward NumPy."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcore as gc

_kernels = pytest.importorskip("gradcore._kernels")
ref = gc.backends._try_load("numpy")


def _ref_sumsq(flat, offsets):
    f = flat.astype(np.float64)
    return np.array([np.sum(f[a:b] ** 2) for a, b in itertools.pairwise(offsets)])


@st.composite
def segmented(draw, dtype):
    sizes = draw(st.lists(st.integers(0, 300), min_size=0, max_size=6))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    seed = draw(st.integers(0, 2**31))
    scale = 10.0 ** draw(st.integers(-3, 3))
    rng = np.random.default_rng(seed)
    flat = (rng.standard_normal(int(offsets[-1])) * scale).astype(dtype)
    return flat, offsets


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_segment_sumsq_matches_numpy_and_reference(dtype, data):
    flat, offsets = data.draw(segmented(dtype))
    s = np.empty(len(offsets) - 1)
    n = np.empty(len(offsets) - 1, np.int64)
    _kernels.segment_sumsq(flat, offsets, s, n)
    rtol = 1e-12  # both accumulate in float64; only the summation order differs
    np.testing.assert_allclose(s, _ref_sumsq(flat, offsets), rtol=rtol, atol=0)
    assert (n == 0).all()
    s2, n2 = np.empty_like(s), np.empty_like(n)
    ref.segment_sumsq(flat, offsets, s2, n2)
    np.testing.assert_allclose(s, s2, rtol=rtol, atol=0)
    np.testing.assert_array_equal(n, n2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "sizes",
    [
        [300_000],  # one segment over every chunk
        [5, 0, 70_000, 0, 0, 3, 65_536, 1],  # empty segments, edges near the chunk cut
        [1000] * 150 + [0] + [777] * 9,  # many small segments, chunks cut through them
        [0, 0, 131_072, 0],  # a cut exactly on a segment edge
    ],
    ids=["one", "mixed", "many", "edge"],
)
def test_segment_sumsq_chunked_over_threads(dtype, sizes, rng):
    """Above 65536 elements the buffer is cut into one chunk per thread regardless of the
    segments; partial sums of a segment that crosses a cut are combined. Every layout must give
    the per-segment float64 sums, at 1, 2 and 3 threads."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = rng.standard_normal(int(offsets[-1])).astype(dtype)
    flat[offsets[1] - 1 if offsets[1] > 0 else 0] = 3.0  # a distinct value at a segment end
    want = _ref_sumsq(flat, offsets)
    n0 = _kernels.max_threads()
    try:
        for nth in (1, 2, 3):
            _kernels.set_num_threads(nth)
            s = np.full(len(sizes), -1.0)
            n = np.full(len(sizes), -1, np.int64)
            _kernels.segment_sumsq(flat, offsets, s, n)
            np.testing.assert_allclose(s, want, rtol=1e-12, atol=0, err_msg=f"{nth} threads")
            assert (s[np.diff(offsets) == 0] == 0).all()
            assert (n == 0).all()
    finally:
        _kernels.set_num_threads(n0)


def test_segment_sumsq_chunked_counts_nonfinite():
    sizes = [40_000, 50_000, 30_000]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = np.ones(int(offsets[-1]), np.float32)
    flat[45_000] = np.inf  # segment 1, past the first chunk's end at 2 threads
    flat[45_001] = np.nan
    s, n = np.empty(3), np.empty(3, np.int64)
    _kernels.segment_sumsq(flat, offsets, s, n)
    assert s[0] == 40_000 and np.isnan(s[1]) and s[2] == 30_000
    np.testing.assert_array_equal(n, [0, 2, 0])


def test_large_float32_sum_accumulates_in_double():
    # 2**22 values of 1.1 (float32): a float32 running sum would be off by percents.
    flat = np.full(2**22, 1.1, np.float32)
    off = np.array([0, flat.size], np.int64)
    s, n = np.empty(1), np.empty(1, np.int64)
    _kernels.segment_sumsq(flat, off, s, n)
    exact = flat.size * float(np.float32(1.1)) ** 2
    # a sequential double sum of n terms errs by at most ~n * 2**-53 = 4.7e-10 relative
    assert abs(s[0] - exact) / exact < 5e-10
    naive = np.cumsum(flat * flat, dtype=np.float32)[-1]  # what float32 accumulation gives
    assert abs(naive - exact) / exact > 1e-4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_counts_and_absmax(dtype):
    flat = np.array([1, -2, np.nan, 3, np.inf, -np.inf, 0.5, -7], dtype)
    off = np.array([0, 2, 4, 6, 6, 8], np.int64)
    s, n = np.empty(5), np.empty(5, np.int64)
    _kernels.segment_sumsq(flat, off, s, n)
    np.testing.assert_array_equal(n, [0, 1, 2, 0, 0])
    assert s[0] == 5 and np.isnan(s[1]) and np.isinf(s[2]) and s[3] == 0 and s[4] == 49.25
    m, n2 = np.empty(5), np.empty(5, np.int64)
    _kernels.segment_absmax(flat, off, m, n2)
    np.testing.assert_array_equal(n2, n)
    assert m[0] == 2 and np.isnan(m[1]) and m[2] == np.inf and m[3] == 0 and m[4] == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_and_clip_value(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000).astype(dtype)  # above the OpenMP threshold
    want = x * dtype(0.3)
    _kernels.scale_(x, 0.3)
    np.testing.assert_array_equal(x, want)
    y = np.array([-3, -1, 0, 0.5, 2, np.nan], dtype)
    _kernels.clip_value_(y, 1.0)
    np.testing.assert_array_equal(y[:5], [-1, -1, 0, 0.5, 1])
    assert np.isnan(y[5])


def test_bad_inputs_raise_clear_errors():
    flat = np.zeros(10)
    s, n = np.empty(2), np.empty(2, np.int64)
    with pytest.raises(ValueError, match="end at len"):
        _kernels.segment_sumsq(flat, np.array([0, 5, 9], np.int64), s, n)
    with pytest.raises(ValueError, match="non-decreasing"):
        _kernels.segment_sumsq(flat, np.array([0, 7, 10], np.int64)[[0, 1, 2]] * [1, 2, 1], s, n)
    with pytest.raises(ValueError, match="outputs must have"):
        _kernels.segment_sumsq(flat, np.array([0, 10], np.int64), s, n)
    with pytest.raises(ValueError, match="contiguous"):
        _kernels.segment_sumsq(np.zeros(20)[::2], np.array([0, 5, 10], np.int64), s, n)
    with pytest.raises(ValueError):
        _kernels.segment_sumsq(flat, np.array([], np.int64), s[:0], n[:0])
    with pytest.raises((TypeError, ValueError)):
        _kernels.segment_sumsq(flat.astype(np.int32), np.array([0, 5, 10], np.int64), s, n)
    with pytest.raises(ValueError, match="clip must be"):
        _kernels.clip_value_(flat, -1.0)
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros(4)
        ro.flags.writeable = False
        _kernels.scale_(ro, 2.0)


def test_read_only_input_accepted_for_reading():
    flat = np.arange(6, dtype=np.float64)
    flat.flags.writeable = False
    s, n = np.empty(1), np.empty(1, np.int64)
    _kernels.segment_sumsq(flat, np.array([0, 6], np.int64), s, n)
    assert s[0] == 55


def test_threads_api():
    assert _kernels.max_threads() >= 1
    assert isinstance(_kernels.have_openmp(), bool)
    with pytest.raises(ValueError):
        _kernels.set_num_threads(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("shape", [(3, 5, 4), (1, 1, 0), (200, 300, 100), (64, 640, 64)])
def test_gemm_provider_matches_numpy(dtype, ta, tb, shape, rng):
    """The row-major GEMM path every kernel uses (incl. the OpenMP split over N, K = 0)."""
    M, N, k = shape
    A = rng.standard_normal((k, M) if ta else (M, k)).astype(dtype)
    B = rng.standard_normal((N, k) if tb else (k, N)).astype(dtype)
    C = rng.standard_normal((M, N)).astype(dtype)
    want = 0.5 * ((A.T if ta else A).astype(np.float64) @ (B.T if tb else B)) + 2.0 * C
    _kernels.gemm(A, B, C, ta, tb, 0.5, 2.0)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, want, rtol=tol, atol=tol * max(k, 1))


def test_gemm_rejects_bad_shapes():
    A = np.zeros((2, 3))
    with pytest.raises(ValueError, match="inner dimensions"):
        _kernels.gemm(A, np.zeros((4, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="C must be"):
        _kernels.gemm(A, np.zeros((3, 2)), np.zeros((3, 2)))
