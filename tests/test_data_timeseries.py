"""``gradcore.data``'s time series: the coupled-oscillator generator, windows, the chronological
split and its training-span-only normalisation, and the errors."""

import numpy as np
import pytest

from gradcore import data
from gradcore.data import coupled_oscillators, forecast_split, windows


def test_exported_from_gc_data():
    for name in ("coupled_oscillators", "forecast_split", "windows"):
        assert name in data.__all__ and callable(getattr(data, name))


# ---------------------------------------------------------------- coupled_oscillators


def test_shape_dtype_determinism_and_seed_dependence():
    a = coupled_oscillators(500, 3, seed=0)
    assert a.shape == (500, 3) and a.dtype == np.float64
    assert np.array_equal(a, coupled_oscillators(500, 3, seed=0))
    assert not np.allclose(a, coupled_oscillators(500, 3, seed=1))
    # n_steps only truncates: the first steps do not depend on how many follow
    assert np.array_equal(coupled_oscillators(200, 3, seed=0), a[:200])
    assert coupled_oscillators(7, 1).shape == (7, 1)


def test_stationary_finite_and_oscillating():
    s = coupled_oscillators(10000, 3, seed=0)
    assert np.isfinite(s).all()
    halves = s[:5000], s[5000:]
    # stationary: the level and spread of the two halves agree (damping vs noise drive)
    for k in range(3):
        assert abs(halves[0][:, k].mean() - halves[1][:, k].mean()) < 0.5 * s[:, k].std()
        assert 0.6 < halves[0][:, k].std() / halves[1][:, k].std() < 1.6
    # it oscillates: the lag-1 autocorrelation is high, and at some lag it turns negative
    z = (s - s.mean(0)) / s.std(0)
    for k in range(3):
        ac = [float(np.mean(z[:-lag, k] * z[lag:, k])) for lag in (1, 30)]
        assert ac[0] > 0.9 and ac[1] < 0.3
    # the coupling ties the features together: with coupling 0 they are uncorrelated
    c = np.corrcoef(coupled_oscillators(8000, 2, coupling=2.0, seed=0).T)[0, 1]
    c0 = np.corrcoef(coupled_oscillators(8000, 2, coupling=0.0, seed=0).T)[0, 1]
    assert abs(c) > 0.2 and abs(c0) < 0.1


def test_offset_scale_and_noise():
    base = coupled_oscillators(300, 2, seed=3)
    units = coupled_oscillators(300, 2, offset=[20, 1000], scale=[2, 50], seed=3)
    np.testing.assert_allclose(units, [20, 1000] + np.array([2, 50]) * base, rtol=1e-12)
    clean = coupled_oscillators(2000, 1, noise=0.0, seed=0)
    noisy = coupled_oscillators(2000, 1, noise=0.2, seed=0)
    # the observation noise is additive, with the given std (the state is the same)
    assert 0.18 < float(np.std(noisy - clean)) < 0.22


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        (
            {"n_steps": 0},
            ValueError,
            r"coupled_oscillators: n_steps must be an integer >= 1, got 0",
        ),
        ({"n_steps": 2.5}, TypeError, r"n_steps must be an integer >= 1, got float"),
        ({"n_features": 0}, ValueError, r"n_features must be an integer >= 1, got 0"),
        ({"noise": -1.0}, ValueError, r"noise must be a .*>= 0"),
        ({"damping": 1.0}, ValueError, r"damping must be a .*\(0.0, 1.0\)"),
        ({"dt": 0.0}, ValueError, r"dt must be a real number in \(0, 0.5\], got 0.0"),
        ({"dt": 0.6}, ValueError, r"dt must be"),
        ({"scale": [1.0, 0.0, 1.0]}, ValueError, r"scale must hold finite real numbers > 0"),
        ({"offset": [1.0, 2.0]}, ValueError, r"offset must be .* shape \(3,\).*got shape \(2,\)"),
        ({"offset": "a"}, TypeError, r"offset must be a real number or an array_like"),
        ({"seed": -1}, ValueError, r"seed"),
    ],
)
def test_coupled_oscillators_errors(kw, exc, match):
    args = {"n_steps": 10, "n_features": 3} | kw
    with pytest.raises(exc, match=match):
        coupled_oscillators(**args)


def test_diverging_integration_is_a_clear_error():
    with pytest.raises(ValueError, match=r"coupled_oscillators: the integration diverged"):
        coupled_oscillators(2000, 3, drive=5.0, cubic=2.0, dt=0.5)


# ---------------------------------------------------------------- windows


def test_windows_against_a_hand_computation():
    s = np.arange(12.0).reshape(6, 2)  # step t holds (2t, 2t + 1)
    X, y = windows(s, lookback=3)
    assert X.shape == (3, 3, 2) and y.shape == (3, 2) and X.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(X[0], [[0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(y, [[6, 7], [8, 9], [10, 11]])
    np.testing.assert_array_equal(X[2], s[2:5])
    X2, y2 = windows(s, lookback=2, horizon=3)  # target: 3 steps after the window's end
    assert X2.shape == (2, 2, 2)
    np.testing.assert_array_equal(X2[1], s[1:3])
    np.testing.assert_array_equal(y2, s[[4, 5]])
    X1, y1 = windows([1, 2, 3, 4], lookback=2)  # 1-D: one feature
    assert X1.shape == (2, 2, 1) and y1.tolist() == [[3.0], [4.0]]
    y1[0, 0] = 99.0  # the targets are a copy, not a view of the input
    assert X1[1, 0, 0] == 2.0


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        ((np.zeros((5, 2)), 0), ValueError, r"windows: lookback must be an integer >= 1, got 0"),
        ((np.zeros((5, 2)), 2, 0), ValueError, r"windows: horizon must be an integer >= 1"),
        ((np.zeros((5, 2)), 5), ValueError, r"at least lookback \+ horizon = 6 steps, got 5"),
        ((np.zeros((2, 2, 2)), 1), ValueError, r"series must have shape \[n_steps, F\]"),
        ((np.array([[1.0, np.nan]] * 4), 1), ValueError, r"series must be finite"),
        ((np.array(["a", "b", "c"]), 1), TypeError, r"series must hold real numbers"),
        ((None, 1), TypeError, r"windows: series must be an array"),
    ],
)
def test_windows_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        windows(*args)


# ---------------------------------------------------------------- forecast_split


def test_split_is_chronological_and_covers_every_target_once():
    s = np.arange(200.0)[:, None] * [1.0, -2.0]  # value = step: targets tell their time
    sp = forecast_split(s, lookback=5, normalize=False)
    a, b = sp.bounds
    assert (a, b) == (140, 170)
    t_tr, t_va, t_te = sp.y_train[:, 0], sp.y_val[:, 0], sp.y_test[:, 0]
    np.testing.assert_array_equal(t_tr, np.arange(5, a))
    np.testing.assert_array_equal(t_va, np.arange(a, b))
    np.testing.assert_array_equal(t_te, np.arange(b, 200))
    # each input window is the lookback steps right before its target (the past only)
    np.testing.assert_array_equal(sp.X_test[:, -1, 0], t_te - 1)
    np.testing.assert_array_equal(sp.X_val[:, 0, 0], t_va - 5)
    assert sp.mean.tolist() == [0.0, 0.0] and sp.std.tolist() == [1.0, 1.0]


def test_normalisation_statistics_come_from_the_training_span_only():
    s = coupled_oscillators(1000, 3, offset=[20, 1000, 0], scale=[5, 50, 0.2], seed=0)
    sp = forecast_split(s, lookback=10)
    a, b = sp.bounds
    np.testing.assert_allclose(sp.mean, s[:a].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sp.std, s[:a].std(axis=0), rtol=1e-12)
    # changing the future (validation and test spans) does not change them, nor the train data
    future = s.copy()
    future[a:] = future[a:] * 3.0 + 100.0
    sp2 = forecast_split(future, lookback=10)
    np.testing.assert_array_equal(sp2.mean, sp.mean)
    np.testing.assert_array_equal(sp2.std, sp.std)
    np.testing.assert_array_equal(sp2.X_train, sp.X_train)
    np.testing.assert_array_equal(sp2.y_train, sp.y_train)
    # the training targets are standardised; denormalize goes back to the original units
    np.testing.assert_allclose(sp.denormalize(sp.y_test), s[b:], rtol=1e-12)
    z = (s[:a] - sp.mean) / sp.std
    assert np.allclose(z.mean(0), 0, atol=1e-12) and np.allclose(z.std(0), 1)


def test_a_constant_feature_gets_std_one():
    s = np.c_[np.arange(50.0), np.full(50, 7.0)]
    sp = forecast_split(s, lookback=3)
    assert sp.std[1] == 1.0 and sp.mean[1] == 7.0
    assert np.all(sp.y_test[:, 1] == 0.0)


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"val_fraction": 0.0}, ValueError, r"forecast_split: val_fraction must be"),
        ({"test_fraction": 1.0}, ValueError, r"test_fraction must be"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, r"sum|< 1"),
        ({"normalize": 1}, TypeError, r"normalize must be True or False"),
        ({"lookback": 0}, ValueError, r"lookback must be an integer >= 1"),
        ({"lookback": 70}, ValueError, r"too short for these splits: 100 steps"),
    ],
)
def test_forecast_split_errors(kw, exc, match):
    args = {"lookback": 5} | kw
    with pytest.raises(exc, match=match):
        forecast_split(np.zeros((100, 2)), **args)
