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
