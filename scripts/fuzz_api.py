"""Fuzz the HTTP API from its own OpenAPI document with schemathesis, on a fresh SQLite file.

    python scripts/fuzz_api.py                       # 20 examples per operation, seed 0
    python scripts/fuzz_api.py --examples 100 --seed 3
    python scripts/fuzz_api.py --database-url postgresql+psycopg://triaged@127.0.0.1/fuzz

Every operation of ``/openapi.json`` (but ``DELETE /v1/keys/{key_id}``, so the run does not
revoke its own key) gets ``--examples`` generated requests, with a fresh admin key, against
a workspace holding one trained taxonomy (``support``); path parameters named ``name`` are
that taxonomy half of the time, so the deeper code runs too.  Exit status 1 when any
response is a server error (5xx) or has a status code the OpenAPI document does not declare
for its operation; the failures are printed with a curl command to reproduce.

The failed-authentication limiter is off here (the fuzzer sends made-up keys on purpose).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings

TAXONOMY: dict[str, Any] = {
    "name": "support",
    "labels": [
        {"name": "billing", "examples": ["I was charged twice", "refund my last payment"]},
        {"name": "bug", "examples": ["the app crashes on start", "export does nothing"]},
        {"name": "account", "examples": ["change my email address", "reset my password"]},
    ],
}
EXCLUDED = {("DELETE", "/v1/keys/{key_id}")}


def build(data_dir: Path, database_url: str | None = None) -> tuple[Any, str]:
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        bootstrap_admin=False,
        key_pepper=os.urandom(16).hex(),
        auth_max_failures=0,
        metrics_public=True,
        background_train_min_examples=10_000,
    )
    service = Service(settings)
    service.start()
    info = service.create_key("fuzz", "admin", create_plan="unlimited")
    assert info.key is not None
    service.create_taxonomy(service.authenticate(info.key), TAXONOMY)
    return create_app(service=service), info.key


def fuzz(
    operation: Any,
    declared: set[str],
    args: argparse.Namespace,
    auth: dict[str, str],
    statuses: Counter[int],
    failures: list[str],
) -> None:
    """Send ``args.examples`` generated requests to one operation and check each answer."""

    @hypothesis.seed(args.seed)
    @hypothesis.settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(), ours=st.booleans())
    def run(case: Any, ours: bool) -> None:
        if ours and "name" in (case.path_parameters or {}):
            case.path_parameters["name"] = "support"
        try:
            response = case.call(headers=auth)
        except Exception as exc:  # the in-process app re-raises what it did not handle
            statuses[500] += 1
            failures.append(f"{case.method} {case.path} -> {type(exc).__name__}: {exc}"[:400])
            failures.append(f"    {case.as_curl_command()}")
            return
        statuses[response.status_code] += 1
        code = str(response.status_code)
        if response.status_code >= 500 or (code not in declared and f"{code[0]}XX" not in declared):
            failures.append(
                f"{case.method} {case.path} -> {response.status_code}: "
                f"{response.text[:300]}\n    {case.as_curl_command()}"
            )

    run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=20, help="requests per operation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty database to fuzz on instead (e.g. PostgreSQL: its own limits and "
        "errors); default: a fresh SQLite file",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triaged-fuzz-") as tmp:
        app, key = build(Path(tmp), args.database_url)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        auth = {"Authorization": f"Bearer {key}"}
        statuses: Counter[int] = Counter()
        failures: list[str] = []
        t0 = time.perf_counter()
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation is None or (operation.method.upper(), operation.path) in EXCLUDED:
                continue
            operations += 1
            declared = {str(code) for code in operation.definition.raw.get("responses", {})}

            fuzz(operation, declared, args, auth, statuses, failures)
        wall = time.perf_counter() - t0
    total = sum(statuses.values())
    errors = sum(n for s, n in statuses.items() if s >= 500)
    print(
        f"schemathesis {schemathesis.SCHEMATHESIS_VERSION}: {operations} operations, "
        f"{total} requests (seed {args.seed}, {args.examples} examples each) in {wall:.0f} s; "
        f"server errors: {errors}; failures (5xx or undeclared status): {len(failures)}"
    )
    print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    for failure in failures[:50]:
        print("FAIL " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
