"""Experiment 5 (normalization): on the quick run the plain sigmoid net's input distribution
drifts and the BatchNorm net's does not, BN learns faster, BN (and less so LN) keeps the deep
sigmoid stack's first-layer gradient; the percentile probe records exactly np.percentile."""

import json

import numpy as np
import pytest
from _experiments import needs_data, quick_run

from gradcore import nn
from gradcore.experiments import _framework
from gradcore.experiments import normalization as N

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")


quick = quick_run("normalization")


# -- the probe -----------------------------------------------------------------------------


def _tiny(bn: bool):
    f32 = np.float32
    dense = nn.Dense(2, 3, "linear", init="xavier_uniform", dtype=f32, seed=1)
    dense.params["W"][...] = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]], f32)
    dense.params["b"][...] = np.array([0.5, 0.0, -1.0], f32)
    layers = [dense]
    if bn:
        layers.append(nn.BatchNorm(3, dtype=f32))
        layers[-1].params["gamma"][...] = np.array([2.0, 0.5, 1.0], f32)
        layers[-1].params["beta"][...] = np.array([1.0, -1.0, 0.0], f32)
    layers.append(nn.Activation("sigmoid", dtype=f32))
    return nn.Sequential(layers)


def test_percentile_probe_records_exactly_np_percentile_of_the_sigmoid_input():
    X = np.array([[0, 0], [1, 0], [0, 1], [2, -1], [-1, 3], [0.5, 0.5], [3, 2]], np.float32)
    z = X.astype(np.float64) @ [[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]] + [0.5, 0.0, -1.0]
    # plain: the sigmoid's input is the Dense output
    model = _tiny(False)
    probe = N.PercentileProbe("0.Dense")
    model.set_probe(probe)
    model.forward(X, training=True)
    assert probe.calls == 1 and probe.values.shape == (3, 3)
    np.testing.assert_allclose(probe.values, np.percentile(z, [15, 50, 85], axis=0), rtol=1e-6)
    # BN before the sigmoid (training mode: the batch's own statistics, biased variance)
    model = _tiny(True)
    probe = N.PercentileProbe("1.BatchNorm", q=(15, 50, 85))
    model.set_probe(probe)
    model.forward(X, training=True)
    y = (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5) * [2.0, 0.5, 1.0] + [1.0, -1.0, 0.0]
    np.testing.assert_allclose(probe.values, np.percentile(y, [15, 50, 85], axis=0), rtol=1e-5)
    assert np.all(np.diff(probe.values, axis=0) >= 0)  # ordered per unit
    # another layer's output is not recorded
    other = N.PercentileProbe("2.Activation")
    model.set_probe(other)
    model.forward(X, training=False)
    assert other.calls == 1 and np.all((other.values > 0) & (other.values < 1))
    assert N.PercentileProbe("9.Dense").values is None


def test_percentile_probe_and_builders_reject_bad_arguments():
    with pytest.raises(TypeError, match=r"PercentileProbe: layer must be a non-empty str"):
        N.PercentileProbe("")
    with pytest.raises(ValueError, match=r"PercentileProbe: q must be .* in \[0, 100\]"):
        N.PercentileProbe("0.Dense", q=(15, 150))
    with pytest.raises(ValueError, match=r"build_deep: norm must be one of none, BatchNorm"):
        N.build_deep("GroupNorm", 4, 8, 2, 0)


def test_paper_net_probes_the_last_sigmoids_input_and_measuring_leaves_bn_state_alone():
    plain, layer = N.build_paper(False, 5, 0)
    assert layer == "4.Dense" and isinstance(plain.layers[5], nn.Activation)
    bn, layer = N.build_paper(True, 5, 0)
    assert layer == "7.BatchNorm" and isinstance(bn.layers[8], nn.Activation)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 5)).astype(np.float32)
    before = {k: v.copy() for k, v in bn.layers[7].buffers.items()}
    cb = N._Checkpoints(layer, X, X, rng.integers(0, 10, 20), [0, 5])
    cb.measure(bn)
    for k, v in bn.layers[7].buffers.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert cb.percentiles[0].shape == (3, 100)
    assert N.percentile_checkpoints(50000, 50)[:2] == [0, 1020]
    assert N.percentile_checkpoints(7, 50) == list(range(8))


# -- the quick run -------------------------------------------------------------------------


@needs_data
def test_plain_net_input_distribution_drifts_and_the_bn_nets_does_not(quick):
    ps = quick[1]["measured"]["paper_setup"]
    dp, db = ps["plain"]["drift"], ps["BatchNorm"]["drift"]
    # seed 0, quick (median over the 100 units): the median still moves 0.32 (plain) vs 0.10
    # (BN) after 10 % of training, travels 0.40 vs 0.15; the 15-85 spread grows 21x vs 1.2x;
    # all three percentiles still move 0.91 vs 0.20. A swap of the nets fails every line.
    assert dp["median_late_typical"] > 2.5 * db["median_late_typical"]
    assert dp["median_range_typical"] > 2.0 * db["median_range_typical"]
    assert dp["spread_growth_typical"] > 5.0 * db["spread_growth_typical"]
    assert dp["all_late_typical"] > 3.0 * db["all_late_typical"]
    assert ps["drift_ratio_plain_over_bn"] == dp["median_late_typical"] / db["median_late_typical"]
    assert 0.5 < ps["BatchNorm"]["final_gamma_mean"] < 3 and ps["plain"]["final_gamma_mean"] is None
    for kind in ("plain", "BatchNorm"):
        p = ps[kind]["percentiles_unit0"]
        assert len(p["p15"]) == len(ps[kind]["steps"]) >= 40
        assert ps[kind]["steps"][0] == 0
        assert np.all(np.array(p["p15"]) <= np.array(p["p50"]))
        assert np.all(np.array(p["p50"]) <= np.array(p["p85"]))


@needs_data
def test_bn_net_learns_faster_and_ends_no_worse(quick):
    ps = quick[1]["measured"]["paper_setup"]
    plain, bn = ps["plain"], ps["BatchNorm"]
    # seed 0, quick, mnist1d: plain 9 % at 10 % of training (SGD on sigmoids starts slowly),
    # BN 25 %; at the end 31 % vs 49 %
    assert bn["test_accuracy_at_10pct"] > plain["test_accuracy_at_10pct"] + 0.1
    assert bn["final_test_accuracy"] >= plain["final_test_accuracy"] - 0.02
    assert quick[1]["headline"]["reproduced"] is True


@needs_data
def test_deep_sigmoid_stack_bn_keeps_the_first_layer_gradient_ln_less_so(quick):
    dc = quick[1]["measured"]["deep_comparison"]
    none, bn, ln = dc["none"], dc["BatchNorm"], dc["LayerNorm"]
    g = {k: v["first_layer_grad_norm_at_start"] for k, v in dc.items()}
    assert g["BatchNorm"] > 1e4 * g["none"]  # vanishes without normalization
    assert g["none"] < g["LayerNorm"] < g["BatchNorm"] / 100  # LN helps, much less than BN
    assert 0.1 < bn["first_over_output_at_start"] < 10  # level with BN
    assert none["final_test_accuracy"] < 0.15  # stuck near chance in the quick run
    assert bn["final_test_accuracy"] > none["final_test_accuracy"] + 0.1
    assert bn["final_test_accuracy"] > ln["final_test_accuracy"]


@needs_data
def test_files_written_and_results_json_is_what_run_returned(quick):
    out, r = quick
    folder = out / "normalization"
    assert json.loads((folder / "results.json").read_text()) == r
    files = {f["file"] for f in r["figures"]}
    assert files == {"accuracy_bn_paper.png", "percentiles.png", "deep_norms.png"}
    for f in files:
        assert 3_000 < (folder / f).stat().st_size < 150_000, f  # main quantizes PNGs (~1/3)
    assert len(r["tables"]) == 2 and r["notes"]
    assert r["config"]["paper_setup"]["batch_size"] == 60


@needs_data
def test_deterministic_given_the_seed(quick, tmp_path):
    """The quick run takes > 8 s on a loaded machine: rerun its paper-setup BN net (the same
    code path, ~1.5 s) and compare every number."""
    r = quick[1]
    ctx = _framework.Context(
        "normalization", quick=True, seed=0, data=None, out=tmp_path, progress=False
    )
    again = N._paper_run(ctx, ctx.dataset(), True, r["config"]["paper_setup"])
    first = r["measured"]["paper_setup"]["BatchNorm"]
    assert again["steps"] == first["steps"]
    assert again["test_accuracy"] == first["test_accuracy"]
    assert again["percentiles"][:, 1, 0].tolist() == first["percentiles_unit0"]["p50"]
    assert again["drift"] == first["drift"]
