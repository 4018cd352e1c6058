"""The docs stay true: every setting is documented and the generated reference is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from triaged.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_configuration_reference_is_up_to_date() -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_settings_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_readme_links_the_configuration_reference() -> None:
    assert "docs/configuration.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_python_snippets_run_as_written() -> None:
    """Every name a README Python snippet uses is imported, assigned or a builtin (the bulk
    jobs snippet used `Path` without `from pathlib import Path`), and each compiles."""
    import ast
    import builtins
    import re

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(snippets) >= 4
    for snippet in snippets:
        tree = ast.parse(snippet)
        compile(tree, "<README>", "exec")
        bound = set(dir(builtins))
        for node in ast.walk(tree):
            if isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.arg):
                bound.add(node.name if isinstance(node, ast.FunctionDef) else node.arg)
        used = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        assert used <= bound, (sorted(used - bound), snippet)
