"""What the counters written with each classify request cost, in-process.

    python -m bench.bench_counters [--calls 1800] [--rounds 12] [--json]

``Service.classify`` of one text, on a fresh PostgreSQL database (the local server) and a
SQLite file, alternating two variants round by round so load changes on a shared machine
hit both alike: the service as shipped (quota count, the usage ledger of unlogged rows and
the Prometheus decision tallies: one statement on PostgreSQL) and the quota counter alone
(what the service wrote before the tallies).  Prints the median milliseconds per call of
each and their difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

from tests.servicekit import TINY_TAXONOMY, make_settings, pg_database

from triaged.service import ClassifyItem, Service
from triaged.storage import quota_repo, upgrade

SHIPPED = quota_repo.count_requests


def _counter_only(conn: Any, workspace_id: str, **kw: Any) -> Any:
    names = ("period", "n", "minute", "monthly", "per_minute")
    params = {"ws": workspace_id, **{k: kw[k] for k in names}}
    return conn.execute(quota_repo._CONSUME, params).first()


def measure(url: str, calls: int, rounds: int) -> dict[str, float]:
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    try:
        client = svc.create_key("acme", "client", create_plan="unlimited").key or ""
        admin = svc.create_key("acme", "admin").key or ""
        svc.create_taxonomy(svc.authenticate(admin), TINY_TAXONOMY)
        svc.wait_for_jobs(120)
        svc.jobs.wait(120)
        principal = svc.authenticate(client)
        per_round = max(1, calls // rounds)
        times: dict[str, list[float]] = {"shipped": [], "counter_only": []}
        for r in range(rounds):
            for variant in times if r % 2 == 0 else reversed(list(times)):
                quota_repo.count_requests = SHIPPED if variant == "shipped" else _counter_only
                t0 = time.perf_counter()
                for i in range(per_round):
                    svc.classify(principal, "support", [ClassifyItem(f"charged twice {r} {i}")])
                times[variant].append((time.perf_counter() - t0) / per_round * 1000.0)
    finally:
        quota_repo.count_requests = SHIPPED
        svc.close()
    out = {k: round(statistics.median(v), 3) for k, v in times.items()}
    out["difference_ms"] = round(out["shipped"] - out["counter_only"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1800)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with pg_database() as url:
        results["postgresql"] = measure(url, args.calls, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/bench.db", args.calls, args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for backend, r in results.items():
        print(
            f"{backend}: shipped {r['shipped']} ms, counter only {r['counter_only']} ms per "
            f"classify call (+{r['difference_ms']} ms)"
        )


if __name__ == "__main__":
    main()
