"""The command line shows names, paths and messages as written: interpolated into rich
markup, "[/b]" in a path made `triaged eval` and `train` end in a MarkupError traceback,
and a key named "[P1] bot" was listed as " bot"."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from triaged.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "triaged" / "examples" / "support.yaml"
runner = CliRunner()
NAME = "[P1] bot [/i]"


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_an_error_naming_a_bracketed_path_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "data[/b]"
    result = runner.invoke(app, ["eval", str(missing)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert str(missing) in _flat(result.output)


def test_train_names_a_bracketed_output_folder_as_written(tmp_path: Path) -> None:
    output = tmp_path / "[/b] models" / "[P1]"
    result = runner.invoke(app, ["train", str(EXAMPLE), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert f"-> {output} (model " in result.output  # one line: never wrapped
    assert (output / "model.json").exists()


def test_a_key_named_with_brackets_is_listed_as_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--database-url", url]).exit_code == 0
    assert (
        runner.invoke(app, ["workspaces", "create", "acme", "--database-url", url]).exit_code == 0
    )
    made = runner.invoke(
        app,
        ["keys", "create", "--workspace", "acme", "--name", NAME, "--json", "--database-url", url],
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["name"] == NAME
    # one workspace's keys, and every workspace's (a column more): at the test's 80 columns
    # the name's cell wraps, each piece as written (the second listing cut it to "[P…")
    for scope in (["--workspace", "acme"], []):
        listed = runner.invoke(app, ["keys", "list", *scope, "--database-url", url])
        assert listed.exit_code == 0, listed.output
        cells = "".join(
            line.split("│")[-4].strip() for line in listed.output.splitlines() if "│" in line
        )
        assert cells.replace(" ", "") == NAME.replace(" ", ""), listed.output
