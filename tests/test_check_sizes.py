"""``scripts/check_sizes.py`` (run by ``make lint``) finds long modules and functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_sizes", ROOT / "scripts/check_sizes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(name: str, n_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(n_lines - 1))
    return f"{indent}def {name}() -> None:\n{body}"


def test_long_modules_and_functions_are_found_outside_migrations(tmp_path: Path) -> None:
    check = _checker()
    (tmp_path / "pkg" / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "pkg" / "ok.py").write_text(_function("short", 80), encoding="utf-8")
    long_method = "class A:\n" + _function("method", 81, indent="    ")
    (tmp_path / "pkg" / "long_fn.py").write_text(long_method, encoding="utf-8")
    (tmp_path / "pkg" / "big.py").write_text("x = 1\n" * 601, encoding="utf-8")
    migration = tmp_path / "pkg" / "migrations" / "versions" / "0001.py"
    migration.write_text(_function("upgrade", 300), encoding="utf-8")
    found, _ = check.problems(tmp_path)
    assert found == [
        "pkg/big.py: 601 lines (max 600)",
        "pkg/long_fn.py:2: A.method has 81 lines (max 80)",
    ]
