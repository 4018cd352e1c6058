"""Re-measure the durability and isolation figures of the security probe (issue 9) against
real ``triaged serve`` processes on 127.0.0.1.

    python -m bench.bench_probe [--backends sqlite,postgres] [--kills 6] [--kill-after 2.0]
                                [--reviewers 10] [--items 200] [--workers 1,4]
                                [--pg-url URL] [--update-readme]

For each backend (a fresh SQLite file; a fresh database on the PostgreSQL server):

1. **SIGKILL losses.** ``--kills`` times: start ``triaged serve`` (one worker), let four
   client threads classify one text per request, SIGKILL the server after a random
   0.5-1.5 x ``--kill-after`` seconds.  Every ``200`` answer is an acknowledged decision;
   after the last kill a fresh server looks each one up (``GET /v1/decisions/{id}``).
2. **Quota exactness.** 300 concurrent ``POST /v1/classify`` with a client key of a
   ``free`` workspace (100 a month), once per ``--workers`` count: exactly 100 x 200 and
   200 x 429 expected, ``/v1/usage`` at 100 and 100 decisions stored.
3. **Claim exclusivity.** ``--items`` decisions queued for review (audit rate 1), then
   ``--reviewers`` reviewers, each with its own key, loop claim (5) -> resolve until the
   queue is empty: every item must be claimed once and resolved once (no 409).
4. **Cross-tenant attempts.** Workspace A's admin, reviewer and client keys call every
   ``/v1`` route that takes an id with workspace B's ids (the cases of
   ``tests/api/test_isolation.py``, over real HTTP): the number answered with 2xx (allowed)
   must be 0; anything but 404 or 403 (role) is listed.

Prints progress lines and a markdown table; ``--update-readme`` writes it between the
``bench:probe`` markers of README.md; the raw figures go to bench/results/probe.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.api.test_isolation import RESOURCES, B, _body, _get, _v1_routes
from tests.servicekit import TINY_TAXONOMY, Stack, Tenant, free_port, make_settings, unique

from bench._common import update_readme, write_results
from bench.bench_http import PG_URL, _database
from triaged.service import Service
from triaged.storage import upgrade

SERVER_ENV = {
    "TRIAGED_BOOTSTRAP_ADMIN": "false",
    "TRIAGED_MIGRATE_ON_START": "false",
    "TRIAGED_LOG_LEVEL": "warning",
    "TRIAGED_REVIEW_AUDIT_RATE": "1",  # every decision queued: the claim probe controls counts
    "TRIAGED_REVIEW_RETRAIN_AFTER": "0",
}
T0 = time.monotonic()


def say(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


@contextmanager
def serve(url: str, log: Path, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``triaged serve`` on a free loopback port until /healthz answers (as
    ``tests.servicekit.serve_subprocess``, plus ``--workers``); killed on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "triaged.cli", "serve", "--host", "127.0.0.1", "--port"]
    cmd += [str(port), "--database-url", url, "--workers", str(workers), "--no-migrate"]
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **SERVER_ENV},
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: SIGKILL reaches every worker
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit("triaged serve exited:\n" + log.read_text()[-3000:])
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("triaged serve did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(20)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create_taxonomy(base: str, admin: str, name: str) -> None:
    r = httpx.post(
        f"{base}/v1/taxonomies",
        json={**TINY_TAXONOMY, "name": name},
        headers=_auth(admin),
        timeout=300,
    )
    if r.status_code != 201:
        raise SystemExit(f"taxonomy {name}: {r.status_code} {r.text}")


# 1. SIGKILL -----------------------------------------------------------------------------


def kill_probe(
    url: str, log: Path, svc: Service, kills: int, kill_after: float, rng: random.Random
) -> dict[str, Any]:
    admin = svc.create_key(unique("kill"), "admin", create_plan="unlimited").key
    assert admin is not None
    acked: list[str] = []
    errors_before_kill = 0
    lock = threading.Lock()
    for k in range(kills):
        with serve(url, log) as (base, proc):
            if k == 0:
                _create_taxonomy(base, admin, "support")
            killed = threading.Event()

            def client(n: int, base: str, killed: threading.Event) -> None:
                nonlocal errors_before_kill
                i = 0
                with httpx.Client(base_url=base, headers=_auth(admin), timeout=30) as c:
                    while True:
                        i += 1
                        body = {"taxonomy": "support", "text": f"I was charged twice ({n}.{i})"}
                        try:
                            r = c.post("/v1/classify", json=body)
                        except httpx.HTTPError:
                            if killed.is_set():
                                return
                            with lock:
                                errors_before_kill += 1
                            continue
                        if r.status_code == 200:
                            with lock:
                                acked.append(r.json()["id"])
                        elif not killed.is_set():
                            with lock:
                                errors_before_kill += 1

            before = len(acked)
            threads = [threading.Thread(target=client, args=(n, base, killed)) for n in range(4)]
            for t in threads:
                t.start()
            time.sleep(kill_after * rng.uniform(0.5, 1.5))
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)
            for t in threads:
                t.join(60)
        say(f"  kill {k + 1}/{kills}: {len(acked) - before} decisions acknowledged before SIGKILL")
    return {"admin": admin, "acked": acked, "errors_before_kill": errors_before_kill}


def count_found(base: str, admin: str, ids: list[str]) -> Counter[int]:
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(did: str) -> int:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=_auth(admin), timeout=30)
            clients.append(local.client)
        return int(local.client.get(f"/v1/decisions/{did}").status_code)

    with ThreadPoolExecutor(4) as pool:
        found = Counter(pool.map(one, ids))
    for c in clients:
        c.close()
    return found


# 2. quota -------------------------------------------------------------------------------


async def quota_probe(base: str, svc: Service) -> dict[str, Any]:
    ws = unique("free")
    admin = svc.create_key(ws, "admin", create_plan="free").key
    client = svc.create_key(ws, "client").key
    assert admin is not None and client is not None
    await asyncio.to_thread(_create_taxonomy, base, admin, "support")
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(
        base_url=base, headers=_auth(client), timeout=120, limits=limits
    ) as c:
        responses = await asyncio.gather(
            *[
                c.post("/v1/classify", json={"taxonomy": "support", "text": f"refund order {i}"})
                for i in range(300)
            ]
        )
    codes = Counter(r.status_code for r in responses)
    async with httpx.AsyncClient(base_url=base, headers=_auth(admin), timeout=60) as a:
        used = (await a.get("/v1/usage")).json()["used"]
        page = (await a.get("/v1/decisions", params={"limit": 500})).json()
    return {"codes": dict(codes), "used": used, "stored": len(page["data"])}


# 3. claims ------------------------------------------------------------------------------


async def claim_probe(base: str, svc: Service, reviewers: int, items: int) -> dict[str, Any]:
    ws = unique("claims")
    admin = svc.create_key(ws, "admin", create_plan="unlimited").key
    keys = [svc.create_key(ws, "reviewer").key for _ in range(reviewers)]
    assert admin is not None
    await asyncio.to_thread(_create_taxonomy, base, admin, "support")
    async with httpx.AsyncClient(base_url=base, headers=_auth(admin), timeout=300) as a:
        for i in range(0, items, 100):
            texts = [f"my invoice is wrong, ticket {j}" for j in range(i, min(items, i + 100))]
            r = await a.post("/v1/classify/batch", json={"taxonomy": "support", "texts": texts})
            if r.status_code != 200:
                raise SystemExit(f"batch: {r.status_code} {r.text}")
    claimed: list[str] = []
    resolved: list[str] = []
    statuses: Counter[int] = Counter()

    async def reviewer(key: str) -> None:
        async with httpx.AsyncClient(base_url=base, headers=_auth(key), timeout=120) as c:
            while True:
                r = await c.post("/v1/review/claim", json={"taxonomy": "support", "limit": 5})
                statuses[r.status_code] += 1
                if r.status_code != 200:
                    return
                batch = r.json()["items"]
                if not batch:
                    return
                for item in batch:
                    claimed.append(item["id"])
                    r = await c.post(
                        f"/v1/review/items/{item['id']}/resolve", json={"action": "confirm"}
                    )
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        resolved.append(item["id"])

    t = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*[reviewer(k) for k in keys if k is not None]), timeout=300
    )
    seconds = time.perf_counter() - t
    async with httpx.AsyncClient(base_url=base, headers=_auth(admin), timeout=60) as a:
        stats = (await a.get("/v1/review/stats", params={"taxonomy": "support"})).json()
    queues = stats["queues"].values()
    return {
        "items": items,
        "reviewers": reviewers,
        "claims": len(claimed),
        "distinct_claimed": len(set(claimed)),
        "resolved_200": len(resolved),
        "distinct_resolved": len(set(resolved)),
        "statuses": dict(statuses),
        "resolved_in_stats": sum(q["resolved"] for q in queues),
        "seconds": round(seconds, 1),
    }


# 4. isolation ---------------------------------------------------------------------------


async def isolation_probe(base: str, stack: Stack) -> dict[str, Any]:
    routes = _v1_routes(stack.app)
    openapi = stack.app.openapi()
    a_tenant = stack.tenant("unlimited")
    a_keys = {
        "admin": a_tenant.key,
        "reviewer": stack.key(a_tenant, "reviewer"),
        "client": stack.key(a_tenant, "client"),
    }
    b_tenant: Tenant = stack.tenant("unlimited")
    allowed: list[str] = []
    other: list[str] = []
    broken: list[str] = []
    codes: Counter[int] = Counter()

    def http(key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base, headers=_auth(key), timeout=300)

    async with http(b_tenant.key) as bc:
        b = B(stack, b_tenant, bc, taxonomy=unique("tax-b"))
        r = await bc.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": b.taxonomy})
        assert r.status_code == 201, r.text
        async with http(a_keys["admin"]) as ac:
            r = await ac.post("/v1/taxonomies", json={**TINY_TAXONOMY, "name": unique("tax-a")})
            assert r.status_code == 201, r.text
        for role, key in a_keys.items():
            async with http(key) as c:
                for method, path in routes:
                    params = re.findall(r"{(\w+)(?::\w+)?}", path)
                    if any(p not in RESOURCES for p in params):
                        broken.append(f"{method} {path}: no workspace-B resource for {params}")
                        continue
                    url = path
                    for p in params:
                        url = re.sub(r"\{" + p + r"(?::\w+)?\}", await _get(b, p), url)
                    body = _body(openapi, method, path)
                    r = await c.request(method, url, **({"json": body} if body is not None else {}))
                    codes[r.status_code] += 1
                    line = f"{role} {method} {url} -> {r.status_code}"
                    if r.status_code < 300:
                        allowed.append(line)
                    elif r.status_code not in (403, 404):  # 403: the role may not use it
                        other.append(line)
                    if method == "GET" and role == "admin":
                        own = await bc.get(url)  # B sees it: the URL itself was valid
                        if own.status_code != 200:
                            broken.append(f"B: GET {url} -> {own.status_code}")
    return {
        "attempts": sum(codes.values()),
        "routes": len(routes),
        "allowed": allowed,
        "other": other,
        "codes": dict(codes),
        "broken_cases": broken,
    }


# driver ---------------------------------------------------------------------------------


def probe_backend(backend: str, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    with _database(backend, args.pg_url) as url, tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False))
        try:
            say(f"[{backend}] SIGKILL x {args.kills} while 4 clients classify")
            kill = kill_probe(url, log, svc, args.kills, args.kill_after, rng)
            for workers in args.workers:
                with serve(url, log, workers) as (base, _):
                    if workers == 1:
                        found = count_found(base, kill["admin"], kill["acked"])
                        out["sigkill"] = {
                            "kills": args.kills,
                            "acknowledged": len(kill["acked"]),
                            "found": found.get(200, 0),
                            "lookups": dict(found),
                            "errors_before_kill": kill["errors_before_kill"],
                        }
                        s = out["sigkill"]
                        say(f"[{backend}] {s['found']} of {s['acknowledged']} acknowledged found")
                    say(f"[{backend}] quota: 300 concurrent on a free key, {workers} worker(s)")
                    out[f"quota_w{workers}"] = asyncio.run(quota_probe(base, svc))
                    say(f"[{backend}]   {out[f'quota_w{workers}']}")
                    say(f"[{backend}] claims: {args.reviewers} reviewers, {args.items} items")
                    claims = asyncio.run(claim_probe(base, svc, args.reviewers, args.items))
                    out[f"claims_w{workers}"] = claims
                    say(f"[{backend}]   {claims}")
                    if workers == 1:
                        say(f"[{backend}] cross-tenant attempts")
                        stack = Stack(backend, url, svc)
                        iso = asyncio.run(isolation_probe(base, stack))
                        out["isolation"] = iso
                        say(
                            f"[{backend}]   {len(iso['allowed'])} allowed of {iso['attempts']} "
                            f"({iso['codes']})"
                        )
        finally:
            svc.close()
    return out


def _workers(n: int) -> str:
    return "1 worker" if n == 1 else f"{n} workers"


def _quota_cell(q: dict[str, Any]) -> str:
    codes = " + ".join(f"{n} × {c}" for c, n in sorted(q["codes"].items(), key=lambda x: int(x[0])))
    return f"{codes}; used {q['used']}, {q['stored']} stored"


def _claims_cell(c: dict[str, Any]) -> str:
    non200 = sum(n for s, n in c["statuses"].items() if int(s) != 200)
    return (
        f"{c['distinct_resolved']} of {c['items']} resolved once; "
        f"{c['claims'] - c['distinct_claimed']} double claims, {non200} non-200"
    )


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    head = "| probe | " + " | ".join(names[r["backend"]] for r in results) + " |"
    rows = [head, "|---|" + "---|" * len(results)]

    def row(label: str, cell: Any) -> None:
        rows.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    row(
        f"acknowledged decisions lost over {args.kills} SIGKILLs of `triaged serve`",
        lambda r: (
            f"{r['sigkill']['acknowledged'] - r['sigkill']['found']} of "
            f"{r['sigkill']['acknowledged']}"
        ),
    )
    for w in args.workers:
        row(
            f"quota: 300 concurrent requests, free key (100/month), {_workers(w)}",
            lambda r, w=w: _quota_cell(r[f"quota_w{w}"]),
        )
    for w in args.workers:
        row(
            f"claims: {args.reviewers} reviewers, {args.items} items, {_workers(w)}",
            lambda r, w=w: _claims_cell(r[f"claims_w{w}"]),
        )
    row(
        "cross-tenant attempts allowed (every /v1 route with an id × admin, reviewer, client key)",
        lambda r: (
            f"{len(r['isolation']['allowed'])} of {r['isolation']['attempts']} ("
            + ", ".join(f"{n} × {c}" for c, n in sorted(r["isolation"]["codes"].items()))
            + ")"
        ),
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--kill-after", type=float, default=2.0)
    parser.add_argument("--reviewers", type=int, default=10)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    # a terminated run still kills its servers (they run in their own process groups)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.workers = [int(w) for w in args.workers.split(",")]
    if 1 not in args.workers:
        parser.error("--workers must include 1 (the SIGKILL and isolation probes use it)")
    rng = random.Random(args.seed)
    results = [probe_backend(b, args, rng) for b in args.backends.split(",")]
    elapsed = time.monotonic() - T0
    write_results("probe", {"args": vars(args), "results": results, "seconds": elapsed})
    body = table(results, args)
    for r in results:
        for line in r["isolation"]["allowed"] + r["isolation"]["other"]:
            print(f"{r['backend']}: {line}", file=sys.stderr)
        for line in r["isolation"]["broken_cases"]:
            print(f"{r['backend']}: invalid case: {line}", file=sys.stderr)
    cmd = "python -m bench.bench_probe --update-readme"
    note = (
        f"\n\nMeasured on 127.0.0.1 with {os.cpu_count()} shared CPU cores in {elapsed:.0f} s "
        f"(`{cmd}`). SIGKILL: four client threads classify while the server is killed after "
        f"a random 0.5–1.5 × {args.kill_after:g} s; every 200 answer is looked up after a "
        "restart. Claims: each reviewer has its own key and loops claim (5) → resolve until "
        "the queue is empty; a double claim is an item handed to two claims. Cross-tenant: "
        "the cases of `tests/api/test_isolation.py` over real HTTP; refused answers are 404, "
        "or 403 where the role may not use the route at all."
    )
    print(body + note)
    if args.update_readme:
        update_readme("probe", body + note)


if __name__ == "__main__":
    main()
