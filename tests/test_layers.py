"""The layer contracts in ``.importlinter`` hold, and they would catch a broken layer.

``lint-imports`` (import-linter) checks the real tree; then a copy of the package's Python
files with forbidden imports planted in it (a route importing ``triaged.storage``, the
SDK importing numpy, the engine importing the service, the web UI importing the API,
webhooks importing the service layer, a service importing a table module) must break the
contracts that forbid them, and nothing else.
"""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

FACES = "Faces never import storage, services or the engine internals"
SDK = "The SDK imports no server module (and none of the ML stack)"
ENGINE = "The engine never imports the service, storage or the faces"
STORAGE = "Storage never imports the faces"
WEB_API = "The web UI never imports the HTTP API (both share triaged.http)"
API_WEB = "The HTTP API imports the web UI only in the app factory (api.app mounts it)"
WEBHOOKS = "Webhooks never import the service layer or the faces"
TABLES = "Only storage's repositories touch the tables (the SQL lives in storage)"
ALL = (FACES, SDK, ENGINE, STORAGE, WEB_API, API_WEB, WEBHOOKS, TABLES)


def _lint(package_parent: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if package_parent is not None:  # import `triaged` from the copy, not the checkout
        env["PYTHONPATH"] = f"{package_parent}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(CONTRACT), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_parent or ROOT,
        timeout=300,
    )


def _status(output: str, name: str) -> str:
    line = next(ln for ln in output.splitlines() if ln.startswith(name + " "))
    return "KEPT" if " KEPT" in line else "BROKEN"


def test_the_contracts_name_the_layers() -> None:
    config = configparser.ConfigParser()
    config.read(CONTRACT)
    contracts = {config[s]["name"]: config[s] for s in config.sections() if ":contract:" in s}
    assert set(contracts) == set(ALL)
    faces = contracts[FACES]
    assert "triaged.api" in faces["source_modules"].split()
    assert "triaged.storage" in faces["forbidden_modules"].split()
    for contract in contracts.values():  # no exceptions: the faces reach storage via the service
        assert "ignore_imports" not in contract
    sdk_forbidden = contracts[SDK]["forbidden_modules"].split()
    assert {"triaged.service", "triaged.storage", "numpy", "sklearn", "sqlalchemy"} <= set(
        sdk_forbidden
    )


def test_the_tree_keeps_every_contract() -> None:
    done = _lint()
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ALL:
        assert _status(done.stdout, name) == "KEPT"


def _plant(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    assert sep, path
    path.write_text(f"{head}{sep}{line}\n{rest}", encoding="utf-8")


def test_a_route_importing_storage_breaks_the_contract(tmp_path: Path) -> None:
    copy = tmp_path / "triaged"
    shutil.copytree(
        ROOT / "src" / "triaged",
        copy,
        ignore=shutil.ignore_patterns("__pycache__", "assets", "static", "templates", "*.onnx"),
    )
    _plant(copy / "api" / "routes" / "classify.py", "import triaged.storage.tables  # planted")
    _plant(copy / "web" / "pages.py", "import triaged.services.keys  # planted")
    _plant(copy / "client" / "results.py", "import numpy  # planted")
    _plant(copy / "routing.py", "import triaged.service  # planted")
    _plant(copy / "web" / "dashboard.py", "import triaged.api.schemas  # planted")
    _plant(copy / "webhooks" / "events.py", "import triaged.services.keys  # planted")
    _plant(copy / "services" / "quota.py", "import triaged.storage.tables  # planted")
    done = _lint(tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert _status(done.stdout, FACES) == "BROKEN"
    assert "triaged.api.routes.classify -> triaged.storage.tables" in out
    assert "triaged.web.pages -> triaged.services.keys" in out  # around the door
    assert _status(done.stdout, SDK) == "BROKEN" and "triaged.client.results -> numpy" in out
    assert _status(done.stdout, ENGINE) == "BROKEN" and "triaged.routing -> triaged.service" in out
    assert _status(done.stdout, WEB_API) == "BROKEN"
    assert "triaged.web.dashboard -> triaged.api.schemas" in out
    assert _status(done.stdout, WEBHOOKS) == "BROKEN"
    assert "triaged.webhooks.events -> triaged.services.keys" in out
    assert _status(done.stdout, TABLES) == "BROKEN"
    assert "triaged.services.quota -> triaged.storage.tables" in out
    assert _status(done.stdout, STORAGE) == "KEPT"
    assert _status(done.stdout, API_WEB) == "KEPT"


FACES_SRC = ["api", "web", "http", "cli*.py"]


def _face_files() -> list[Path]:
    src = ROOT / "src" / "triaged"
    out: list[Path] = []
    for pattern in FACES_SRC:
        if pattern.endswith(".py"):
            out += sorted(src.glob(pattern))
        else:
            out += sorted((src / pattern).rglob("*.py"))
    return out


def _db_uses(path: Path) -> list[str]:
    """``x.db`` anywhere in a module: a face holding the database (a transaction, raw SQL)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("db", "classifiers")
    ]


def test_no_face_touches_the_database_or_the_model_cache() -> None:
    """The faces call service methods; none opens a transaction on ``service.db`` or
    reaches into the classifier cache (the import contracts cannot see attribute access)."""
    files = _face_files()
    assert any(p.name == "dashboard.py" for p in files) and any(p.name == "cli.py" for p in files)
    found = [use for path in files for use in _db_uses(path)]
    assert found == []


def test_the_database_check_would_catch_a_route_opening_a_transaction(tmp_path: Path) -> None:
    route = tmp_path / "route.py"
    route.write_text("def f(service):\n    with service.db.read() as conn:\n        return conn\n")
    assert _db_uses(route) == ["route.py:2"]
