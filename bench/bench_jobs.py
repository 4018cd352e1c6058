"""Bulk job through real processes on PostgreSQL, with a worker SIGKILLed half way.

One `triaged serve` (TRIAGED_JOB_QUEUE=postgres) and one `triaged worker` on a
throwaway PostgreSQL database; a taxonomy of the Banking77 labels (``--per-label``
training examples each) is trained by the worker; then a bulk job of ``--rows``
texts (the Banking77 and CLINC150 test texts, cycled) is uploaded as JSONL
through the API.  At about half way the worker is SIGKILLed and a new one
started.  Checks: the job completes, results in input order, no duplicate
decision ids, usage counted exactly ``--rows``.  Figures: rows/s before the
kill, overall, the pause the kill cost, and the peak RSS of the workers.

    .venv/bin/python bench/bench_jobs.py --rows 20000

``--generated`` uploads generated texts instead; with ``--cancel-after S`` the job is
cancelled S seconds after the upload (no kill): the memory figure of a 1,000,000-row file
(peak RSS of the API process through the upload, of the worker while it runs):

    .venv/bin/python bench/bench_jobs.py --generated --rows 1000000 --cancel-after 60

``--propagation K``: two API processes A and B and a worker; K times a new model version
is made through A (one example added) while B is polled with classify calls; the figure
is the time from the model's activation (its ``finished_at``) to B's first answer by it,
and B's latency on that first answer.

    .venv/bin/python bench/bench_jobs.py --propagation 5
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servicekit import free_port, make_settings, pg_database, serve_subprocess  # noqa: E402

from bench._common import DATASETS, write_results  # noqa: E402
from triaged.service import Service  # noqa: E402
from triaged.storage import upgrade  # noqa: E402

ENV = {"TRIAGED_JOB_QUEUE": "postgres", "TRIAGED_JOB_STALLED_SECONDS": "3"}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _texts(rows: int, generated: bool) -> Any:
    if generated:
        for i in range(rows):
            yield f"generated ticket {i}: my card payment of {i % 997} euros was declined"
        return
    pool = [r["text"] for r in _jsonl(DATASETS / "banking77" / "test.jsonl")]
    pool += [r["text"] for r in _jsonl(DATASETS / "clinc150" / "test.jsonl")]
    for i in range(rows):
        yield pool[i % len(pool)]


def _taxonomy(per_label: int) -> dict[str, Any]:
    by: dict[str, list[str]] = {}
    for r in _jsonl(DATASETS / "banking77" / "train.jsonl"):
        if len(by.setdefault(r["label"], [])) < per_label:
            by[r["label"]].append(r["text"])
    labels = [{"name": k, "examples": v} for k, v in sorted(by.items())]
    return {"name": "banking", "labels": labels}


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRIAGED_LOG_LEVEL": "warning", **ENV}
    cmd = [sys.executable, "-m", "triaged.cli", "worker", "--database-url", url]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait(check: Any, timeout: float, sample: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sample is not None:
            sample()
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit("timed out")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--generated", action="store_true", help="generated texts, not datasets")
    ap.add_argument("--per-label", type=int, default=10)
    ap.add_argument("--kill-at", type=float, default=0.5)
    ap.add_argument("--cancel-after", type=float, default=0.0, help="cancel instead of killing")
    ap.add_argument("--propagation", type=int, default=0, help="measure version propagation")
    args = ap.parse_args()
    if args.propagation:
        propagation(args)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_jobs_"))
    upload = tmp / "texts.jsonl"
    with upload.open("w") as fh:
        for i, t in enumerate(_texts(args.rows, args.generated)):
            fh.write(json.dumps({"text": t, "external_id": f"r{i}"}) + "\n")
    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False))
        key = svc.create_key("bench", "admin", create_plan="unlimited").key
        svc.close()
        auth = {"Authorization": f"Bearer {key}"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        peak = {"rss_kb": 0}
        with serve_subprocess(url, port, tmp / "serve.log", env=ENV) as api:
            worker = _worker(url, tmp / "worker.log")

            def sample() -> None:
                peak["rss_kb"] = max(peak["rss_kb"], _rss_kb(worker.pid))

            r = httpx.post(f"{base}/v1/taxonomies", json=_taxonomy(args.per_label), headers=auth)
            r.raise_for_status()

            def ready() -> bool:
                got = httpx.get(f"{base}/v1/taxonomies/banking", headers=auth).json()
                return bool(got.get("ready"))

            _wait(ready, 900, sample)
            t0 = time.monotonic()
            with upload.open("rb") as fh:
                r = httpx.post(
                    f"{base}/v1/jobs?taxonomy=banking&format=jsonl",
                    content=fh,
                    headers=auth,
                    timeout=900,
                )
            r.raise_for_status()
            job_id = r.json()["id"]
            t_upload = time.monotonic() - t0

            def job() -> dict[str, Any]:
                out: dict[str, Any] = httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth).json()
                return out

            if args.cancel_after:
                _memory_run(args, base, auth, job_id, api.pid, worker, sample, peak, t_upload)
                return

            at_kill = _wait(
                lambda: (j := job())["done"] >= args.rows * args.kill_at and j, 3600, sample
            )
            t_kill = time.monotonic()
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            worker = _worker(url, tmp / "worker.log")
            _wait(
                lambda: (j := job())["done"] > at_kill["done"] or j["state"] != "running",
                600,
                sample,
            )
            t_resumed = time.monotonic()
            final = _wait(lambda: (j := job())["state"] in ("done", "failed") and j, 3600, sample)
            t_done = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            res = httpx.get(f"{base}/v1/jobs/{job_id}/results", headers=auth, timeout=900)
            rows = [json.loads(line) for line in res.text.splitlines()]
            usage = httpx.get(f"{base}/v1/usage", headers=auth).json()
        ids = [r["id"] for r in rows]
        checks = {
            "state": final["state"],
            "complete": len(rows) == args.rows,
            "in_order": [r["row"] for r in rows] == list(range(args.rows)),
            "no_duplicate_ids": len(set(ids)) == len(ids),
            "usage_exact": usage["used"] == args.rows,
        }
        figures = {
            "rows": args.rows,
            "source": "generated" if args.generated else "banking77+clinc150 test texts",
            "upload_s": round(t_upload, 2),
            "done_at_kill": at_kill["done"],
            "rate_before_kill_rows_s": round(
                at_kill["done"] / max(1e-9, t_kill - t0 - t_upload), 1
            ),
            "resume_pause_s": round(t_resumed - t_kill, 2),
            "total_s": round(t_done - t0, 2),
            "overall_rows_s": round(args.rows / (t_done - t0), 1),
            "peak_worker_rss_mb": round(peak["rss_kb"] / 1024, 1),
            "cpus": os.cpu_count(),
        }
    out = {"checks": checks, "figures": figures}
    print(json.dumps(out, indent=2))
    write_results("bench_jobs" + ("_generated" if args.generated else ""), out)
    if not all(v is True or v == "done" for v in checks.values()):
        raise SystemExit(f"check failed: {checks}")


def propagation(args: Any) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, select

    from triaged.storage.tables import models

    with pg_database() as url:
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False))
        key = svc.create_key("bench", "admin", create_plan="unlimited").key
        svc.close()
        auth = {"Authorization": f"Bearer {key}"}
        tmp = Path(tempfile.mkdtemp(prefix="bench_jobs_prop_"))
        pa, pb = free_port(), free_port()
        a, b = f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}"
        engine = create_engine(url)
        lags: list[float] = []
        first_ms: list[float] = []
        with (
            serve_subprocess(url, pa, tmp / "a.log", env=ENV),
            serve_subprocess(url, pb, tmp / "b.log", env=ENV),
        ):
            worker = _worker(url, tmp / "worker.log")
            httpx.post(f"{a}/v1/taxonomies", json=_taxonomy(args.per_label), headers=auth)
            tax = f"{a}/v1/taxonomies/banking"
            _wait(lambda: httpx.get(tax, headers=auth).json().get("ready"), 900)
            body = {"taxonomy": "banking", "text": "my card payment was declined"}
            with httpx.Client(base_url=b, headers=auth, timeout=30) as cb:
                for k in range(args.propagation):
                    old = cb.post("/v1/classify", json=body).json()["model_version"]
                    ex = [
                        {
                            "text": f"card declined at the shop, case {k}",
                            "label": "declined_card_payment",
                        }
                    ]
                    httpx.post(f"{tax}/examples", json=ex, headers=auth).raise_for_status()
                    while True:
                        t0 = time.perf_counter()
                        got = cb.post("/v1/classify", json=body).json()
                        took = (time.perf_counter() - t0) * 1000
                        if got["model_version"] != old:
                            seen = datetime.now(UTC)
                            break
                        time.sleep(0.01)
                    with engine.connect() as conn:
                        done = (
                            conn.execute(
                                select(models.c.finished_at)
                                .where(models.c.model_version == got["model_version"])
                                .order_by(models.c.finished_at.desc())
                            )
                            .scalars()
                            .first()
                        )
                    lags.append((seen - done).total_seconds())
                    first_ms.append(took)
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        engine.dispose()
    out = {
        "versions": args.propagation,
        "activation_to_B_s": [round(x, 3) for x in lags],
        "max_s": round(max(lags), 3),
        "B_first_answer_ms": [round(x, 1) for x in first_ms],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=2))
    write_results("bench_jobs_propagation", out)


def _memory_run(
    args: Any,
    base: str,
    auth: dict[str, str],
    job_id: str,
    api_pid: int,
    worker: Any,
    sample: Any,
    peak: dict[str, int],
    t_upload: float,
) -> None:
    """Run the job for ``--cancel-after`` seconds, cancel it; memory and exact counting."""
    deadline = time.monotonic() + args.cancel_after
    while time.monotonic() < deadline:
        sample()
        time.sleep(0.5)
    httpx.post(f"{base}/v1/jobs/{job_id}/cancel", headers=auth).raise_for_status()
    time.sleep(3)  # the chunk in flight is dropped, not written
    sample()
    final = httpx.get(f"{base}/v1/jobs/{job_id}", headers=auth).json()
    usage = httpx.get(f"{base}/v1/usage", headers=auth).json()
    res = httpx.get(f"{base}/v1/jobs/{job_id}/results", headers=auth, timeout=900)
    n_results = sum(1 for line in res.text.splitlines() if line.strip())
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    out = {
        "checks": {
            "state": final["state"],
            "usage_equals_done": usage["used"] == final["done"] == n_results,
        },
        "figures": {
            "rows": args.rows,
            "upload_s": round(t_upload, 2),
            "done_when_cancelled": final["done"],
            "rate_rows_s": final["rate"],
            "peak_api_rss_mb": round(_rss_kb(api_pid) / 1024, 1),
            "peak_worker_rss_mb": round(peak["rss_kb"] / 1024, 1),
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps(out, indent=2))
    write_results("bench_jobs_memory", out)
    if final["state"] != "cancelled" or not out["checks"]["usage_equals_done"]:
        raise SystemExit(f"check failed: {out['checks']}")


if __name__ == "__main__":
    main()
