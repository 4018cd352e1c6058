"""``triaged insights --since/--until`` refuse a time with no UTC equivalent as a bad
option (exit 2, one message), not a traceback, before any database is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from triaged.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--since", "0001-01-01T00:00:00+01:00"), ("--until", "9999-12-31T23:59:59-01:00")],
)
def test_a_window_end_outside_utc_is_a_bad_option(option: str, value: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triaged.db'}"
    res = runner.invoke(app, ["insights", "support", option, value, "--database-url", url])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "out of range in UTC" in res.output
    assert not (tmp_path / "triaged.db").exists()
