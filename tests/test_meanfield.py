"""gc.meanfield: the fixed points and depth scales of deep random tanh nets, against the
published critical point, the analytic limits, Monte Carlo, and a wide random network."""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import meanfield as mf


def test_critical_line_matches_the_paper_and_the_analytic_limit():
    # Schoenholz et al. 2017: at sigma_b^2 = 0.05 the critical sigma_w^2 is about 1.76.
    assert mf.critical_sigma_w2(0.05) == pytest.approx(1.76, abs=0.005)
    # sigma_b = 0: q* = 0 for sigma_w2 <= 1, chi_1 = sigma_w2 * tanh'(0)^2 = sigma_w2.
    assert mf.critical_sigma_w2(0.0) == pytest.approx(1.0, abs=1e-9)
    assert mf.chi_1(0.7, 0.0) == pytest.approx(0.7, rel=1e-12)
    # The critical sigma_w2 grows with sigma_b2 (more bias needs more weight to stay critical).
    cs = [mf.critical_sigma_w2(b) for b in (0.0, 0.01, 0.05, 0.2)]
    assert cs == sorted(cs) and len(set(cs)) == 4
    for b, c in zip((0.01, 0.05, 0.2), cs[1:], strict=True):
        assert mf.chi_1(c, b) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("sw2", [0.5, 1.5, 2.5, 4.0])
def test_fixed_points_are_fixed(sw2):
    sb2 = 0.05
    q = mf.q_star(sw2, sb2)
    assert q > 0 and mf.q_map(q, sw2, sb2) == pytest.approx(q, rel=1e-12)
    m = mf.mean_field(sw2, sb2)
    if m.phase == "ordered":
        assert m.chi_1 < 1 and m.c_star == 1.0 and m.chi_c == m.chi_1
    else:
        assert m.chi_1 > 1 and 0 < m.c_star < 1
        assert mf.c_map(m.c_star, sw2, sb2) == pytest.approx(m.c_star, abs=1e-10)
        assert 0 < m.chi_c < 1  # the chaotic fixed point is stable
        # and c = 1 is unstable: a correlation just below 1 moves away from it
        assert mf.c_map(1 - 1e-4, sw2, sb2) < 1 - 1e-4
    assert m.gain == pytest.approx(math.sqrt(m.chi_1))
    assert m.xi_c == pytest.approx(-1 / math.log(m.chi_c))
    assert m.trainable_depth() == pytest.approx(6 * m.xi_c)


def test_quadrature_against_monte_carlo():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(2_000_000)
    for q, sw2, sb2 in ((0.3, 1.5, 0.05), (2.0, 3.0, 0.1)):
        samples = sw2 * np.tanh(math.sqrt(q) * z) ** 2 + sb2
        se = samples.std() / math.sqrt(z.size)
        assert abs(mf.q_map(q, sw2, sb2) - samples.mean()) < 5 * se
    # chi_1 as an average over the fixed-point distribution
    sw2, sb2 = 2.5, 0.05
    d = 1 / np.cosh(math.sqrt(mf.q_star(sw2, sb2)) * z) ** 2
    samples = sw2 * d**2
    assert abs(mf.chi_1(sw2, sb2) - samples.mean()) < 5 * samples.std() / math.sqrt(z.size)


def test_depth_scale_diverges_at_the_edge_of_chaos():
    crit = mf.critical_sigma_w2(0.05)
    xi = [mf.mean_field(s, 0.05).xi_c for s in (1.0, 1.4, crit - 0.01)]
    assert xi == sorted(xi) and xi[-1] > 100  # ordered side, rising towards the edge
    xi = [mf.mean_field(s, 0.05).xi_c for s in (crit + 0.02, 2.5, 4.0)]
    assert xi == sorted(xi, reverse=True) and xi[0] > 50  # chaotic side, falling away
    assert mf.mean_field(crit, 0.05).xi_c > 1e4


@pytest.mark.parametrize("sw2", [1.0, 3.0])
def test_a_wide_random_net_follows_the_theory(sw2):
    """q* and the per-layer backward gain sqrt(chi_1), measured on a random tanh net of width
    1000 (the theory is exact as the width grows; here within a few per cent)."""
    sb2, N, L = 0.05, 1000, 30
    rng = np.random.default_rng(1)
    h = rng.standard_normal((N, 8))
    Ws, hs = [], []
    for _ in range(L):
        W = rng.standard_normal((N, N)) * math.sqrt(sw2 / N)
        b = rng.standard_normal((N, 1)) * math.sqrt(sb2)
        hs.append(h)
        h = W @ np.tanh(h) + b
        Ws.append(W)
    m = mf.mean_field(sw2, sb2)
    assert np.mean(h**2) == pytest.approx(m.q_star, rel=0.05)
    g = rng.standard_normal((N, 8))  # dL/dh at the top; back through each layer
    gains = []
    for W, hin in zip(reversed(Ws), reversed(hs), strict=True):
        g_in = (W.T @ g) * (1 / np.cosh(hin) ** 2)
        gains.append(np.linalg.norm(g_in) / np.linalg.norm(g))
        g = g_in
    assert np.median(gains[: L - 5]) == pytest.approx(m.gain, rel=0.03)


@pytest.mark.parametrize(
    ("call", "err", "match"),
    [
        (lambda: mf.mean_field(0.0, 0.05), ValueError, r"mean_field: sigma_w2 must be"),
        (lambda: mf.mean_field(-1, 0.05), ValueError, r"sigma_w2 must be .*got -1"),
        (lambda: mf.mean_field(1.0, -0.1), ValueError, r"sigma_b2 must be .*got -0.1"),
        (lambda: mf.chi_1(float("nan"), 0.05), ValueError, r"chi_1: sigma_w2"),
        (lambda: mf.q_star(True, 0.05), TypeError, r"q_star: sigma_w2 must be a finite real"),
        (
            lambda: mf.c_map(1.5, 2.0, 0.05),
            ValueError,
            r"c_map: c must be .*\[-1.0, 1.0\], got 1.5",
        ),
        (lambda: mf.q_map(-1.0, 2.0, 0.05), ValueError, r"q_map: q must be"),
        (lambda: mf.critical_sigma_w2("0.05"), TypeError, r"critical_sigma_w2: sigma_b2"),
    ],
)
def test_bad_arguments_are_clear_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_lazy_attribute_and_plain_floats():
    assert gc.meanfield is mf
    m = mf.mean_field(np.float32(2.0), np.float64(0.05))
    assert all(isinstance(v, float) for v in (m.q_star, m.c_star, m.chi_1, m.xi_c, m.gain))
    assert m.phase == "chaotic" and mf.mean_field(1.0, 0.05).phase == "ordered"
