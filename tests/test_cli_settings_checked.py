"""`triaged serve` checks every setting before it writes anything or prints the first
admin key: a bad log level, a bad ``TRIAGED_WEBHOOK_*`` value, an audit share outside 0-1
and a database schema behind this version (with migrations off) are one line on stderr,
exit code 2, and an untouched data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner, Result

from tests.servicekit import free_port
from triaged.cli import app
from triaged.settings import Settings
from triaged.storage import upgrade
from triaged.storage.migrate import current_revision, head_revision, schema_behind

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("TRIAGED_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _serve(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    args = ["serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"), *extra]
    return runner.invoke(app, args, env=env or {})


def _refused(r: Result, *needles: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output and "tri_" not in r.output  # no key printed
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error ("), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _tables(tmp_path: Path) -> list[str]:
    db = tmp_path / "data" / "triaged.db"
    return inspect(create_engine(f"sqlite:///{db}")).get_table_names() if db.exists() else []


def test_a_log_level_uvicorn_does_not_know_is_refused_before_setup(tmp_path: Path) -> None:
    _refused(_serve(tmp_path, env={"TRIAGED_LOG_LEVEL": "loud"}), "TRIAGED_LOG_LEVEL", "'loud'")
    assert _tables(tmp_path) == []
    assert Settings(log_level=" WARNING ").log_level == "warning"  # as uvicorn spells it


def test_a_bad_webhook_setting_is_refused_before_the_admin_key(tmp_path: Path) -> None:
    r = _serve(tmp_path, env={"TRIAGED_WEBHOOK_TIMEOUT_S": "-1"})
    _refused(r, "TRIAGED_WEBHOOK_TIMEOUT_S", "greater than 0")
    assert "workspaces" not in _tables(tmp_path)


@pytest.mark.parametrize("rates", ['{"support": 1.5}', '{"support": -0.1}', '{" ": 0.1}'])
def test_audit_shares_are_shares(tmp_path: Path, rates: str) -> None:
    _refused(_serve(tmp_path, env={"TRIAGED_REVIEW_AUDIT_RATES": rates}), "from 0 to 1")
    assert Settings(review_audit_rates={"support": 0.05}).review_audit_rates == {"support": 0.05}


def test_a_schema_behind_this_version_with_migrations_off_says_what_to_run(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'triaged.db'}"
    (tmp_path / "data").mkdir()
    upgrade(url, "0010_hold_from_evidence")
    assert schema_behind(url) == ("0010_hold_from_evidence", head_revision())
    _refused(_serve(tmp_path, "--no-migrate"), "0010_hold_from_evidence", "triaged db upgrade")
    assert current_revision(url) == "0010_hold_from_evidence"  # left as it was
    upgrade(url)
    assert schema_behind(url) is None
