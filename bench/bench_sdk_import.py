"""How long ``import triaged.client`` takes, and what it loads, in fresh interpreters.

Each run is a new ``python -c`` (so nothing is already imported); ``-X importtime`` is not
used, the wall time of the import statement is.  Prints the median and the slowest of
``--runs`` and the modules the import loaded; writes ``bench/results/sdk_import.json``.
Run: ``python -m bench.bench_sdk_import --runs 20``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from bench._common import write_results

CODE = (
    "import json, sys, time\n"
    "t = time.perf_counter()\n"
    "import triaged.client\n"
    "s = time.perf_counter() - t\n"
    "print(json.dumps({'seconds': s, 'modules': sorted(sys.modules)}))"
)
SERVER_SIDE = ("numpy", "scipy", "sklearn", "onnxruntime", "sqlalchemy", "alembic", "fastapi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-c", "import triaged.client"], check=True)  # .pyc warm
    seconds: list[float] = []
    modules: list[str] = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        ).stdout
        answer = json.loads(out.strip().splitlines()[-1])
        seconds.append(float(answer["seconds"]))
        modules = answer["modules"]
    top = sorted(
        {m.split(".")[0] for m in modules}
        - set(sys.stdlib_module_names)
        - {"__main__", "_distutils_hack"}
    )
    result = {
        "runs": args.runs,
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "modules_loaded": len(modules),
        "top_level_packages": top,
        "server_side_loaded": sorted(set(top) & set(SERVER_SIDE)),
    }
    write_results("sdk_import", result)
    print(
        f"import triaged.client: median {result['median_s']:.3f} s, "
        f"slowest {result['max_s']:.3f} s over {args.runs} fresh interpreters; "
        f"{len(modules)} modules, server-side: {result['server_side_loaded'] or 'none'}"
    )
    print("packages besides the standard library:", ", ".join(top))


if __name__ == "__main__":
    main()
