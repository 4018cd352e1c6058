"""Every benchmark whose table is in README.md, one after another (``make bench``).

    python -m bench.run_all                         # all of them, tables written into README.md
    python -m bench.run_all --only engine,open      # some of them
    python -m bench.run_all --list                  # what runs, in order, with its command

Each runs in its own process with the command the README gives under its table, so a
figure's "Reproduce:" line and this script never disagree.  The shared datasets' vectors
are cached first (``bench.embed_cache``).  On 2 cores the whole run takes a few hours (the
leave-one-dataset-out fit and the live simulation most of it).  A failing benchmark is
reported and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench._common import ROOT

#: name -> arguments after ``python``, in the order they run (cheap ones first)
BENCHES: dict[str, list[str]] = {
    "latency": ["-m", "bench.bench_latency", "--update-readme"],
    "engine": ["-m", "bench.bench_engine", "--update-readme", "--seeds", "0-4"],
    "few": ["-m", "bench.bench_few", "--update-readme"],
    "shots": ["-m", "bench.bench_shots", "--update-readme"],
    "open": ["-m", "bench.bench_open", "--update-readme"],
    "partial": ["-m", "bench.bench_partial", "--update-readme"],
    "sets": ["-m", "bench.bench_sets", "--update-readme"],
    "gaps": ["-m", "bench.bench_gaps", "--update-readme"],
    "insights": ["-m", "bench.bench_insights", "--update-readme"],
    "review": ["-m", "bench.bench_review", "--update-readme"],
    "long": ["-m", "bench.bench_long", "--update-readme"],
    "http": ["-m", "bench.bench_http", "--update-readme"],
    "probe": ["-m", "bench.bench_probe", "--update-readme"],
    "live": ["-m", "bench.bench_live", "--update-readme"],
    "lodo": ["scripts/fit_engine_constants.py", "--update-readme"],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated names (see --list)")
    ap.add_argument("--list", action="store_true", help="print the benchmarks and stop")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHES)}")
    if args.list:
        for name in names:
            print(f"{name:10s} python {' '.join(BENCHES[name])}")
        return 0
    subprocess.run([sys.executable, "-m", "bench.embed_cache"], cwd=ROOT, check=True)
    failed: list[str] = []
    for i, name in enumerate(names, 1):
        cmd = [sys.executable, *BENCHES[name]]
        print(f"[{i}/{len(names)}] {name}: python {' '.join(BENCHES[name])}", flush=True)
        started = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT, check=False).returncode
        minutes = (time.perf_counter() - started) / 60
        print(f"[{i}/{len(names)}] {name}: exit {rc} after {minutes:.1f} min", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
