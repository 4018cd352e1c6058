"""Where a classify call spends its time beyond the encoder: the library, the service
(database) and the HTTP server (uvicorn), profiled on the bench's own setups.

    python -m bench.profile_service library [--n 600] [--top 40]
    python -m bench.profile_service service [--backend sqlite|postgres] [--n 400]
    python -m bench.profile_service http [--backend sqlite|postgres] [--n 400]

``library`` and ``service`` run cProfile around ``Classifier.classify`` /
``Service.classify`` (one text per call, as ``bench_latency`` and ``bench_http`` time
them; ``service`` also counts database transactions per request).  ``http`` starts
``triaged.api:create_app`` under uvicorn in a subprocess with a cProfile per thread (the
event loop and the worker threads that classify), timed by each thread's CPU clock so
that a loaded machine does not inflate it, drives ``POST /v1/classify`` from one
keep-alive client after 30 warm-up requests, and prints the merged profile (cumulative,
then own time).  ``--loop asyncio`` (the default here) keeps the event loop in Python
frames.  Profiling slows the server: compare functions, not absolute figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._common import DATASETS
from bench.bench_http import PG_URL, _cpu_seconds, _database, _free_port, _texts

SERVER = r"""
import cProfile, contextlib, os, pstats, threading, time, uvicorn
profiles = []
lock = threading.Lock()
def _start(*_):  # first profile event of a new thread: give it its own cProfile
    p = cProfile.Profile(time.thread_time)  # CPU time: robust to a loaded machine
    with lock:
        profiles.append(p)
    p.enable()
class Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # exit on SIGTERM without re-raising it: the profiles get written
        import signal
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "should_exit", True))
        yield
def reset():
    with lock:
        for p in profiles:
            p.clear()
config = uvicorn.Config("triaged.api:create_app", factory=True, host="127.0.0.1",
                        port=int(os.environ["TRIAGED_PROFILE_PORT"]), log_level="warning",
                        access_log=False, loop=os.environ.get("TRIAGED_PROFILE_LOOP", "auto"))
threading.setprofile(_start)
main = cProfile.Profile(time.thread_time)
profiles.append(main)
import signal
signal.signal(signal.SIGUSR1, lambda *_: reset())  # warm-up over: count from here
main.enable()
Server(config).run()
main.disable()
stats = None
for p in profiles:
    p.disable() if p is main else None
    try:
        st = pstats.Stats(p)
    except TypeError:  # a thread that never ran anything
        continue
    stats = st if stats is None else stats.add(st)
stats.dump_stats(os.environ["TRIAGED_PROFILE_OUT"])
"""


def _setup(url: str) -> tuple[Any, Any, str, str]:
    from triaged.examples import example_taxonomy
    from triaged.service import Service
    from triaged.settings import Settings
    from triaged.storage import upgrade

    upgrade(url)
    service = Service(Settings(database_url=url, bootstrap_admin=False, migrate_on_start=False))
    key = service.create_key("bench", "admin", create_plan="unlimited").key
    assert key is not None
    principal = service.authenticate(key)
    tax = example_taxonomy()
    service.create_taxonomy(principal, tax.to_dict())
    return service, principal, key, tax.name


def _count_transactions(service: Any) -> dict[str, int]:
    """Wrap the service's Database context managers to count their entries."""
    counts: dict[str, int] = {}
    db = service.db
    for name in ("read", "lookup", "write"):
        fn = getattr(db, name, None)
        if fn is None:
            continue

        def counted(*a: Any, _fn: Any = fn, _name: str = name, **k: Any) -> Any:
            counts[_name] = counts.get(_name, 0) + 1
            return _fn(*a, **k)

        setattr(db, name, counted)
    return counts


def _print(prof: cProfile.Profile, top: int) -> None:
    st = pstats.Stats(prof)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)


def library(args: argparse.Namespace) -> None:
    from triaged.classifier import Classifier
    from triaged.evaluation import sample_per_label
    from triaged.taxonomy import Taxonomy, read_jsonl

    root = DATASETS / "banking77"
    tax = Taxonomy.from_dataset_dir(root)
    tax = tax.with_examples(sample_per_label(tax.examples(), 20, 0), replace_all=True)
    clf = Classifier.from_taxonomy(tax).fit()
    texts = [e.text for e in read_jsonl(root / "test.jsonl")][: args.n]
    for t in texts[:20]:
        clf.classify(t)
    prof = cProfile.Profile()
    prof.enable()
    for t in texts:
        clf.classify(t)
    prof.disable()
    _print(prof, args.top)


def service(args: argparse.Namespace) -> None:
    from triaged.service import ClassifyItem

    with _database(args.backend, args.pg_url) as url:
        svc, _, key, name = _setup(url)
        try:
            texts = _texts(args.n)
            for t in texts[:20]:
                svc.classify(key, name, [ClassifyItem(t)])
            counts = _count_transactions(svc)
            prof = cProfile.Profile()
            cpu0 = time.process_time()
            prof.enable()
            for t in texts:  # as the HTTP route calls it: the raw key, authenticated inside
                svc.classify(key, name, [ClassifyItem(t)])
            prof.disable()
            cpu = (time.process_time() - cpu0) * 1000 / len(texts)
            _print(prof, args.top)
            per = {k: v / len(texts) for k, v in counts.items()}
            print(f"transactions per request: {per}; CPU ms/req under cProfile: {cpu:.2f}")
        finally:
            svc.close()


def http(args: argparse.Namespace) -> None:
    with _database(args.backend, args.pg_url) as url:
        svc, _, key, name = _setup(url)
        svc.close()
        port = _free_port()
        with tempfile.TemporaryDirectory(prefix="triaged-prof-") as tmp:
            out = Path(tmp) / "server.prof"
            env = {
                **os.environ,
                "TRIAGED_DATABASE_URL": url,
                "TRIAGED_BOOTSTRAP_ADMIN": "false",
                "TRIAGED_MIGRATE_ON_START": "false",
                "TRIAGED_PROFILE_OUT": str(out),
                "TRIAGED_PROFILE_PORT": str(port),
                "TRIAGED_PROFILE_LOOP": args.loop,
            }
            proc = subprocess.Popen([sys.executable, "-c", SERVER], env=env)
            base = f"http://127.0.0.1:{port}"
            try:
                deadline = time.monotonic() + 90
                while True:
                    try:
                        if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("the server did not start")
                    time.sleep(0.2)
                headers = {"Authorization": f"Bearer {key}"}
                with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
                    for t in _texts(30):  # warm-up: the model loads
                        c.post("/v1/classify", json={"taxonomy": name, "text": t})
                    proc.send_signal(signal.SIGUSR1)
                    time.sleep(0.5)
                    cpu0 = _cpu_seconds(proc.pid) or 0.0
                    for t in _texts(args.n):
                        r = c.post("/v1/classify", json={"taxonomy": name, "text": t})
                        r.raise_for_status()
                    cpu = ((_cpu_seconds(proc.pid) or 0.0) - cpu0) * 1000 / args.n
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            if not out.exists():
                raise SystemExit("no profile written")
            if args.save:
                Path(args.save).write_bytes(out.read_bytes())
            st = pstats.Stats(str(out))
            st.sort_stats("cumulative").print_stats(args.top)
            st.sort_stats("tottime").print_stats(args.top)
            print(f"server CPU ms/req under cProfile: {cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["library", "service", "http"])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--save", default=None, help="http: also write the merged profile here")
    parser.add_argument(
        "--loop", default="asyncio", help="uvicorn --loop for http (asyncio: Python frames)"
    )
    args = parser.parse_args()
    {"library": library, "service": service, "http": http}[args.what](args)


if __name__ == "__main__":
    main()
