"""`triaged jobs submit|status|results|cancel` against a real uvicorn server."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.servicekit import (
    TINY_TAXONOMY,
    free_port,
    live_server,
    make_settings,
    make_stack,
    serve_subprocess,
)
from triaged.cli import app
from triaged.service import Service
from triaged.storage import upgrade


def test_submit_waits_then_results_and_status(tmp_path: Path) -> None:
    stack = make_stack("sqlite", f"sqlite:///{tmp_path / 'cli.db'}")
    tenant = stack.tenant()
    svc = stack.service
    svc.create_taxonomy(svc.authenticate(tenant.key), {**TINY_TAXONOMY, "name": "support"})
    src = tmp_path / "tickets.jsonl"
    texts = ["I was charged twice", "the app crashes on start", "change my email please"]
    src.write_text(
        "".join(json.dumps({"text": t, "external_id": f"e{i}"}) + "\n" for i, t in enumerate(texts))
    )
    runner = CliRunner()
    try:
        with live_server(stack.app) as server:
            common = ["--url", server.url, "--key", tenant.key]
            r = runner.invoke(app, ["jobs", "submit", str(src), "-t", "support", *common])
            assert r.exit_code == 0, r.output
            job = json.loads(r.stdout[r.stdout.index("{") :])
            assert job["state"] == "done" and job["done"] == 3
            r = runner.invoke(app, ["jobs", "results", job["id"], *common])
            assert r.exit_code == 0, r.output
            rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
            assert [x["external_id"] for x in rows] == ["e0", "e1", "e2"]
            assert rows[0]["label"] == "billing"
            out = tmp_path / "results.jsonl"
            r = runner.invoke(app, ["jobs", "results", job["id"], "-o", str(out), *common])
            assert r.exit_code == 0, r.output
            assert [json.loads(x) for x in out.read_text().splitlines()] == rows
            # -o results.csv writes CSV (it wrote JSON lines whatever the name); a suffix
            # that contradicts --format, or Parquet, is a bad option and writes nothing
            out_csv = tmp_path / "results.csv"
            r = runner.invoke(app, ["jobs", "results", job["id"], "-o", str(out_csv), *common])
            assert r.exit_code == 0, r.output
            assert out_csv.read_text().splitlines()[0].startswith("row,external_id,id,label")
            for bad in (["-o", str(tmp_path / "r.parquet")], ["-o", "r.csv", "--format", "jsonl"]):
                r = runner.invoke(app, ["jobs", "results", job["id"], *bad, *common])
                assert r.exit_code == 2 and "Invalid value" in r.output, r.output
            assert not (tmp_path / "r.parquet").exists() and not Path("r.csv").exists()
            missing = tmp_path / "missing.jsonl"
            r = runner.invoke(app, ["jobs", "results", "job_missing", "-o", str(missing), *common])
            assert r.exit_code == 2 and "not_found" in r.output
            assert not missing.exists() and not list(tmp_path.glob(".*partial"))
            # an -o that cannot be written: one line and exit 2 (a traceback until 5 Dec)
            # (under a file: a NotADirectoryError traceback from the partial file's cleanup)
            bad_outputs = (
                (tmp_path, "is a folder"),
                (tmp_path / "no" / "r.jsonl", "cannot"),
                (src / "r.jsonl", "Not a directory"),
            )
            for bad, why in bad_outputs:
                r = runner.invoke(app, ["jobs", "results", job["id"], "-o", str(bad), *common])
                assert r.exit_code == 2 and "invalid_output" in r.output and why in r.output
                assert r.exception is None or isinstance(r.exception, SystemExit)
            assert not (tmp_path / "no").exists()
            r = runner.invoke(app, ["jobs", "status", job["id"], *common])
            assert r.exit_code == 0 and '"done"' in r.stdout
            # the server's parameter names read as this command's options
            body_csv = tmp_path / "body.csv"
            body_csv.write_text("body\nrefund please\n")
            r = runner.invoke(app, ["jobs", "submit", str(body_csv), "-t", "support", *common])
            assert r.exit_code == 2 and "--text-field" in r.stderr, r.output
            assert re.search(r"(?<!-)text_field", r.stderr) is None, r.stderr
            r = runner.invoke(app, ["jobs", "cancel", job["id"], *common])
            assert r.exit_code == 2 and "conflict" in r.output  # a finished job stays done
            r = runner.invoke(app, ["jobs", "status", "job_missing", *common])
            assert r.exit_code == 2 and "not_found" in r.output
            # a job id is one path segment: "../taxonomies/support/archive?x=" archived
            # the taxonomy (POST /v1/taxonomies/support/archive) instead of naming no job
            evil = "../taxonomies/support/archive?x="
            r = runner.invoke(app, ["jobs", "cancel", evil, *common])
            assert r.exit_code == 2 and "not_found" in r.output, r.output
            info = httpx.get(
                f"{server.url}/v1/taxonomies/support",
                headers={"Authorization": f"Bearer {tenant.key}"},
                timeout=60,
            ).json()
            assert info["archived_at"] is None
    finally:
        svc.close()


@pytest.mark.slow
def test_submit_wait_follows_the_job_across_a_server_restart(tmp_path: Path) -> None:
    """`jobs submit --wait` names the job as soon as it is submitted and keeps following it
    while the server restarts (it failed at the first refused connection, job id unknown)."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
    svc.create_taxonomy(svc.authenticate(key), {**TINY_TAXONOMY, "name": "support"})
    svc.close()
    n = 3000
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"text": f"charged twice ({i})"}) + "\n" for i in range(n)))
    port = free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    cli = [sys.executable, "-m", "triaged.cli", "jobs", "submit", str(src), "-t", "support"]
    stderr = tmp_path / "cli.err"
    with serve_subprocess(url, port, log) as server, stderr.open("w") as err_fh:
        follower = subprocess.Popen(
            [*cli, "--url", base, "--key", key], stdout=subprocess.PIPE, stderr=err_fh, text=True
        )
        deadline = time.monotonic() + 60
        while not (found := re.search(r"job (job_\w+) submitted", stderr.read_text())):
            assert follower.poll() is None and time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.05)
        job_id = found.group(1)
        auth = {"Authorization": f"Bearer {key}"}
        while httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth, timeout=60).json()["done"] < 300:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    time.sleep(2)  # the follower meets a refused connection or two
    with serve_subprocess(url, port, log):
        stdout, _ = follower.communicate(timeout=180)
    assert follower.returncode == 0, stderr.read_text()
    job = json.loads(stdout[stdout.index("{") :])
    assert (job["id"], job["state"], job["done"]) == (job_id, "done", n)


def test_submit_refuses_a_folder_or_parquet_before_any_request(tmp_path: Path) -> None:
    """A folder was an IsADirectoryError traceback; a Parquet file reached the server and
    came back as 'the upload is not UTF-8 text'. Both are bad arguments (exit 2); no server
    is needed to say so (nothing listens on port 1)."""
    pq = tmp_path / "tickets.parquet"
    pq.write_bytes(b"PAR1\x00\x00PAR1")
    txt = tmp_path / "tickets.txt"  # the help said ".jsonl or .csv"; it was sent as JSONL
    txt.write_text('{"text": "hello"}\n')
    cases = (
        (tmp_path, "is a directory"),
        (pq, "`triaged batch` reads Parquet"),
        (txt, "bulk jobs take a .jsonl (or .ndjson) or .csv file"),
    )
    for target, why in cases:
        args = ["jobs", "submit", str(target), "-t", "support", "--no-wait"]
        r = CliRunner().invoke(app, [*args, "--url", "http://127.0.0.1:1", "--key", "tri_x"])
        assert r.exit_code == 2, r.output
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert why in " ".join(r.output.replace("│", " ").split())


class _FakeJobs:
    """The HTTP calls of `triaged jobs` answered from memory: a job in a given state."""

    def __init__(self, states: list[str], done: int = 1024, total: int = 8000) -> None:
        self.states = states
        self.done, self.total = done, total

    def job(self, job_id: str) -> dict[str, object]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"id": job_id, "state": state, "done": self.done, "total": self.total, "rate": 0}

    def job_results_lines(self, job_id: str, fmt: str) -> list[str]:
        return [json.dumps({"row": i, "label": "billing"}) for i in range(2)]


def _fake(monkeypatch: pytest.MonkeyPatch, jobs: _FakeJobs) -> None:
    import triaged.cli_jobs as cli_jobs

    monkeypatch.setattr(cli_jobs, "_client", lambda url, key: jobs)
    monkeypatch.setattr(cli_jobs.time, "sleep", lambda s: None)


@pytest.mark.parametrize("state", ["running", "queued", "failed", "cancelled"])
def test_results_of_a_job_not_done_are_refused_unless_partial(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, state: str
) -> None:
    """`jobs results` of a running job printed the rows so far, silently, exit 0."""
    _fake(monkeypatch, _FakeJobs([state]))
    runner = CliRunner()
    out = tmp_path / "r.jsonl"
    for where in ([], ["-o", str(out)]):
        r = runner.invoke(app, ["jobs", "results", "job_1", "--key", "tri_x", *where])
        assert r.exit_code == 2 and r.stdout == "", r.output
        assert f"error (job_not_done): job job_1 is {state} (1024 of 8000 rows done)" in r.stderr
        assert "--partial" in r.stderr and not out.exists()
        # a failed or cancelled job will not finish: no "--follow waits for it"
        ends = state in ("failed", "cancelled")
        assert ("will not finish" in r.stderr) is ends and ("--follow" in r.stderr) is not ends
        r = runner.invoke(app, ["jobs", "results", "job_1", "--key", "tri_x", "--partial", *where])
        assert r.exit_code == 0, r.output
        assert f"note: job job_1 is {state} (1024 of 8000 rows done)" in r.stderr
        rows = (out.read_text() if where else r.stdout).splitlines()
        assert [json.loads(x)["row"] for x in rows] == [0, 1]
    _fake(monkeypatch, _FakeJobs(["done"], done=8000))
    r = runner.invoke(app, ["jobs", "results", "job_1", "--key", "tri_x"])
    assert r.exit_code == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 2


@pytest.mark.parametrize(("state", "code"), [("done", 0), ("failed", 1), ("cancelled", 1)])
def test_status_follow_exits_1_for_a_failed_or_cancelled_job(
    monkeypatch: pytest.MonkeyPatch, state: str, code: int
) -> None:
    """As `jobs submit --wait`: a script must not read a failed job as done (it exited 0)."""
    _fake(monkeypatch, _FakeJobs(["running", state]))
    r = CliRunner().invoke(app, ["jobs", "status", "job_1", "--key", "tri_x", "--follow"])
    assert r.exit_code == code, r.output
    assert json.loads(r.stdout[r.stdout.index("{") :])["state"] == state
    _fake(monkeypatch, _FakeJobs([state]))  # without --follow: the state is the answer
    r = CliRunner().invoke(app, ["jobs", "status", "job_1", "--key", "tri_x"])
    assert r.exit_code == 0, r.output
