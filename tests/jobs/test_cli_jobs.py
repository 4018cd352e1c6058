"""`triaged jobs submit|status|results|cancel` against a real uvicorn server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.servicekit import TINY_TAXONOMY, live_server, make_stack
from triaged.cli import app


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
            missing = tmp_path / "missing.jsonl"
            r = runner.invoke(app, ["jobs", "results", "job_missing", "-o", str(missing), *common])
            assert r.exit_code == 2 and "not_found" in r.output
            assert not missing.exists() and not list(tmp_path.glob(".*partial"))
            # an -o that cannot be written: one line and exit 2 (a traceback until 5 Dec)
            for bad, why in ((tmp_path, "is a folder"), (tmp_path / "no" / "r.jsonl", "cannot")):
                r = runner.invoke(app, ["jobs", "results", job["id"], "-o", str(bad), *common])
                assert r.exit_code == 2 and "invalid_output" in r.output and why in r.output
                assert r.exception is None or isinstance(r.exception, SystemExit)
            assert not (tmp_path / "no").exists()
            r = runner.invoke(app, ["jobs", "status", job["id"], *common])
            assert r.exit_code == 0 and '"done"' in r.stdout
            r = runner.invoke(app, ["jobs", "cancel", job["id"], *common])
            assert r.exit_code == 2 and "conflict" in r.output  # a finished job stays done
            r = runner.invoke(app, ["jobs", "status", "job_missing", *common])
            assert r.exit_code == 2 and "not_found" in r.output
    finally:
        svc.close()
