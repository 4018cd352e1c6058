"""A throwaway PostgreSQL server of a test's own (``initdb`` in a temporary folder, ``pg_ctl``
on a free loopback port), for tests that stop the server under a running process: the
shared server at ``TRIAGED_TEST_PG_URL`` must stay up for the other tests.

The binaries come from ``TRIAGED_TEST_PG_BIN``, else ``pg_config --bindir``, else the newest
``/usr/lib/postgresql/*/bin``.  PostgreSQL refuses to run as root: as root the server runs
as the ``postgres`` user (``runuser``).  Without the binaries the test is skipped (it fails
when ``CI`` is set, as :func:`tests.servicekit.pg_database` does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servicekit import free_port

__all__ = ["PrivatePostgres", "private_postgres"]


def _bindir() -> Path | None:
    given = os.environ.get("TRIAGED_TEST_PG_BIN")
    if given:
        return Path(given)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        found = Path(out.stdout.strip())
        if (found / "initdb").exists():
            return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent)
    return versions[-1].parent if versions else None


@dataclass
class PrivatePostgres:
    """A running server: ``url`` (database ``postgres``, trust auth) and :meth:`stop`."""

    bindir: Path
    folder: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        cmd = [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data")]
        subprocess.run([*cmd, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop at once (``immediate``): clients see their connections dropped and new ones
        refused, as when the database host goes away."""
        self._ctl("-m", "immediate", "-w", "stop")

    def running(self) -> bool:
        return (self.folder / "data" / "postmaster.pid").exists()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh server, stopped and deleted on exit."""
    bindir = _bindir()
    if bindir is None or not (bindir / "initdb").exists():
        msg = "no PostgreSQL binaries (initdb, pg_ctl): set TRIAGED_TEST_PG_BIN"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(msg)
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="triaged-pg-"))
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, user="postgres")
    try:
        initdb = [*as_user, str(bindir / "initdb"), "-D", str(folder / "data"), "-A", "trust"]
        subprocess.run(
            [*initdb, "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        server = PrivatePostgres(bindir, folder, free_port(), as_user)
        server.start()
        try:
            yield server
        finally:
            if server.running():
                server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
