"""``triaged insights`` refuses bad options as bad options (exit 2, one message, no
traceback), before any database is opened or any report computed: a ``--since/--until``
with no UTC equivalent, an ``--output`` that names a folder or sits in a missing one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from triaged.cli import app

runner = CliRunner()


def _refused(args: list[str], tmp_path: Path, says: str) -> None:
    url = f"sqlite:///{tmp_path / 'triaged.db'}"
    res = runner.invoke(app, ["insights", "support", *args, "--database-url", url])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert says in " ".join(res.output.replace("│", " ").split()), res.output  # rich's box
    assert not (tmp_path / "triaged.db").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--since", "0001-01-01T00:00:00+01:00"), ("--until", "9999-12-31T23:59:59-01:00")],
)
def test_a_window_end_outside_utc_is_a_bad_option(option: str, value: str, tmp_path: Path) -> None:
    _refused([option, value], tmp_path, "out of range in UTC")


@pytest.mark.parametrize("where", ["folder", "missing/report.md"])
def test_an_output_that_cannot_be_a_file_is_a_bad_option(where: str, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    _refused(["-f", "markdown", "-o", str(tmp_path / where)], tmp_path, "not a file in an")
