"""The size bar of the source tree: no module over 600 lines, no function over 80 lines.

    python scripts/check_sizes.py            # exit 1 and a list when something is over

Migrations are exempt (generated, append-only).  ``KNOWN`` names the modules still over the
bar and who owns bringing them under it; an entry there that is back under the bar fails too,
so the list only shrinks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "triaged"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

# Known exceptions, each owned by another piece of work; do not add to this list.
KNOWN: set[str] = set()


def _functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length) of every function, decorators included."""
    out: list[tuple[str, int, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                out.append((prefix + child.name, first, end - first + 1))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def problems(src: Path = SRC) -> tuple[list[str], set[str]]:
    """(what is over the bar, the known exceptions seen over it)."""
    found: list[str] = []
    seen: set[str] = set()
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if "/migrations/" in f"/{rel}":
            continue
        text = path.read_text(encoding="utf-8")
        over: list[str] = []
        n_lines = len(text.splitlines())
        if n_lines > MAX_MODULE_LINES:
            over.append(f"{rel}: {n_lines} lines (max {MAX_MODULE_LINES})")
        for name, line, length in _functions(ast.parse(text, filename=str(path))):
            if length > MAX_FUNCTION_LINES:
                over.append(f"{rel}:{line}: {name} has {length} lines (max {MAX_FUNCTION_LINES})")
        if over and rel in KNOWN:
            seen.add(rel)
            continue
        found += over
    return found, seen


def main() -> int:
    found, seen = problems()
    stale = sorted(KNOWN - seen)
    for line in found:
        print(line)
    for rel in stale:
        print(f"{rel}: under the bar now; remove it from KNOWN in scripts/check_sizes.py")
    if found or stale:
        return 1
    print(f"sizes ok: modules <= {MAX_MODULE_LINES} lines, functions <= {MAX_FUNCTION_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
