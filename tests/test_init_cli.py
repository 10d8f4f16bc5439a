"""Initializers (statistics, orthogonality, reproducibility) and the command line."""

import math

import numpy as np
import pytest

import gradcore as gc
from gradcore import cli, init


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


def test_cli_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backends available" in out and "numpy" in out


def test_cli_demo_shows_vanishing_gradients(capsys, tmp_path):
    out_dir = tmp_path / "demo"
    assert cli.main(["demo", "--depth", "8", "--width", "16", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    # it ends with the monitor's diagnosis of the sigmoid network and the figure's path
    assert "gradcore health report: CRITICAL" in out and "[critical] vanishing" in out
    png = out_dir / "gradient_flow.png"
    assert out.rstrip().endswith(f"gradient flow figure: {png}")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ratios = {}
    kind = None
    for line in out.splitlines():
        if "(loss" in line:
            kind = line.split("   (loss")[0]
        if "first/last layer ratio" in line:
            ratios[kind] = float(line.rsplit(":", 1)[1])
    # the classic result: sigmoid + small init vanishes by orders of magnitude, ReLU/He does not
    assert ratios["sigmoid + small normal init"] < 1e-4
    assert ratios["ReLU + He init"] > 1e-2
    assert "gradcheck" in out and "FAIL" not in out


def test_cli_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        cli.main(["demo", "--depth", "0"])
