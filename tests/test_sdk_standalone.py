"""The SDK stands alone: ``import triaged.client`` loads httpx and nothing of the server.

Each check runs a fresh interpreter (``python -c``) so modules imported by other tests do not
hide what the import itself loads.  The import time is printed (``pytest -s``), not asserted:
timing belongs in benchmarks.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER_SIDE = (
    "numpy",
    "scipy",
    "sklearn",
    "onnxruntime",
    "tokenizers",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "prometheus_client",
)
ALLOWED_TRIAGED = {
    "triaged",
    "triaged.client",
    "triaged.errors",
    "triaged.signing",
    "triaged.types",
}


def _fresh(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it leaves its answer as JSON on the last line."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    answer: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return answer


def _loaded_after(statement: str) -> dict[str, object]:
    return _fresh(
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        f"{statement}\n"
        "s = time.perf_counter() - t\n"
        "print(json.dumps({'seconds': s, 'modules': sorted(sys.modules)}))"
    )


def _top(modules: object) -> set[str]:
    assert isinstance(modules, list)
    return {str(m).split(".")[0] for m in modules}


@pytest.mark.parametrize(
    "statement",
    [
        "import triaged.client",
        "from triaged.client import AsyncClient, Client, Decision, verify_signature",
        "from triaged import Client, verify_signature",
        "from triaged.types import Bucket",
    ],
)
def test_the_sdk_loads_no_server_module(statement: str) -> None:
    answer = _loaded_after(statement)
    modules = answer["modules"]
    assert isinstance(modules, list)
    heavy = sorted(_top(modules) & set(SERVER_SIDE))
    assert heavy == [], f"{statement!r} loads {heavy}"
    ours = sorted(m for m in modules if str(m).split(".")[0] == "triaged")
    server = [m for m in ours if m not in ALLOWED_TRIAGED and not m.startswith("triaged.client.")]
    assert server == [], f"{statement!r} loads {server}"
    if "client" in statement:
        assert "httpx" in _top(modules)
    print(f"\n{statement}: {float(answer['seconds']):.3f} s in a fresh interpreter")  # type: ignore[arg-type]


def test_the_detector_sees_a_server_import() -> None:
    """The check above can fail: the engine's public names do load numpy."""
    answer = _loaded_after("from triaged import Classifier")
    assert "numpy" in _top(answer["modules"])


def test_old_import_paths_still_work() -> None:
    import triaged
    import triaged.routing
    import triaged.signing
    import triaged.types
    import triaged.webhooks
    import triaged.webhooks.verify
    from triaged.classifier import Alternative

    assert triaged.routing.Bucket is triaged.types.Bucket is triaged.Bucket
    assert Alternative is triaged.types.Alternative is triaged.Alternative
    assert triaged.webhooks.verify_signature is triaged.signing.verify_signature
    assert triaged.webhooks.verify.sign_payload is triaged.signing.sign_payload
    assert triaged.verify_signature is triaged.signing.verify_signature
    with pytest.raises(AttributeError):
        _ = triaged.NoSuchName  # type: ignore[attr-defined]
    assert "Classifier" in dir(triaged)
