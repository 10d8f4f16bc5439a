"""The ``gradcore`` command refuses bad arguments with a usage error naming the option
(argparse's exit code 2), never a traceback from inside or a petabyte allocation."""

from __future__ import annotations

import pytest

from gradcore import cli


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["demo", "--depth", "0"], "--depth"),
        (["demo", "--depth", "100000000"], "--depth"),  # was: 71 PiB MemoryError from numpy
        (["demo", "--width", "100000000"], "--width"),
        (["demo", "--width", "2.5"], "--width"),
        (["demo", "--seed", "-1"], "--seed"),  # was: a ValueError traceback from gc.data
        (["demo", "--epochs", "0"], "--epochs"),
        (["train", "adding", "--T", "0"], "--T"),  # was: a ValueError traceback
        (["train", "adding", "--T", "-5"], "--T"),
        (["train", "digits", "--epochs", "-1"], "--epochs"),
        (["train", "digits", "--seed", "x"], "--seed"),
        (["train", "nosuchtask"], "task"),
    ],
)
def test_bad_arguments_are_usage_errors(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err


def test_out_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "a-file"
    f.write_text("keep me")
    with pytest.raises(SystemExit) as exc:  # was: FileExistsError after the whole demo ran
        cli.main(["demo", "--depth", "2", "--width", "4", "--epochs", "1", "--out", str(f)])
    assert exc.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
    assert f.read_text() == "keep me"


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


def test_a_closed_pipe_ends_the_command_quietly():
    """`gradcore experiment list | head -1`: the reader leaves; no traceback, exit 141."""
    import subprocess
    import sys

    code = "import sys; from gradcore.cli import main; sys.exit(main(['experiment', 'list']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # before the command prints anything (it imports first)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err
