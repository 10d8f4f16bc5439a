"""Initializers: statistics, orthogonality, reproducibility, argument checks."""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import init


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("he_normal", math.sqrt(2 / 400)),
        ("he_uniform", math.sqrt(2 / 400)),
        ("xavier_normal", math.sqrt(2 / 700)),
        ("xavier_uniform", math.sqrt(2 / 700)),
    ],
)
def test_initializer_scales(name, std):
    w = init.get(name)((400, 300), np.random.default_rng(0), np.float64)
    assert w.shape == (400, 300) and w.dtype == np.float64
    # 120k samples: the sample std is within ~0.4 % of the true one; 2 % cannot be luck
    assert abs(w.std() / std - 1) < 0.02
    assert abs(w.mean()) < 3 * std / math.sqrt(w.size) * 3


def test_initializers_match_torch_formulas():
    # gain/fan conventions of torch.nn.init, with our [in, out] layout
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    w = init.he_uniform((50, 20), np.random.default_rng(0), np.float64, mode="fan_out")
    assert np.abs(w).max() <= math.sqrt(2) * math.sqrt(3 / 20)


@pytest.mark.parametrize("shape", [(8, 8), (5, 12), (12, 5)])
def test_orthogonal(shape):
    q = init.orthogonal(shape, np.random.default_rng(1), np.float64, gain=2.0)
    small = min(shape)
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_seeded_layers_are_reproducible():
    a = gc.nn.Dense(5, 4, seed=7).params["W"]
    b = gc.nn.Dense(5, 4, seed=7).params["W"]
    c = gc.nn.Dense(5, 4, seed=8).params["W"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_initializer_arguments():
    with pytest.raises(ValueError, match=r"calculate_gain: nonlinearity must be one of .*'gelu'"):
        init.calculate_gain("softsign")
    with pytest.raises(
        ValueError, match=r"init.he_normal: mode must be one of 'fan_in', 'fan_out'"
    ):
        init.he_normal((3, 3), np.random.default_rng(0), mode="fan_avg")
    with pytest.raises(ValueError, match="shape must have at least 2 dimensions"):
        init.orthogonal((3,), np.random.default_rng(0))
