"""The README's quick start, run as written against a real ``triaged serve``.

The blocks between ``<!-- quickstart:curl -->`` and ``<!-- /quickstart:curl -->`` are read from
README.md: the bash block (export the printed key, curl a classification) runs in bash and the
Python block (the SDK) in Python, each with only the placeholder key replaced by the key the
server printed on first start, and the port by the test server's.  The server is started as
``make serve`` starts it (``triaged serve --host --port``) on a fresh data folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servicekit import free_port

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- quickstart:curl -->", "<!-- /quickstart:curl -->"


def quickstart_blocks() -> dict[str, list[str]]:
    """The fenced code blocks of the README's quick start, by language."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in text and END in text, "README.md lost its quick-start markers"
    section = text.split(START, 1)[1].split(END, 1)[0]
    blocks: dict[str, list[str]] = {}
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S):
        blocks.setdefault(lang, []).append(body)
    return blocks


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, the admin key printed on first start) of a fresh ``triaged serve``."""
    data = tmp_path_factory.mktemp("quickstart")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGED_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "triaged.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=data,  # the default data folder, ./data, as `make serve` uses in the checkout
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        key = None
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while key is None:
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            found = re.search(r"\b(tri_[A-Za-z0-9_-]{20,})", proc.stdout.readline())
            key = found.group(1) if found else None
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        yield base, key
    finally:
        proc.terminate()
        proc.wait(30)


def _as_here(code: str, base: str, key: str) -> str:
    code = code.replace("http://127.0.0.1:8000", base)
    code = re.sub(r"export TRIAGED_KEY=tri_\.\.\.", f"export TRIAGED_KEY={key}", code)
    return code.replace('"tri_..."', json.dumps(key))


def test_the_curl_block_classifies(served: tuple[str, str]) -> None:
    base, key = served
    [bash] = quickstart_blocks()["bash"][-1:]  # the block after `make serve`/`make test`
    assert "export TRIAGED_KEY=tri_..." in bash and "curl" in bash
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _as_here(bash, base, key)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    answer = json.loads(res.stdout)
    assert answer["id"].startswith("dec_") and answer["label"] == "billing"
    assert answer["bucket"] in {"auto", "review"} and 0.5 < answer["confidence"] <= 1.0
    # what the README shows of the answer is what the server sends
    for field in ("alternatives", "policy_version", "routing_reason"):
        assert field in answer and f'"{field}"' in bash
    if answer["bucket"] == "review":
        assert answer["routing_reason"], "a sure answer sent to review says why"


def test_the_python_block_runs(served: tuple[str, str]) -> None:
    base, key = served
    [code] = quickstart_blocks()["python"][:1]
    assert "from triaged.client import Client" in code
    res = subprocess.run(
        [sys.executable, "-c", _as_here(code, base, key)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith(
        ("act billing", "act, then spot-check billing", "wait for a human dec_")
    )
    assert lines[1].split()[0] in {"True", "False"}  # policy.auto_lane_open, policy.reason


def test_the_make_targets_run_the_cli_from_the_venv() -> None:
    """`make serve` (the quick start's first line) installs into .venv and runs its triaged."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    serve = re.search(r"^serve:.*\n\t(.+)$", makefile, flags=re.M)
    assert serve is not None and "$(BIN)/triaged serve" in serve.group(1)
    assert "make serve" in quickstart_blocks_all()


def quickstart_blocks_all() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
