"""A table piped into a file or another program keeps every cell whole: rich laid out for 80
columns without a terminal, so ``triaged keys list | cat`` cut the key ids' neighbours into
pieces and ``triaged review versions | cat`` showed a status ``re…``.  Real subprocesses,
stdout a pipe."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.test_cli_version import triaged_cli
from triaged.cli_console import PIPE_WIDTH


def _triaged(*args: str, env: dict[str, str]) -> str:
    return triaged_cli(*args, env=env).stdout


def test_piped_tables_keep_their_cells_whole(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["TRIAGED_DATABASE_URL"] = f"sqlite:///{tmp_path / 'pipe.db'}"
    _triaged("db", "upgrade", env=env)
    for ws in ("a-rather-long-workspace-name", "another-long-workspace-name"):
        _triaged("workspaces", "create", ws, env=env)
        _triaged("keys", "create", "--workspace", ws, "--role", "reviewer", env=env)
    out = _triaged("keys", "list", env=env)
    lines = out.splitlines()
    assert any("a-rather-long-workspace-name" in line for line in lines), out
    assert any("reviewer" in line for line in lines), out
    # whole cells: each workspace name and creation time on one line (the prefix column
    # ends in its own "…": a key is never shown whole)
    assert any("another-long-workspace-name" in line for line in lines), out
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", out), out
    assert max(map(len, lines)) <= PIPE_WIDTH
    # COLUMNS given: the caller's width, as on a terminal
    narrow = _triaged("keys", "list", env={**env, "COLUMNS": "60"})
    assert max(map(len, narrow.splitlines())) <= 60
