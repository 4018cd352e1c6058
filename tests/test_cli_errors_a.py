"""CLI errors are one line on stderr and a non-zero exit, never a traceback or an abort.

`jobs` against no key / no server / no JSON, `serve` on a taken or impossible port, an
unreachable PostgreSQL, bad `drift check` options, operator commands that must not create
a database, `db upgrade` on a bogus revision or a data folder that is a file, and settings
that do not parse.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from triaged.cli import app
from triaged.drift import DriftConfig
from triaged.errors import InvalidInput
from triaged.settings import Settings

runner = CliRunner()
PASSWORD = "s3cr3t-pw"
DOWN_PG = f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/x"  # nothing listens on port 1
SHOWN_PG = "postgresql+psycopg://u:***@127.0.0.1:1/x"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TRIAGED_* setting from the caller's shell; run in an empty folder."""
    for name in list(os.environ):
        if name.startswith("TRIAGED_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _one_error(r: Result, *needles: str) -> str:
    """The command failed with exit code 2 and exactly one stderr line holding ``needles``."""
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error ("), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in r.output
    return lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGED_")}
    return {**env, "TRIAGED_LOG_LEVEL": "warning", **extra}


# 1. triaged jobs ...


def test_jobs_without_a_key_says_so() -> None:
    r = runner.invoke(app, ["jobs", "status", "job_x", "--url", "http://127.0.0.1:8766"])
    _one_error(r, "no API key: pass --key or set TRIAGED_API_KEY")


def test_jobs_unreachable_server_and_bad_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    for command in (["status", "job_x"], ["cancel", "job_x"], ["results", "job_x"]):
        r = runner.invoke(app, ["jobs", *command, "--url", url, "--key", "tri_x"])
        # the SDK's code for the same failure (triaged.errors.ConnectFailed)
        _one_error(r, "(connect_failed)", "cannot reach the server at", url)
    r = runner.invoke(app, ["jobs", "status", "job_x", "--url", "notaurl", "--key", "tri_x"])
    _one_error(r, "notaurl", "http://")


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 502 if "bad" in self.path else 200
        body = b"<html><body>Bad Gateway</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _html_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_jobs_non_json_answers_are_one_line(tmp_path: Path) -> None:
    with _html_server() as url:
        r = runner.invoke(app, ["jobs", "status", "job_bad", "--url", url, "--key", "tri_x"])
        _one_error(r, "answered 502", url)
        r = runner.invoke(app, ["jobs", "status", "job_ok", "--url", url, "--key", "tri_x"])
        _one_error(r, "did not answer JSON", url)
        out = tmp_path / "res.jsonl"
        r = runner.invoke(
            app, ["jobs", "results", "job_bad", "--url", url, "--key", "tri_x", "-o", str(out)]
        )
        _one_error(r, "answered 502")
        assert not out.exists() and not list(tmp_path.glob(".*partial"))


# 2. and 3. triaged serve


def _serve(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "triaged.cli", "serve", *args],
        cwd=cwd,
        env=_env(cwd, **env),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_serve_on_a_taken_port_exits_cleanly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = _serve(tmp_path, "--port", str(port))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "terminate called" not in p.stderr
    assert p.stderr.strip().splitlines() == [
        f"error (invalid_input): cannot listen on 127.0.0.1:{port}: Address already in use "
        "(--host/--port or TRIAGED_HOST/TRIAGED_PORT)"
    ]
    assert not (tmp_path / "data").exists()  # refused before the database was made


def test_serve_failing_after_start_does_not_abort(tmp_path: Path) -> None:
    """uvicorn's own bind failure (the port taken between the check and the bind) ends the
    process with uvicorn's start-up failure code, not SIGABRT from the encoder warm-up
    thread still inside onnxruntime at exit (exit code 134)."""
    script = tmp_path / "race.py"
    script.write_text(
        "import socket, sys\n"
        "import triaged.cli_service as cs\n"
        "cs._check_listen = lambda host, port: None\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "sys.argv = ['triaged', 'serve', '--port', str(s.getsockname()[1])]\n"
        "from triaged.cli import main\n"
        "main()\n"
    )
    p = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(tmp_path, TRIAGED_BOOTSTRAP_ADMIN="false"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode not in (0, 134, -6), (p.returncode, p.stderr)
    assert "terminate called" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert "address already in use" in p.stderr


def test_warm_up_thread_is_waited_for() -> None:
    from triaged.services.microbatch import MicroBatcher

    release = threading.Event()

    class Slow:
        name, dim = "slow", 3

        def warm_up(self) -> None:
            release.wait(5)

    MicroBatcher(Slow())  # type: ignore[arg-type]
    try:
        warm = [t for t in threading.enumerate() if t.name == "triaged-encoder-warm-up"]
        assert warm and not any(t.daemon for t in warm)
    finally:
        release.set()


def test_serve_refuses_ports_outside_1_to_65535(tmp_path: Path) -> None:
    # subprocesses: before the fix, 99999 and 0 served (on 34463, on a random port) for ever
    procs = {
        port: subprocess.Popen(
            [sys.executable, "-m", "triaged.cli", "serve", "--port", port],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ("99999", "0", "-1")
    }
    try:
        for port, proc in procs.items():
            _out, errors = proc.communicate(timeout=60)
            assert proc.returncode == 2 and "--port" in errors, (port, errors)
            assert "65535" in errors or "greater than or equal to 1" in errors
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
    assert not (tmp_path / "data").exists()
    with pytest.raises(ValidationError):
        Settings(port=99999)
    with pytest.raises(ValidationError):
        Settings(port=0)
    assert Settings(port=65535).port == 65535


def test_serve_refuses_fewer_than_one_worker(tmp_path: Path) -> None:
    # `--workers 0` and `--workers -3` served one process for ever, as if the flag were right
    args = ["serve", "--port", str(_free_port()), "--workers", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "triaged.cli", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _out, errors = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2 and "--workers" in errors, errors
    assert "Traceback" not in errors and not (tmp_path / "data").exists()


def test_serve_with_the_postgres_queue_on_sqlite_is_one_line() -> None:
    r = runner.invoke(
        app, ["serve", "--port", str(_free_port())], env={"TRIAGED_JOB_QUEUE": "postgres"}
    )
    _one_error(r, "TRIAGED_JOB_QUEUE=postgres needs a PostgreSQL database")
    assert not Path("data").exists()


# 4. an unreachable PostgreSQL


@pytest.mark.parametrize(
    "command",
    [
        ["workspaces", "list"],
        ["keys", "list", "--workspace", "w"],
        ["db", "upgrade"],
        ["db", "current"],
        ["worker"],
        ["drift", "check"],
        ["serve", "--port", "0"],  # replaced by a free port below
    ],
)
def test_unreachable_postgres_is_one_line_without_the_password(command: list[str]) -> None:
    command = [str(_free_port()) if c == "0" else c for c in command]
    r = runner.invoke(app, [*command, "--database-url", DOWN_PG])
    line = _one_error(r, f"cannot connect to the database at {SHOWN_PG}: ", "port 1")
    assert PASSWORD not in r.output and PASSWORD not in line


# 5. triaged drift check options


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--alpha", "5"], "alpha must be between 0 and 1"),
        (["--alpha", "0"], "alpha must be between 0 and 1"),
        (["--recent-hours", "0"], "--recent-hours must be above 0"),
        (["--baseline-hours", "-3"], "--baseline-hours must be above 0"),
        (["--recent-hours", "1e12"], "--recent-hours must be above 0"),
        (["--min-change", "2"], "--min-change"),
    ],
)
def test_drift_check_bad_options_are_one_line(options: list[str], needle: str) -> None:
    r = runner.invoke(app, ["drift", "check", *options])
    _one_error(r, needle)  # before the (missing) database is looked at


def test_drift_check_min_volume_below_one_is_refused() -> None:
    for volume in ("0", "-1"):
        r = runner.invoke(app, ["drift", "check", "--min-volume", volume])
        assert r.exit_code == 2 and "--min-volume" in r.output, r.output
        assert not isinstance(r.exception, ZeroDivisionError)
    with pytest.raises(InvalidInput, match="min_volume"):
        DriftConfig(min_volume=0)


# 6. operator commands never create a database


def test_db_current_does_not_create_a_database(tmp_path: Path) -> None:
    r = runner.invoke(app, ["db", "current"])
    _one_error(r, "no triaged database at", "triaged db upgrade")
    assert not (tmp_path / "data").exists()
    # an existing file without the schema is reported, not refused
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    r = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["db", "current", "--database-url", url])
    assert r.exit_code == 0 and "current 00" in r.stdout, r.output


def test_worker_on_sqlite_says_it_needs_postgres_before_touching_anything(
    tmp_path: Path,
) -> None:
    r = runner.invoke(app, ["worker"])
    _one_error(r, "`triaged worker`", "needs a PostgreSQL database", "TRIAGED_DATABASE_URL")
    assert "TRIAGED_JOB_QUEUE=postgres needs" not in r.output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("n", ["0", "-1"])
def test_worker_refuses_a_concurrency_below_one(tmp_path: Path, n: str) -> None:
    # TRIAGED_WORKER_CONCURRENCY=0 was refused, but --concurrency 0 ran a worker and -1
    # crashed it with tracebacks; refused before any database is touched
    r = runner.invoke(app, ["worker", "--concurrency", n, "--database-url", DOWN_PG])
    assert r.exit_code == 2 and "--concurrency" in r.output, r.output
    assert "database_unavailable" not in r.output and not (tmp_path / "data").exists()


# 7. triaged db upgrade


def test_db_upgrade_bogus_revision_and_file_as_data_dir(tmp_path: Path) -> None:
    r = runner.invoke(app, ["db", "upgrade", "--revision", "bogus", "--data-dir", "d"])
    _one_error(r, "'bogus'")
    assert not (tmp_path / "d").exists()
    (tmp_path / "afile").write_text("x")
    r = runner.invoke(app, ["db", "upgrade", "--data-dir", "afile"])
    _one_error(r, "afile", "not a folder")


# 8. settings that do not parse or validate


def test_unparsable_json_setting_is_one_line() -> None:
    r = runner.invoke(app, ["workspaces", "list"], env={"TRIAGED_PLANS": "notjson"})
    _one_error(r, "TRIAGED_PLANS", "not valid JSON")


def test_invalid_settings_are_one_line_each() -> None:
    r = runner.invoke(
        app,
        ["workspaces", "list"],
        env={"TRIAGED_MAX_BATCH": "0", "TRIAGED_MICROBATCH_WINDOW_MS": "9"},
    )
    assert r.exit_code == 2, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, r.stderr
    assert any(line.startswith("error (invalid_settings): TRIAGED_MAX_BATCH:") for line in lines)
    assert any("TRIAGED_MICROBATCH_WINDOW_MS" in line for line in lines)
    assert "errors.pydantic.dev" not in r.stderr


def test_secret_settings_are_not_echoed() -> None:
    r = runner.invoke(
        app, ["workspaces", "list"], env={"TRIAGED_ENV": "production", "TRIAGED_KEY_PEPPER": "abc"}
    )
    line = _one_error(r, "unsafe settings for production")
    assert "'abc'" not in line


def test_invites_refuse_a_lifetime_the_api_refuses_and_warn_when_signup_is_off(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    data = str(tmp_path / "d")
    assert runner.invoke(app, ["db", "upgrade", "--data-dir", data]).exit_code == 0
    made = runner.invoke(app, ["workspaces", "create", "acme", "--data-dir", data])
    assert made.exit_code == 0, made.output
    bad = runner.invoke(
        app, ["invites", "create", "--workspace", "acme", "--hours", "-1", "--data-dir", data]
    )
    assert bad.exit_code == 2 and "--hours" in bad.output
    ok = runner.invoke(
        app, ["invites", "create", "--workspace", "acme", "--hours", "2", "--data-dir", data]
    )
    assert ok.exit_code == 0, ok.output
    assert "sign-up is off" in ok.output and "/ui/signup?invite=" in ok.output


def test_serve_honours_migrate_on_start_false(tmp_path: Path) -> None:
    """TRIAGED_MIGRATE_ON_START=false is not overridden by the --migrate flag's default (every
    API host of docs/deploy.md migrated at start): the database is left as it was."""
    import time

    from sqlalchemy import create_engine, inspect

    from tests.servicekit import free_port

    port = free_port()
    env = _env(tmp_path, TRIAGED_MIGRATE_ON_START="false", TRIAGED_BOOTSTRAP_ADMIN="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "triaged.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    db = tmp_path / "data" / "triaged.db"
    tables = inspect(create_engine(f"sqlite:///{db}")).get_table_names() if db.exists() else []
    assert "alembic_version" not in tables and "decisions" not in tables, tables
