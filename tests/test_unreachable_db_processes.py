"""Real processes started against a PostgreSQL they cannot use: one clear line naming the
database (password masked) and why, a non-zero exit, never a hang.

* the documented factory start, ``uvicorn triaged.api:create_app --factory``, printed
  uvicorn's traceback ending in psycopg's message alone (no database named); its last
  traceback line now names the database and the cause;
* a host that accepts the connection and never answers (a stuck server, a proxy without a
  backend) kept every command waiting for ever: libpq has no connect timeout unless given
  one, and triaged now gives 10 s;
* ``triaged serve`` (``--workers 2`` too) and ``triaged worker``: one line, exit 2, for a
  refused connection and for a database that does not exist.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

from tests.servicekit import PG_URL, free_port

PASSWORD = "s3cr3t-pw"
DOWN_PG = f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/x"  # nothing listens on port 1
SHOWN_PG = "postgresql+psycopg://u:***@127.0.0.1:1/x"


def _run(args: list[str], url: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGED_")}
    env.update(TRIAGED_DATABASE_URL=url, TRIAGED_LOG_LEVEL="warning")
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error (database_unavailable): cannot connect to the database")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert PASSWORD not in r.stdout + r.stderr
    return lines[0]


def test_the_factory_start_names_the_database_and_the_cause() -> None:
    port = str(free_port())
    r = _run(["-m", "uvicorn", "triaged.api:create_app", "--factory", "--port", port], DOWN_PG)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert PASSWORD not in out
    lines = [line for line in out.splitlines() if line.strip()]
    # uvicorn's traceback of the start-up error, then its own "Application startup failed"
    last = lines[lines.index(next(x for x in lines if "Application startup failed" in x)) - 1]
    assert f"cannot connect to the database at {SHOWN_PG}: " in last, out[-3000:]
    assert "Connection refused" in last, last


@contextmanager
def _silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_a_database_that_never_answers_is_one_line_not_a_hang() -> None:
    with _silent_server() as port:
        url = f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:{port}/x"
        try:
            r = _run(["-m", "triaged.cli", "db", "current"], url, timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("`triaged db current` still waited for the database after 90 s")
    _one_line(r, f"127.0.0.1:{port}/x", "timeout")


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--host", "127.0.0.1", "--port", "PORT"],
        ["serve", "--host", "127.0.0.1", "--port", "PORT", "--workers", "2"],
        ["worker"],
    ],
    ids=["serve", "serve-workers", "worker"],
)
def test_serve_and_worker_say_one_line_for_a_database_they_cannot_use(args: list[str]) -> None:
    args = [str(free_port()) if a == "PORT" else a for a in args]
    r = _run(["-m", "triaged.cli", *args], DOWN_PG)
    _one_line(r, SHOWN_PG, "Connection refused")
    missing = make_url(PG_URL).set(database=f"triaged_missing_{uuid.uuid4().hex[:8]}")
    r = _run(["-m", "triaged.cli", *args], missing.render_as_string(hide_password=False))
    _one_line(r, str(missing.database), "does not exist")
