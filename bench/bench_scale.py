"""API processes against one PostgreSQL: requests per second with 1 and with N uvicorn workers.

    python -m bench.bench_scale [--workers 1,2] [--baseline] [--concurrency 4,64]
                                [--connections 32] [--seconds 10] [--rounds 2]

One database (a fresh one on the PostgreSQL server), the bundled example taxonomy trained,
an ``unlimited`` key; then ``uvicorn triaged.api:create_app --factory --workers N`` (as
``triaged serve --workers N`` runs it, micro-batching on as by default) for each N, the
configurations alternating round by round so load changes hit each alike.  The load comes
from ``wrk`` (a C load generator: the Python client of ``bench_http`` is itself GIL-bound
near 250 requests a second) posting ``/v1/classify`` with Banking77 test texts over
``--connections`` keep-alive connections.  Each request is a full decision (auth, quota,
classify, decision committed).  Prints JSON: per N, requests per second, p50 and p99
latency, non-2xx responses; and the ratio of the best N to one process (and, with
``--baseline``, to one process as the service ran before issue 11: micro-batching off and
4 classify threads per CPU core).  ``--concurrency 4,64`` adds one-process runs with that
many classify threads (``TRIAGED_CLASSIFY_CONCURRENCY``; the default is 4).
Needs ``wrk`` (Debian package ``wrk``) and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench._common import write_results
from bench.bench_http import PG_URL, _database, _server, _texts
from triaged.examples import example_taxonomy
from triaged.service import Service
from triaged.settings import Settings
from triaged.storage import upgrade

LUA = """
local bodies = {BODIES}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/classify", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer KEY",
  }, bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _script(tmp: Path, key: str, taxonomy: str, texts: list[str]) -> Path:
    bodies = ", ".join(
        "[==[" + json.dumps({"taxonomy": taxonomy, "text": t}) + "]==]" for t in texts
    )
    path = tmp / "classify.lua"
    path.write_text(LUA.replace("{BODIES}", "{" + bodies + "}").replace("KEY", key))
    return path


def _wrk(base: str, script: Path, connections: int, seconds: float) -> dict[str, float]:
    threads = max(1, min(2, connections))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s"]
    cmd += ["-s", str(script), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if m is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    requests, duration_us, errors, p50_us, p99_us = (int(g) for g in m.groups())
    return {
        "requests": requests,
        "rps": round(requests / (duration_us / 1e6), 1),
        "p50_ms": round(p50_us / 1000, 2),
        "p99_ms": round(p99_us / 1000, 2),
        "errors": errors,
    }


def _children(pid: int) -> int:
    """How many worker processes uvicorn (``pid``) runs, read from /proc."""
    count = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        # multiprocessing's resource tracker is a child too, but serves no requests
        count += ppid == pid and b"spawn_main" in cmdline
    return count


def _configs(args: argparse.Namespace) -> list[tuple[str, int, dict[str, str]]]:
    """(label, uvicorn workers, environment) per configuration, the baseline first."""
    configs: list[tuple[str, int, dict[str, str]]] = [(str(n), n, {}) for n in args.workers]
    for c in args.concurrency:
        configs.append((f"1-threads-{c}", 1, {"TRIAGED_CLASSIFY_CONCURRENCY": str(c)}))
    if args.baseline:  # before issue 11: no micro-batching, 4 classify threads per core
        before = {"TRIAGED_MICROBATCH": "false", "TRIAGED_CLASSIFY_CONCURRENCY": str(4 * _cpus())}
        configs.insert(0, ("1-before", 1, before))
    return configs


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run(args: argparse.Namespace) -> dict[str, Any]:
    configs = _configs(args)
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in configs}
    with _database("postgres", args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        service = Service(Settings(database_url=url, bootstrap_admin=False, migrate_on_start=False))
        try:
            key = service.create_key("bench", "admin", create_plan="unlimited").key
            assert key is not None
            tax = example_taxonomy()
            service.create_taxonomy(service.authenticate(key), tax.to_dict())
        finally:
            service.close()
        script = _script(Path(tmp), key, tax.name, _texts(200))
        for _ in range(args.rounds):
            for label, n, env in configs:
                with _server(url, ["--workers", str(n)], env) as (base, pid):
                    _wrk(base, script, max(n, 4), 4)  # warm-up: every process loads the model
                    if n > 1 and (found := _children(pid)) != n:
                        raise SystemExit(f"asked uvicorn for {n} workers, found {found}")
                    results[label].append(_wrk(base, script, args.connections, args.seconds))
    best = {label: max(r["rps"] for r in rs) for label, rs in results.items()}
    out: dict[str, Any] = {
        "connections": args.connections,
        "seconds": args.seconds,
        "cpu_count": os.cpu_count(),
        "runs": results,
        "best_rps": best,
    }
    for ref in ("1", "1-before"):
        if ref in best:
            out[f"ratio_to_{ref.replace('-', '_')}"] = {
                label: round(v / best[ref], 2) for label, v in best.items()
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to compare")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also one process as before issue 11 (no micro-batching, 4 threads per core)",
    )
    parser.add_argument(
        "--concurrency", default="", help="also one process with these classify thread counts"
    )
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    if shutil.which("wrk") is None:
        raise SystemExit("bench_scale needs wrk (apt-get install wrk)")
    out = run(args)
    print(json.dumps(out, indent=1))
    write_results("bench_scale", out)


if __name__ == "__main__":
    main()
