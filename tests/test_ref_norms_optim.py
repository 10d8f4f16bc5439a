"""The NumPy reference norm/clip kernels vs straightforward NumPy, and the optimizer kernels on
hand-checkable cases (the expected numbers are worked out in the comments)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcore.backends import reference as ref

# =========================================================================== norms


def _offsets(sizes):
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def _run(kernel, flat, offsets):
    S = offsets.shape[0] - 1
    values = np.full(S, -1.0)
    nonfinite = np.full(S, -1, np.int64)
    kernel(flat, offsets, values, nonfinite)
    return values, nonfinite


specials = st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def segmented(draw):
    sizes = draw(st.lists(st.integers(0, 6), min_size=0, max_size=6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    P = sum(sizes)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    flat = (rng.standard_normal(P) * draw(st.sampled_from([1e-3, 1.0, 1e3]))).astype(dtype)
    for k in draw(st.lists(st.integers(0, max(P - 1, 0)), max_size=3)) if P else []:
        flat[k] = draw(specials)
    return flat, sizes


@given(segmented())
def test_segment_sumsq_matches_per_segment_numpy(case):
    flat, sizes = case
    offsets = _offsets(sizes)
    sumsq, nonfinite = _run(ref.segment_sumsq, flat, offsets)
    assert sumsq.shape == nonfinite.shape == (len(sizes),)
    start = 0
    for s, n in enumerate(sizes):
        seg = [float(v) for v in flat[start : start + n]]
        start += n
        want_nonfinite = sum(not math.isfinite(v) for v in seg)
        assert nonfinite[s] == want_nonfinite
        if any(math.isnan(v) for v in seg):
            assert math.isnan(sumsq[s])
        elif any(math.isinf(v) for v in seg):
            assert sumsq[s] == math.inf
        else:  # exact float64 sum of exact float64 squares of the (float32) values
            assert sumsq[s] == pytest.approx(math.fsum(v * v for v in seg), rel=1e-14, abs=0)


@given(segmented())
def test_segment_absmax_matches_per_segment_numpy(case):
    flat, sizes = case
    offsets = _offsets(sizes)
    absmax, nonfinite = _run(ref.segment_absmax, flat, offsets)
    start = 0
    for s, n in enumerate(sizes):
        seg = [float(v) for v in flat[start : start + n]]
        start += n
        assert nonfinite[s] == sum(not math.isfinite(v) for v in seg)
        if n == 0:
            assert absmax[s] == 0.0  # empty segment: 0 (torch raises for an empty inf-norm)
        elif any(math.isnan(v) for v in seg):
            assert math.isnan(absmax[s])  # NaN wins over inf, like torch.linalg.vector_norm
        else:
            assert absmax[s] == max(abs(v) for v in seg)


def test_segments_with_empty_ones_and_specials_by_hand():
    flat = np.array([3.0, 4.0, np.inf, 1.0, np.nan, -np.inf, -2.0], np.float32)
    offsets = np.array([0, 2, 2, 4, 6, 7, 7], np.int64)  # [3,4] [] [inf,1] [nan,-inf] [-2] []
    sumsq, nf = _run(ref.segment_sumsq, flat, offsets)
    np.testing.assert_array_equal(sumsq, [25.0, 0.0, np.inf, np.nan, 4.0, 0.0])
    np.testing.assert_array_equal(nf, [0, 0, 1, 2, 0, 0])
    absmax, nf = _run(ref.segment_absmax, flat, offsets)
    np.testing.assert_array_equal(absmax, [4.0, 0.0, np.inf, np.nan, 2.0, 0.0])
    np.testing.assert_array_equal(nf, [0, 0, 1, 2, 0, 0])


def test_no_segments():
    flat = np.zeros(0, np.float64)
    offsets = np.zeros(1, np.int64)
    for kernel in (ref.segment_sumsq, ref.segment_absmax):
        values, nf = _run(kernel, flat, offsets)
        assert values.shape == nf.shape == (0,)


def test_sumsq_accumulates_float32_data_in_float64():
    # 1e6 float32 values 1.1 (rounded: 1.10000002384...). A sequential float32 sum of their
    # squares drifts by ~1e-2 relative; the kernel must give the float64 sum of the float64
    # squares of the float32 values.
    n = 1_000_000
    flat = np.full(n, 1.1, np.float32)
    v = float(np.float32(1.1))
    exact = n * (v * v)  # every square is the same float64 number
    naive32 = np.cumsum(flat * flat, dtype=np.float32)[-1]  # left-to-right float32 sum
    assert abs(float(naive32) - exact) / exact > 1e-4  # float32 accumulation really loses
    sumsq, nf = _run(ref.segment_sumsq, flat, np.array([0, 10, n], np.int64))
    assert sumsq[0] == pytest.approx(10 * v * v, rel=1e-15)
    assert sumsq.sum() == pytest.approx(exact, rel=1e-12)
    np.testing.assert_array_equal(nf, [0, 0])


def test_sumsq_float32_large_values_do_not_overflow():
    flat = np.array([3e38, 3e38], np.float32)  # the float32 square would be inf
    sumsq, nf = _run(ref.segment_sumsq, flat, np.array([0, 2], np.int64))
    assert sumsq[0] == pytest.approx(2 * float(np.float32(3e38)) ** 2, rel=1e-15)
    assert nf[0] == 0


def test_sumsq_float64_overflow_is_inf_without_warning():
    flat = np.array([1e200, 1.0])  # like torch: no rescaling, the square overflows to inf
    sumsq, nf = _run(ref.segment_sumsq, flat, np.array([0, 2], np.int64))
    assert sumsq[0] == np.inf and nf[0] == 0


@pytest.mark.parametrize(
    "offsets, err",
    [
        ([1, 4], ValueError),  # offsets[0] != 0
        ([0, 3], ValueError),  # offsets[-1] != len(flat)
        ([0, 3, 2, 4], ValueError),  # decreasing
        ([], ValueError),  # no S+1 entries
    ],
)
def test_bad_offsets_raise(offsets, err):
    flat = np.ones(4)
    off = np.array(offsets, np.int64)
    S = max(len(offsets) - 1, 0)
    for kernel in (ref.segment_sumsq, ref.segment_absmax):
        with pytest.raises(err):
            kernel(flat, off, np.zeros(S), np.zeros(S, np.int64))


def test_bad_segment_outputs_raise():
    flat = np.ones(4)
    with pytest.raises(TypeError):  # offsets must be int64
        ref.segment_sumsq(flat, np.array([0, 4], np.int32), np.zeros(1), np.zeros(1, np.int64))
    with pytest.raises(TypeError):  # sumsq must be float64
        ref.segment_sumsq(
            flat, np.array([0, 4], np.int64), np.zeros(1, np.float32), np.zeros(1, np.int64)
        )
    with pytest.raises(TypeError):  # wrong S
        ref.segment_absmax(flat, np.array([0, 4], np.int64), np.zeros(2), np.zeros(2, np.int64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_in_place(dtype):
    flat = np.array([1.0, -2.0, 0.0, np.inf, np.nan], dtype)
    alias = flat
    ref.scale_(flat, 0.1)
    assert alias is flat and flat.dtype == dtype
    a = dtype(0.1)  # alpha rounded to the data dtype, then multiplied in that dtype
    np.testing.assert_array_equal(flat, [a * dtype(1), a * dtype(-2), 0.0, np.inf, np.nan])
    empty = np.zeros(0, dtype)
    ref.scale_(empty, 3.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_value_in_place(dtype):
    flat = np.array([0.5, -0.5, 2.0, -3.0, np.inf, -np.inf, np.nan, 1.0], dtype)
    ref.clip_value_(flat, 1.0)
    np.testing.assert_array_equal(flat, [0.5, -0.5, 1.0, -1.0, 1.0, -1.0, np.nan, 1.0])
    assert flat.dtype == dtype
    ref.clip_value_(np.zeros(0, dtype), 1.0)
    z = np.array([3.0, -3.0], dtype)
    ref.clip_value_(z, 0.0)
    np.testing.assert_array_equal(z, [0.0, 0.0])
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError):
            ref.clip_value_(flat, bad)


# =========================================================================== optimizers

F64 = np.float64


def _a(*v, dtype=F64):
    return np.array(v, dtype)


def _sgd(p, g, buf, first, lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, wd=0.0):
    g0 = g.copy()
    ref.sgd_step(p, g, buf, lr, momentum, dampening, nesterov, wd, first)
    np.testing.assert_array_equal(g, g0)  # g is read only


# ----------------------------------------------------------------- SGD


def test_sgd_plain_and_weight_decay():
    p, g = _a(1, -2, 0.5), _a(0.5, 1, -2)
    _sgd(p, g, np.empty(0), True)
    np.testing.assert_allclose(p, [0.95, -2.1, 0.7], rtol=1e-15)  # p - 0.1 g
    p = _a(1, -2, 0.5)
    _sgd(p, g, np.empty(0), True, wd=0.1)
    # d = g + 0.1 p = [0.6, 0.8, -1.95]; p - 0.1 d = [0.94, -2.08, 0.695]
    np.testing.assert_allclose(p, [0.94, -2.08, 0.695], rtol=1e-15)


def test_sgd_momentum_two_steps_then_zero_gradient():
    p, buf = _a(1, -2, 0.5), np.zeros(3)
    _sgd(p, _a(0.5, 1, -2), buf, True, momentum=0.9)
    # first: buf = g = [0.5, 1, -2] (no dampening); p = [0.95, -2.1, 0.7]
    np.testing.assert_allclose(buf, [0.5, 1, -2], rtol=1e-15)
    np.testing.assert_allclose(p, [0.95, -2.1, 0.7], rtol=1e-15)
    _sgd(p, _a(1, 0, 1), buf, False, momentum=0.9)
    # buf = 0.9 [0.5, 1, -2] + [1, 0, 1] = [1.45, 0.9, -0.8]; p = [0.805, -2.19, 0.78]
    np.testing.assert_allclose(buf, [1.45, 0.9, -0.8], rtol=1e-15)
    np.testing.assert_allclose(p, [0.805, -2.19, 0.78], rtol=1e-15)
    _sgd(p, _a(0, 0, 0), buf, False, momentum=0.9)
    # zero gradient: buf = 0.9 buf = [1.305, 0.81, -0.72]; p keeps moving: [0.6745, -2.271, 0.852]
    np.testing.assert_allclose(buf, [1.305, 0.81, -0.72], rtol=1e-15)
    np.testing.assert_allclose(p, [0.6745, -2.271, 0.852], rtol=1e-15)


def test_sgd_dampening():
    p, buf = _a(1, -2, 0.5), np.zeros(3)
    _sgd(p, _a(0.5, 1, -2), buf, True, momentum=0.9, dampening=0.5)
    np.testing.assert_allclose(buf, [0.5, 1, -2], rtol=1e-15)  # first step: not dampened
    _sgd(p, _a(1, 0, 1), buf, False, momentum=0.9, dampening=0.5)
    # buf = 0.9 [0.5, 1, -2] + 0.5 [1, 0, 1] = [0.95, 0.9, -1.3]
    # p = [0.95, -2.1, 0.7] - 0.1 buf = [0.855, -2.19, 0.83]
    np.testing.assert_allclose(buf, [0.95, 0.9, -1.3], rtol=1e-15)
    np.testing.assert_allclose(p, [0.855, -2.19, 0.83], rtol=1e-15)


def test_sgd_nesterov_with_weight_decay():
    p, buf = _a(1, -2, 0.5), np.zeros(3)
    _sgd(p, _a(0.4, 1.2, -2.05), buf, True, momentum=0.9, nesterov=True, wd=0.1)
    # d = g + 0.1 p = [0.5, 1, -2]; buf = d; step = d + 0.9 buf = 1.9 d = [0.95, 1.9, -3.8]
    # p = [1 - 0.095, -2 - 0.19, 0.5 + 0.38] = [0.905, -2.19, 0.88]
    np.testing.assert_allclose(buf, [0.5, 1, -2], rtol=1e-15)
    np.testing.assert_allclose(p, [0.905, -2.19, 0.88], rtol=1e-15)
    _sgd(p, _a(0.9095, 0.219, 0.912), buf, False, momentum=0.9, nesterov=True, wd=0.1)
    # g chosen so that d = g + 0.1 p = g + [0.0905, -0.219, 0.088] = [1, 0, 1]
    # buf = 0.9 [0.5, 1, -2] + d = [1.45, 0.9, -0.8]; step = d + 0.9 buf = [2.305, 0.81, 0.28]
    # p = [0.905 - 0.2305, -2.19 - 0.081, 0.88 - 0.028] = [0.6745, -2.271, 0.852]
    np.testing.assert_allclose(buf, [1.45, 0.9, -0.8], rtol=1e-14)
    np.testing.assert_allclose(p, [0.6745, -2.271, 0.852], rtol=1e-14)


def test_sgd_nesterov_needs_momentum_and_no_dampening():
    p, g, buf = _a(1.0), _a(1.0), _a(0.0)
    with pytest.raises(ValueError):
        ref.sgd_step(p, g, buf, 0.1, 0.0, 0.0, True, 0.0, True)
    with pytest.raises(ValueError):
        ref.sgd_step(p, g, buf, 0.1, 0.9, 0.1, True, 0.0, True)


# ----------------------------------------------------------------- RMSprop


def _rms(p, g, sq, ga, mb, lr=0.1, alpha=0.75, eps=1.0, wd=0.0, momentum=0.0, centered=False):
    g0 = g.copy()
    ref.rmsprop_step(p, g, sq, ga, mb, lr, alpha, eps, wd, momentum, centered)
    np.testing.assert_array_equal(g, g0)


def test_rmsprop_plain():
    p, g, sq = _a(1, 1, 1), _a(2, -4, 0), np.zeros(3)
    _rms(p, g, sq, np.empty(0), np.empty(0))
    # sq = 0.25 g² = [1, 4, 0]; avg = sqrt(sq) + 1 = [2, 3, 1]; p = 1 - 0.1 g / avg
    np.testing.assert_allclose(sq, [1, 4, 0], rtol=1e-15)
    np.testing.assert_allclose(p, [0.9, 1 + 0.4 / 3, 1.0], rtol=1e-15)
    _rms(p, _a(0, 0, 0), sq, np.empty(0), np.empty(0))
    # zero gradient: sq = 0.75 sq = [0.75, 3, 0]; p unchanged
    np.testing.assert_allclose(sq, [0.75, 3, 0], rtol=1e-15)
    np.testing.assert_allclose(p, [0.9, 1 + 0.4 / 3, 1.0], rtol=1e-15)


def test_rmsprop_centered():
    p, g, sq, ga = _a(1, 1, 1), _a(2, -4, 0), np.zeros(3), np.zeros(3)
    _rms(p, g, sq, ga, np.empty(0), centered=True)
    # ga = lerp(0, g, 0.25) = [0.5, -1, 0]; sq - ga² = [1 - 0.25, 4 - 1, 0] = [0.75, 3, 0]
    # avg = sqrt(.) + 1; p = 1 - 0.1 g / avg
    np.testing.assert_allclose(ga, [0.5, -1, 0], rtol=1e-15)
    avg = np.sqrt([0.75, 3, 0]) + 1
    np.testing.assert_allclose(p, 1 - 0.1 * g / avg, rtol=1e-15)


def test_rmsprop_momentum_two_steps_with_weight_decay():
    p, sq, mb = _a(1, 1, 1), np.zeros(3), np.zeros(3)
    _rms(p, _a(1.5, -4.5, -0.5), sq, np.empty(0), mb, momentum=0.5, wd=0.5)
    # d = g + 0.5 p = [2, -4, 0]; sq = [1, 4, 0]; avg = [2, 3, 1]
    # mb = d / avg = [1, -4/3, 0]; p = 1 - 0.1 mb = [0.9, 1 + 0.4/3, 1]
    np.testing.assert_allclose(mb, [1, -4 / 3, 0], rtol=1e-15)
    np.testing.assert_allclose(p, [0.9, 1 + 0.4 / 3, 1], rtol=1e-15)
    p1 = p.copy()
    _rms(p, _a(0, 0, 0), sq, np.empty(0), mb, momentum=0.5, wd=0.5)
    # zero gradient, but wd: d = 0.5 p1; sq = 0.75 [1, 4, 0] + 0.25 d²
    # avg = sqrt(sq) + 1; mb = 0.5 mb + d / avg; p = p1 - 0.1 mb
    d = 0.5 * p1
    sq_want = 0.75 * np.array([1, 4, 0]) + 0.25 * d * d
    mb_want = 0.5 * np.array([1, -4 / 3, 0]) + d / (np.sqrt(sq_want) + 1)
    np.testing.assert_allclose(sq, sq_want, rtol=1e-15)
    np.testing.assert_allclose(mb, mb_want, rtol=1e-15)
    np.testing.assert_allclose(p, p1 - 0.1 * mb_want, rtol=1e-15)


# ----------------------------------------------------------------- AdaGrad


def _adagrad(p, g, s, step, lr=0.1, lr_decay=0.0, wd=0.0, eps=0.0):
    g0 = g.copy()
    ref.adagrad_step(p, g, s, lr, lr_decay, wd, eps, step)
    np.testing.assert_array_equal(g, g0)


def test_adagrad_initial_accumulator_and_lr_decay():
    p, g, s = _a(1, 2, 3), _a(3, 4, 0), np.full(3, 1.0)  # initial_accumulator_value = 1
    _adagrad(p, g, s, step=1, lr_decay=0.5)
    # step 1: clr = 0.1 / (1 + 0 * 0.5) = 0.1; s = 1 + g² = [10, 17, 1]
    # p = p - 0.1 g / sqrt(s) = [1 - 0.3/sqrt(10), 2 - 0.4/sqrt(17), 3]
    np.testing.assert_allclose(s, [10, 17, 1], rtol=1e-15)
    p1 = np.array([1 - 0.3 / np.sqrt(10), 2 - 0.4 / np.sqrt(17), 3])
    np.testing.assert_allclose(p, p1, rtol=1e-15)
    _adagrad(p, _a(1, 0, 3), s, step=3, lr_decay=0.5)
    # step 3: clr = 0.1 / (1 + 2 * 0.5) = 0.05; s = [11, 17, 10]; p -= 0.05 g / sqrt(s)
    np.testing.assert_allclose(s, [11, 17, 10], rtol=1e-15)
    np.testing.assert_allclose(
        p, p1 - 0.05 * np.array([1 / np.sqrt(11), 0, 3 / np.sqrt(10)]), rtol=1e-15
    )


def test_adagrad_weight_decay_and_zero_gradient():
    p, s = _a(1, 2, 3), np.zeros(3)
    _adagrad(p, _a(3, 4, 0), s, step=1, wd=0.5)
    # d = g + 0.5 p = [3.5, 5, 1.5]; s = d²; p = p - 0.1 d / |d| = p - 0.1 (all d > 0)
    np.testing.assert_allclose(s, [12.25, 25, 2.25], rtol=1e-15)
    np.testing.assert_allclose(p, [0.9, 1.9, 2.9], rtol=1e-15)
    p, s = _a(1, 2, 3), np.zeros(3)
    _adagrad(p, _a(0, 0, 0), s, step=1, eps=1e-10)
    # all-zero gradient on a fresh state: 0 / (0 + eps) = 0, nothing moves (no NaN)
    np.testing.assert_array_equal(p, [1, 2, 3])
    np.testing.assert_array_equal(s, [0, 0, 0])


# ----------------------------------------------------------------- Adam / AdamW


def _adam(p, g, m, v, vmax, step, lr=0.1, b1=0.5, b2=0.75, eps=0.0, wd=0.0, ams=False, dec=False):
    g0 = g.copy()
    ref.adam_step(p, g, m, v, vmax, lr, b1, b2, eps, wd, step, ams, dec)
    np.testing.assert_array_equal(g, g0)


def test_adam_two_steps_and_amsgrad_on_zero_gradient():
    p, m, v, vmax = _a(1, 2, -1), np.zeros(3), np.zeros(3), np.zeros(3)
    g1 = _a(2, -0.5, 4)
    _adam(p, g1, m, v, vmax, step=1, ams=True)
    # step 1 (beta1 = 0.5, beta2 = 0.75, eps = 0): m = 0.5 g, v = 0.25 g², bc1 = 0.5, bc2 = 0.25
    # denom = sqrt(0.25 g²) / 0.5 = |g|; p -= (0.1 / 0.5) 0.5 g / |g| = 0.1 sign(g)
    np.testing.assert_allclose(m, [1, -0.25, 2], rtol=1e-15)
    np.testing.assert_allclose(v, [1, 0.0625, 4], rtol=1e-15)
    np.testing.assert_allclose(vmax, v, rtol=1e-15)
    np.testing.assert_allclose(p, [0.9, 2.1, -1.1], rtol=1e-15)
    g2 = _a(0, 1, 4)
    _adam(p, g2, m, v, vmax, step=2, ams=True)
    # m = [1, -0.25, 2] + 0.5 ([0, 1, 4] - m) = [0.5, 0.375, 3]
    # v = 0.75 [1, 0.0625, 4] + 0.25 [0, 1, 16] = [0.75, 0.296875, 7]
    # vmax = max([1, 0.0625, 4], v) = [1, 0.296875, 7] (the first entry shrank in v)
    # bc1 = 0.75, bc2 = 1 - 0.5625 = 0.4375; p -= (0.1/0.75) m / (sqrt(vmax) / sqrt(0.4375))
    np.testing.assert_allclose(m, [0.5, 0.375, 3], rtol=1e-15)
    np.testing.assert_allclose(v, [0.75, 0.296875, 7], rtol=1e-15)
    np.testing.assert_allclose(vmax, [1, 0.296875, 7], rtol=1e-15)
    p2 = np.array([0.9, 2.1, -1.1]) - (0.1 / 0.75) * m / (np.sqrt(vmax) / np.sqrt(0.4375))
    np.testing.assert_allclose(p, p2, rtol=1e-15)
    _adam(p, _a(0, 0, 0), m, v, vmax, step=3, ams=True)
    # all-zero gradient: m = 0.5 m = [0.25, 0.1875, 1.5], v = 0.75 v shrinks, vmax keeps step-2 v
    # bc1 = 0.875, bc2 = 1 - 0.421875 = 0.578125; denom from vmax
    np.testing.assert_allclose(m, [0.25, 0.1875, 1.5], rtol=1e-15)
    np.testing.assert_allclose(v, [0.5625, 0.22265625, 5.25], rtol=1e-15)
    np.testing.assert_allclose(vmax, [1, 0.296875, 7], rtol=1e-15)
    p3 = p2 - (0.1 / 0.875) * m / (np.sqrt(vmax) / np.sqrt(0.578125))
    np.testing.assert_allclose(p, p3, rtol=1e-15)


def test_adam_zero_gradient_first_step_and_eps():
    p, m, v = _a(1, 2, 3), np.zeros(3), np.zeros(3)
    _adam(p, _a(0, 0, 0), m, v, np.empty(0), step=1, eps=1e-8)
    np.testing.assert_array_equal(p, [1, 2, 3])  # 0 / (0 + eps) = 0
    _adam(p, _a(1, 1, 1), m, v, np.empty(0), step=2, eps=1.0)
    # m = 0.5 g = 0.5, v = 0.25; bc1 = 0.75, bc2 = 0.4375
    # denom = sqrt(0.25)/sqrt(0.4375) + 1; p -= (0.1/0.75) 0.5 / denom
    denom = 0.5 / np.sqrt(0.4375) + 1
    np.testing.assert_allclose(p, np.array([1, 2, 3]) - (0.1 / 0.75) * 0.5 / denom, rtol=1e-15)


def test_adam_l2_weight_decay():
    p, m, v = _a(1, 2, -1), np.zeros(3), np.zeros(3)
    _adam(p, _a(2, -0.7, 4.1), m, v, np.empty(0), step=1, wd=0.1)
    # d = g + 0.1 p = [2.1, -0.5, 4]; first step moves by 0.1 sign(d): [0.9, 2.1, -1.1]
    np.testing.assert_allclose(m, [1.05, -0.25, 2], rtol=1e-15)  # m holds the decayed grad
    np.testing.assert_allclose(p, [0.9, 2.1, -1.1], rtol=1e-15)


def test_adamw_decoupled_weight_decay():
    p, m, v = _a(1, 2, -1), np.zeros(3), np.zeros(3)
    _adam(p, _a(2, -0.5, 4), m, v, np.empty(0), step=1, wd=0.1, dec=True)
    # p *= 1 - 0.1 * 0.1 = 0.99 -> [0.99, 1.98, -0.99]; m, v see the raw g;
    # then p -= 0.1 sign(g) -> [0.89, 2.08, -1.09]
    np.testing.assert_allclose(m, [1, -0.25, 2], rtol=1e-15)
    np.testing.assert_allclose(p, [0.89, 2.08, -1.09], rtol=1e-15)


# ----------------------------------------------------------------- all optimizers


def _all_steps(p, g, dtype):
    """One call of every optimizer kernel / option on (p, g); returns the updated copies."""
    z = lambda: np.zeros_like(p)  # noqa: E731
    e = np.zeros(0, dtype)
    out = {}
    calls = {
        "sgd": lambda q: ref.sgd_step(q, g, z(), 0.1, 0.9, 0.1, False, 0.01, True),
        "nesterov": lambda q: ref.sgd_step(q, g, z(), 0.1, 0.9, 0.0, True, 0.01, True),
        "rmsprop": lambda q: ref.rmsprop_step(q, g, z(), z(), z(), 0.01, 0.99, 1e-8, 0.1, 0.5, 1),
        "adagrad": lambda q: ref.adagrad_step(q, g, z() + 0.1, 0.1, 0.01, 0.1, 1e-10, 2),
        "adam": lambda q: ref.adam_step(q, g, z(), z(), z(), 1e-3, 0.9, 0.99, 1e-8, 0.1, 1, 1, 0),
        "adamw": lambda q: ref.adam_step(q, g, z(), z(), e, 1e-3, 0.9, 0.99, 1e-8, 0.1, 1, 0, 1),
    }
    for name, call in calls.items():
        q = p.copy()
        call(q)
        out[name] = q
    return out


def test_zero_size_arrays():
    e = np.zeros(0)
    out = _all_steps(e, e.copy(), F64)
    for q in out.values():
        assert q.shape == (0,)


def test_float32_stays_float32_and_matches_float64(rng):
    p64, g64 = rng.standard_normal(50), rng.standard_normal(50)
    r64 = _all_steps(p64, g64, F64)
    r32 = _all_steps(p64.astype(np.float32), g64.astype(np.float32), np.float32)
    for name in r64:
        assert r32[name].dtype == np.float32
        np.testing.assert_allclose(r32[name], r64[name], rtol=2e-6, atol=1e-6, err_msg=name)


def test_numpy_scalar_hyperparameters_do_not_promote_float32(rng):
    # np.float64 hyper-parameters must not turn float32 math into float64 math
    p, g = rng.standard_normal(20).astype(np.float32), rng.standard_normal(20).astype(np.float32)
    a, b = p.copy(), p.copy()
    ma, va, mb, vb = (np.zeros_like(p) for _ in range(4))
    ref.adam_step(
        a, g, ma, va, np.empty(0, np.float32), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1, False, False
    )
    f = np.float64
    ref.adam_step(
        b, g, mb, vb, np.empty(0, np.float32), f(1e-3), f(0.9), f(0.999), f(1e-8), f(0.0),
        np.int64(1), False, False,
    )  # fmt: skip
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(va, vb)


def test_optimizer_bad_inputs_raise():
    p, g = np.ones(3), np.ones(3)
    with pytest.raises(ValueError):  # state of the wrong shape
        ref.adam_step(p, g, np.zeros(2), np.zeros(3), np.zeros(0), 0.1, 0.9, 0.9, 1e-8, 0, 1, 0, 0)
    with pytest.raises(ValueError):  # amsgrad needs vmax
        ref.adam_step(p, g, np.zeros(3), np.zeros(3), np.zeros(0), 0.1, 0.9, 0.9, 1e-8, 0, 1, 1, 0)
    with pytest.raises(ValueError):  # step counts from 1
        ref.adagrad_step(p, g, np.zeros(3), 0.1, 0.0, 0.0, 1e-10, 0)
    with pytest.raises(TypeError, match="dtype"):  # dtype mismatch: TypeError, as everywhere
        ref.sgd_step(p, g.astype(np.float32), np.zeros(0), 0.1, 0.0, 0.0, False, 0.0, True)
    with pytest.raises(ValueError):  # momentum buffer needed
        ref.sgd_step(p, g, np.zeros(0), 0.1, 0.9, 0.0, False, 0.0, True)
    with pytest.raises(ValueError):  # centered needs grad_avg
        ref.rmsprop_step(p, g, np.zeros(3), np.zeros(0), np.zeros(0), 0.1, 0.9, 1e-8, 0, 0, True)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError):  # p is updated in place
        ref.sgd_step(ro, g, np.zeros(0), 0.1, 0.0, 0.0, False, 0.0, True)
