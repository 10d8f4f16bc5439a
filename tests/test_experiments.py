"""The classic experiments (issue 13): each quick run shows its phenomenon, writes its files,
is deterministic given its seed, and the CLI lists and runs them."""

import json

import pytest
from _experiments import needs_data

from gradcore import cli, experiments
from gradcore.experiments import _report

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

NAMES = ("vanishing", "exploding", "initialization", "activations", "residual")


pytestmark = needs_data


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Every experiment once with --quick (shared by the tests: ~30 s in all)."""
    out = tmp_path_factory.mktemp("experiments")
    return out, {n: experiments.run(n, quick=True, seed=0, out=out, progress=False) for n in NAMES}


def test_registry_lists_the_experiments_in_the_issues_order():
    numbers = [e.number for e in experiments.EXPERIMENTS.values()]
    assert numbers == sorted(set(numbers)), "registered in the issue's order, once each"
    assert [n for n in experiments.EXPERIMENTS if n in NAMES] == list(NAMES)
    for e in experiments.EXPERIMENTS.values():
        assert e.description and e.expected and callable(e.run)
    with pytest.raises(
        ValueError,
        match=r"name must be one of vanishing, exploding, initialization, activations, .*residual",
    ):
        experiments.get("nope")


def test_files_written_and_results_json_is_what_run_returned(quick):
    out, res = quick
    for name, r in res.items():
        folder = out / name
        assert json.loads((folder / "results.json").read_text()) == r
        assert r["figures"], name
        for f in r["figures"]:
            assert (folder / f["file"]).stat().st_size > 10_000, f
        ds = r["dataset"]
        assert ds["name"] in experiments.DATASETS and ds["source"]
        if ds["name"] != "mnist":
            assert str(ds["n_features"]) in ds["note"]
        assert set(r["headline"]) == {"measured", "reproduced"} and r["expected"]


def test_vanishing_sigmoid_first_layer_gradient_orders_of_magnitude_below_relu(quick):
    m = quick[1]["vanishing"]["measured"]
    sig, relu = m["sigmoid + Glorot"], m["ReLU + He"]
    assert relu["first_layer_grad_norm_at_start"] > 1e3 * sig["first_layer_grad_norm_at_start"]
    assert sig["first_over_last_at_start"] < 1e-3  # vanishes towards the input
    assert 0.1 < relu["first_over_last_at_start"] < 10  # level
    assert "vanishing" in sig["monitor_findings"]
    assert "vanishing" not in relu["monitor_findings"]
    # the fixes learn, the sigmoid net (in the quick run) stays near chance
    for kind in ("ReLU + He", "ReLU + He + BatchNorm", "ReLU + He + BatchNorm + residual"):
        assert m[kind]["final_test_accuracy"] > sig["final_test_accuracy"] + 0.1, kind


def test_exploding_unclipped_sgd_diverges_and_norm_clipping_keeps_it_bounded(quick):
    m = quick[1]["exploding"]["measured"]
    sgd = m["SGD lr 0.1"]
    assert sgd["unclipped"]["diverged"]
    for kind in ("per-tensor clipnorm=1.0 (Keras)", "global norm 1.0"):
        assert not sgd[kind]["diverged"], kind
        assert sgd[kind]["grad_norm_max"] < 100, kind
        assert sgd[kind]["max_loss"] < 10, kind
    hi = m["Adam lr 3e-2"]["unclipped"]
    assert hi["grad_norm_growth"] > 1e3  # the gradient norm blows up with Adam at 3e-2
    stated = m["Adam lr 1e-3 (as stated)"]["unclipped"]
    assert stated["grad_norm_max"] < 10 * stated["grad_norm_first"]  # as measured: bounded


def test_initialization_xavier_halves_relu_variance_he_keeps_it_level(quick):
    m = quick[1]["initialization"]["measured"]
    assert 0.6 < m["relu / Xavier"]["act_std_factor_per_layer"] < 0.8
    assert 0.9 < m["relu / He"]["act_std_factor_per_layer"] < 1.1
    assert 0.9 < m["relu / LSUV"]["act_std_factor_per_layer"] < 1.1
    assert m["relu / small normal"]["act_std_last"] < 1e-10
    assert m["relu / zeros"]["act_std_last"] == 0
    assert quick[1]["initialization"]["headline"]["reproduced"]


def test_activations_sigmoid_gradient_vanishes_with_depth_the_others_do_not(quick):
    m = quick[1]["activations"]["measured"]
    sig = m["sigmoid"]["first_layer_grad_at_init"]
    assert sig["20"] < 1e-4 * sig["5"]  # geometric decay with depth
    for act in ("tanh", "relu", "leaky_relu", "elu", "gelu"):
        g = m[act]["first_layer_grad_at_init"]
        assert g["20"] > 1e3 * sig["20"], act
        assert g["20"] > 0.1 * g["5"], act  # roughly level at their recommended gain
    assert 0 < m["relu"]["dead_unit_fraction_end"] < 1
    assert m["tanh"]["dead_unit_fraction_end"] is None  # not a ReLU: not measured


def test_residual_keeps_the_deep_net_trainable_and_its_gradient_level(quick):
    m = quick[1]["residual"]["measured"]
    plain, res = m["plain 50"], m["residual 50"]
    assert plain["first_over_last_at_start"] > 100 * res["first_over_last_at_start"]
    assert 0.05 < res["first_over_last_at_start"] < 20
    assert res["final_test_accuracy"] > plain["final_test_accuracy"]


def test_report_renders_a_summary_table_and_every_figure(quick):
    _out, res = quick
    md = experiments.render(list(res.values()), quick=True)
    assert md.startswith("# gradcore experiments")
    head = md.split("## vanishing")[0]
    assert "| experiment | expected (the material) | measured | reproduced |" in head
    assert f"Dataset: **{res['vanishing']['dataset']['name']}**" in head
    for name, r in res.items():
        for f in r["figures"]:
            assert f"]({name}/{f['file']})" in md


def _without_wall(r: dict) -> dict:
    return {k: v for k, v in r.items() if k != "wall_seconds"}


def test_every_quick_run_is_deterministic_given_its_seed(quick, tmp_path):
    _, first = quick
    for name in NAMES:
        again = experiments.run(name, quick=True, seed=0, out=tmp_path, progress=False)
        assert _without_wall(again) == _without_wall(first[name]), name


def test_figures_are_palette_pngs(quick):
    from PIL import Image

    out, res = quick
    for name, r in res.items():
        for f in r["figures"]:
            with Image.open(out / name / f["file"]) as im:
                assert im.format == "PNG" and im.mode == "P", (name, f["file"], im.mode)


def test_summary_collects_every_headline_and_names_what_is_missing(quick, tmp_path):
    out, res = quick
    s = experiments.run("summary", quick=True, seed=0, out=out, progress=False)
    assert s["measured"]["experiments"] == len(NAMES)
    assert s["tables"][0]["rows"] == _report.summary_rows([res[n] for n in NAMES])
    others = [n for n in experiments.EXPERIMENTS if n not in (*NAMES, "summary")]
    assert s["measured"]["missing"] == others  # registered, not run in this folder
    no = [n for n in NAMES if not res[n]["headline"]["reproduced"]]
    assert s["measured"]["not_reproduced"] == no
    assert s["headline"]["reproduced"] is (not no and not others)
    md = (out / "summary" / "summary.md").read_text()
    assert all(f"| {n} |" in md for n in NAMES)
    assert s["measured"]["settings"].startswith("quick, seed 0; dataset ")
    report_md = _report.render([*(res[n] for n in NAMES), s], quick=True)
    assert f"Settings: {s['measured']['settings']}." in report_md
    assert report_md.count("| [") == len(NAMES)  # the summary has no row of its own
    # A corrupt file is ignored with a note; mixed settings are named.
    work = tmp_path / "w"
    for n in ("vanishing", "residual"):
        (work / n).mkdir(parents=True)
        (work / n / "results.json").write_text(json.dumps(res[n]))
    (work / "exploding").mkdir()
    (work / "exploding" / "results.json").write_text("{not json")
    full = dict(res["residual"], quick=False)
    (work / "residual" / "results.json").write_text(json.dumps(full))
    s = experiments.run("summary", quick=False, seed=0, out=work, progress=False)
    assert s["measured"]["experiments"] == 2 and "exploding" in s["measured"]["missing"]
    notes = " ".join(s["notes"])
    assert "not readable JSON" in notes and "exploding" in notes
    assert "residual: full" in notes and "vanishing: quick" in notes
    assert "gradcore experiment run NAME --out" in notes
    assert s["headline"]["reproduced"] is False


def test_cli_list_and_bad_name(capsys):
    assert cli.main(["experiment", "list"]) == 0
    shown = capsys.readouterr().out
    for name in NAMES:
        assert name in shown
    with pytest.raises(SystemExit) as exc:
        cli.main(["experiment", "run", "nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and all(n in err for n in NAMES)
    with pytest.raises(SystemExit):
        cli.main(["experiment", "run", "vanishing", "--data", "cifar"])
    assert "mnist1d" in capsys.readouterr().err


def test_cli_run_shows_a_bar_and_gives_the_same_numbers_for_the_same_seed(
    tmp_path, capsys, quick, monkeypatch
):
    out = tmp_path / "o"
    assert (
        cli.main(
            ["experiment", "run", "initialization", "--quick", "--out", str(out), "--seed", "0"]
        )
        == 0
    )
    cap = capsys.readouterr()
    assert "initialization on" in cap.out and "reproduced: yes" in cap.out
    assert "12/12" in cap.err  # the tqdm bar, on stderr
    again = json.loads((out / "initialization" / "results.json").read_text())
    first = dict(quick[1]["initialization"])
    first.pop("wall_seconds"), again.pop("wall_seconds")
    assert again == first  # determinism: same seed, same JSON numbers
    ran = []

    def fake_run(name, **kw):  # report's own logic, without running the slow ones again
        ran.append(name)
        return json.loads((out / "initialization" / "results.json").read_text())

    monkeypatch.setattr(_report, "run", fake_run)
    assert cli.main(["report", "--quick", "--quiet", "--out", str(out)]) == 0
    assert ran == list(experiments.EXPERIMENTS) and ran[-1] == "summary"
    assert (out / "report.md").read_text().count("## Summary") == 1


def test_report_resume_keeps_results_of_the_same_settings_and_runs_the_rest(
    quick, monkeypatch, tmp_path
):
    out, res = quick
    ran = []

    def fake_run(name, **kw):
        ran.append(name)
        return dict(res["initialization"], experiment=name)

    monkeypatch.setattr(_report, "run", fake_run)
    data = res["vanishing"]["dataset"]["name"]
    path = experiments.report(quick=True, seed=0, data=data, out=out, progress=False, resume=True)
    assert ran == [n for n in experiments.EXPERIMENTS if n not in NAMES]  # the rest, summary last
    md = path.read_text()
    assert all(res[n]["headline"]["measured"] in md for n in NAMES)
    ran.clear()  # another seed, or a figure gone: run again
    experiments.report(quick=True, seed=1, data=data, out=out, progress=False, resume=True)
    assert ran == list(experiments.EXPERIMENTS)
    ran.clear()
    (out / "residual" / res["residual"]["figures"][0]["file"]).rename(tmp_path / "moved.png")
    try:
        experiments.report(quick=True, seed=0, data=data, out=out, progress=False, resume=True)
    finally:
        (tmp_path / "moved.png").rename(out / "residual" / res["residual"]["figures"][0]["file"])
    assert "residual" in ran and "vanishing" not in ran


def test_the_cli_imports_the_experiments_only_for_their_commands():
    import subprocess
    import sys

    code = (
        "import sys, gradcore.cli as c\n"
        "try:\n    c.main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('gradcore.experiments' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_missing_mnist_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRADCORE_DATA", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    code = cli.main(["experiment", "run", "vanishing", "--quick", "--quiet", "--data", "mnist"])
    assert code == 2
    assert "gradcore experiment run:" in capsys.readouterr().err


def test_progress_is_handed_in_like_fits():
    from gradcore.experiments._framework import _open_bar

    class Bar:
        def update(self, n=1):
            pass

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    made = []
    bar, close, to_fit = _open_bar(lambda total: made.append(total) or Bar(), 7, "x")
    assert made == [7] and close and to_fit is bar  # a factory: ours to close
    mine = Bar()
    assert _open_bar(mine, 7, "x") == (mine, False, mine)  # the caller's bar: not closed
    bar, close, to_fit = _open_bar(False, 7, "x")
    assert not close and to_fit is False
    with pytest.raises(TypeError, match="progress must be"):
        _open_bar(3, 7, "x")
