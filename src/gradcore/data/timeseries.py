"""Multi-feature time series for forecasting: a generator, windows, a chronological split.

- :func:`coupled_oscillators`: a few damped (optionally Duffing) oscillators coupled by springs,
  driven by noise and observed with noise; float64 ``[n_steps, F]``.
- :func:`windows`: the ``lookback`` past steps of every target, ``X[N, lookback, F]``,
  ``y[N, F]``.
- :func:`forecast_split`: the series windowed and split in time order into train/val/test
  (never shuffled across time), normalised per feature with the mean and std of the TRAINING
  span only, so nothing about the future leaks into the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_examples, check_bool, check_int, check_real, check_seed

__all__ = ["ForecastSplit", "coupled_oscillators", "forecast_split", "windows"]


def _per_feature(name: str, value, F: int, owner: str, positive: bool) -> np.ndarray:
    """A scalar or an ``[F]`` array_like of finite reals (``> 0`` if ``positive``)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{owner}: {name} must be a real number or an array_like of {F} real numbers, "
            f"got {type(value).__name__}"
        ) from None
    if a.ndim == 0:
        a = np.full(F, float(a))
    if a.shape != (F,):
        raise ValueError(
            f"{owner}: {name} must be a real number or an array_like of shape ({F},) "
            f"(n_features), got shape {a.shape}"
        )
    if not np.isfinite(a).all() or (positive and not (a > 0).all()):
        raise ValueError(
            f"{owner}: {name} must hold finite real numbers{' > 0' if positive else ''}, "
            f"got {a.tolist()}"
        )
    return a


def coupled_oscillators(
    n_steps: int,
    n_features: int = 3,
    *,
    noise: float = 0.05,
    drive: float = 0.5,
    coupling: float = 0.3,
    damping: float = 0.05,
    cubic: float = 0.5,
    dt: float = 0.1,
    offset=0.0,
    scale=1.0,
    seed: int = 0,
) -> np.ndarray:
    """Noisy coupled damped oscillators, sampled every ``dt``, observed with noise.

    ``n_features`` masses on a chain of springs; mass ``k`` has position ``x_k``, velocity
    ``v_k`` and natural angular frequency ``w_k`` (spread evenly over ``[0.6, 1.4]`` in a
    seeded random order, so periods are ~45 to 105 steps at ``dt = 0.1``)::

        a_k = -w_k^2 x_k - cubic x_k^3 - 2 damping w_k v_k
              + coupling (x_{k-1} - x_k) + coupling (x_{k+1} - x_k) + drive xi_k / sqrt(dt)
        v_k += dt a_k;  x_k += dt v_k                    (semi-implicit Euler, xi ~ N(0, 1))

    and the observation is ``offset_k + scale_k (x_k + noise eta_k)`` (``eta ~ N(0, 1)``).
    ``cubic > 0`` is a hardening (Duffing) spring: the series is then not a linear process,
    and large swings oscillate faster. The noise drive keeps it going forever; the damping
    keeps it stationary. The first 500 steps (burn-in, from rest) are discarded.

    Parameters
    ----------
    n_steps : int >= 1
    n_features : int >= 1 (the number of oscillators, one observed position each)
    noise : real >= 0, observation noise std (in the units of ``x``).
    drive : real >= 0, strength of the noise force.
    coupling : real >= 0, spring constant between neighbours on the chain.
    damping : real in (0, 1), damping ratio of each oscillator.
    cubic : real >= 0, Duffing coefficient.
    dt : real in (0, 0.5], the sampling step. The integrator is stable while ``dt`` times
        the fastest effective frequency stays below 2; a hardening spring (``cubic``) driven
        hard raises that frequency, and a run that diverges raises ``ValueError``.
    offset, scale : a real or an array_like ``[n_features]`` (``scale > 0``): the sensors'
        units, e.g. ``offset=[20, 1000], scale=[2, 50]`` for a temperature and a pressure.
    seed : int >= 0

    Returns
    -------
    ndarray, float64, shape ``[n_steps, n_features]``; finite, a pure function of the arguments
    (and a longer series begins with the shorter one of the same seed).
    """
    owner = "coupled_oscillators"
    n_steps = check_int("n_steps", n_steps, 1, owner)
    F = check_int("n_features", n_features, 1, owner)
    noise = check_real("noise", noise, 0.0, owner)
    drive = check_real("drive", drive, 0.0, owner)
    coupling = check_real("coupling", coupling, 0.0, owner)
    damping = check_real("damping", damping, 0.0, owner, maximum=1.0, open_interval=True)
    cubic = check_real("cubic", cubic, 0.0, owner)
    dt = check_real("dt", dt, 0.0, owner, maximum=0.5)
    if dt == 0:
        raise ValueError(f"{owner}: dt must be a real number in (0, 0.5], got {dt}")
    offset = _per_feature("offset", offset, F, owner, positive=False)
    scale = _per_feature("scale", scale, F, owner, positive=True)
    # three independent streams, so a longer series starts with the shorter one
    r_w, r_kick, r_eta = (
        np.random.default_rng(s)
        for s in np.random.SeedSequence(check_seed(seed, owner=owner)).spawn(3)
    )
    w = r_w.permutation(np.linspace(0.6, 1.4, F)) if F > 1 else np.array([1.0])
    burn = 500
    total = burn + n_steps
    kicks = r_kick.standard_normal((total, F)) * (drive * np.sqrt(dt))  # dt*drive*xi/sqrt(dt)
    eta = r_eta.standard_normal((n_steps, F)) * noise
    x = np.zeros(F)
    v = np.zeros(F)
    out = np.empty((total, F))
    for t in range(total):
        spring = np.zeros(F)
        if F > 1:
            d = np.diff(x)  # x_{k+1} - x_k
            spring[:-1] += d
            spring[1:] -= d
        a = -(w**2) * x - cubic * x**3 - 2.0 * damping * w * v + coupling * spring
        v = v + dt * a + kicks[t]
        x = x + dt * v
        if not np.abs(x).max() < 1e6:  # caught long before float64 overflows (or NaN)
            raise ValueError(
                f"{owner}: the integration diverged at step {t - burn} (|x| > 1e6): dt={dt} is "
                f"too large for cubic={cubic} at the amplitudes drive={drive} reaches; lower "
                "dt, drive or cubic"
            )
        out[t] = x
    obs = out[burn:] + eta
    return offset + scale * obs


def windows(series, lookback: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``lookback`` consecutive steps and the step ``horizon`` after it.

    ``X[i] = series[i : i + lookback]`` and ``y[i] = series[i + lookback + horizon - 1]``,
    for ``i = 0 .. N - 1`` with ``N = n_steps - lookback - horizon + 1`` (``horizon = 1``:
    one step ahead, the step right after the window).

    Parameters
    ----------
    series : array_like ``[n_steps, F]`` of finite reals (a 1-D ``[n_steps]`` is one feature)
    lookback : int >= 1
    horizon : int >= 1

    Returns
    -------
    X : ndarray, float64, ``[N, lookback, F]`` (batch-first, as ``gc.nn.LSTM`` takes it)
    y : ndarray, float64, ``[N, F]``
    """
    owner = "windows"
    s = _as_series(series, owner)
    lookback = check_int("lookback", lookback, 1, owner)
    horizon = check_int("horizon", horizon, 1, owner)
    n = len(s) - lookback - horizon + 1
    if n < 1:
        raise ValueError(
            f"{owner}: series must have at least lookback + horizon = {lookback + horizon} "
            f"steps, got {len(s)}"
        )
    idx = np.arange(n)[:, None] + np.arange(lookback)[None, :]
    return s[idx], s[lookback + horizon - 1 : lookback + horizon - 1 + n].copy()


def _as_series(series, owner: str) -> np.ndarray:
    a = as_examples("series", series, owner)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: series must hold real numbers, got an array of dtype {a.dtype}")
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] < 1:
        raise ValueError(f"{owner}: series must have shape [n_steps, F], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{owner}: series must be finite, got NaN or inf values")
    return a


@dataclass(frozen=True)
class ForecastSplit:
    """One-step (or ``horizon``-step) forecasting data, split in time order.

    ``X_*`` float64 ``[N_*, lookback, F]`` and ``y_*`` float64 ``[N_*, F]``, normalised as
    ``(value - mean) / std``; ``mean``/``std`` float64 ``[F]`` were computed on the training
    span ``series[:bounds[0]]`` only (all zeros / ones if not normalised). ``bounds = (a, b)``:
    the targets of train, val and test are the steps ``[lookback + horizon - 1, a)``,
    ``[a, b)`` and ``[b, n_steps)``; an input window may reach back into the span before
    its target's (that is the past, known when forecasting).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    bounds: tuple[int, int]
    lookback: int
    horizon: int

    def denormalize(self, y: np.ndarray) -> np.ndarray:
        """``y * std + mean`` (any shape ending in ``F``): back to the series' units."""
        return np.asarray(y, np.float64) * self.std + self.mean


def forecast_split(
    series,
    lookback: int,
    horizon: int = 1,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    normalize: bool = True,
) -> ForecastSplit:
    """Window ``series`` (:func:`windows`) and split by time: the first ``1 - val_fraction -
    test_fraction`` of the steps are the training span, then validation, then test.

    With ``normalize`` each feature is standardised with the mean and std of the training
    span (the steps ``series[:a]``; a constant feature gets std 1), computed before anything
    else is looked at: the validation and test values never influence the inputs.

    Parameters
    ----------
    series : array_like ``[n_steps, F]`` of finite reals
    lookback, horizon : int >= 1
    val_fraction, test_fraction : reals in (0, 1) with a sum < 1; every split must get at
        least one target.
    normalize : bool

    Returns
    -------
    :class:`ForecastSplit`
    """
    owner = "forecast_split"
    s = _as_series(series, owner)
    lookback = check_int("lookback", lookback, 1, owner)
    horizon = check_int("horizon", horizon, 1, owner)
    vf = check_real("val_fraction", val_fraction, 0.0, owner, maximum=1.0, open_interval=True)
    tf = check_real("test_fraction", test_fraction, 0.0, owner, maximum=1.0, open_interval=True)
    normalize = check_bool("normalize", normalize, owner=owner)
    if vf + tf >= 1:
        raise ValueError(
            f"{owner}: val_fraction + test_fraction must be < 1 (the rest is the training "
            f"span), got {vf} + {tf} = {vf + tf}"
        )
    n = len(s)
    a = round(n * (1 - vf - tf))
    b = round(n * (1 - tf))
    first = lookback + horizon - 1  # the first step that can be a target
    if not first < a < b < n:
        raise ValueError(
            f"{owner}: series is too short for these splits: {n} steps give target spans "
            f"[{first}, {a}), [{a}, {b}), [{b}, {n}) with lookback={lookback}, "
            f"horizon={horizon}; every span must hold at least one step"
        )
    if normalize:
        mean = s[:a].mean(axis=0)
        std = s[:a].std(axis=0)
        std = np.where(std > 0, std, 1.0)
    else:
        mean, std = np.zeros(s.shape[1]), np.ones(s.shape[1])
    X, y = windows((s - mean) / std, lookback, horizon)
    target = np.arange(len(y)) + first
    tr, va = target < a, (target >= a) & (target < b)
    te = target >= b
    return ForecastSplit(
        X[tr], y[tr], X[va], y[va], X[te], y[te], mean, std, (a, b), lookback, horizon
    )
