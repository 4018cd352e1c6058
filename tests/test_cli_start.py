"""The CLI starts without the ML stack: `triaged --help`, `triaged jobs status` and the other
client-side commands load scikit-learn, SciPy and ONNX Runtime only when a command needs them.

A training bar imported the models package at the CLI's start, and with it scikit-learn: every
`triaged` call spent about 2 s importing before it parsed its arguments (3 December to 7
December).  Each check runs a fresh interpreter so modules other tests loaded hide nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "scipy", "onnxruntime", "tokenizers")


def _loaded(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    return {str(m).split(".")[0] for m in json.loads(out.strip().splitlines()[-1])}


@pytest.mark.parametrize("statement", ["import triaged.cli", "import triaged.cli_training_bar"])
def test_the_cli_starts_without_the_ml_stack(statement: str) -> None:
    assert sorted(_loaded(statement) & set(HEAVY)) == []


def test_the_check_sees_the_ml_stack_when_a_command_loads_it() -> None:
    # the models package itself loads scikit-learn only to fit (tests/test_serving_imports.py);
    # scoring an evaluation loads it at once
    assert "sklearn" in _loaded("import triaged.evaluation")
    assert "scipy" in _loaded("import triaged.models")
