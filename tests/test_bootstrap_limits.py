"""First start under operator limits smaller than the example taxonomy (6 labels, 48
examples): the server starts, and the admin key it created is printed.

It exited with the 413 of the example taxonomy after committing the workspace and its admin
key, and the next start, finding a workspace, printed no key at all."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.servicekit import free_port, serve_subprocess


@pytest.mark.parametrize(
    "limit",
    [{"TRIAGED_MAX_LABELS_PER_TAXONOMY": "3"}, {"TRIAGED_MAX_EXAMPLES_PER_TAXONOMY": "10"}],
)
def test_first_start_below_the_example_size_prints_a_working_key(
    tmp_path: Path, limit: dict[str, str]
) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    url = f"sqlite:///{tmp_path / 'first.db'}"
    env = {"TRIAGED_BOOTSTRAP_ADMIN": "true", "TRIAGED_DATA_DIR": str(tmp_path), **limit}
    with serve_subprocess(url, port, log, env):
        out = log.read_text()
        assert "no example taxonomy (a taxonomy has at most" in out, out
        key = re.search(r"^\s+(tri_[A-Za-z0-9_-]+)$", out, re.M)
        assert key is not None, out
        auth = {"Authorization": f"Bearer {key.group(1)}"}
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/v1/usage", headers=auth, timeout=60).status_code == 200
        assert httpx.get(f"{base}/v1/taxonomies", headers=auth, timeout=60).json()["data"] == []
