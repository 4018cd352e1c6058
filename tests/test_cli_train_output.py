"""`triaged train -o` where a file is in the way: one line and exit code 2 before any
training, not a FileExistsError traceback after it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from triaged.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "triaged" / "examples" / "support.yaml"


@pytest.mark.parametrize("target", ["model", "model/sub/m"])
def test_train_output_blocked_by_a_file(tmp_path: Path, target: str) -> None:
    (tmp_path / "model").write_text("not a folder\n")
    result = CliRunner().invoke(app, ["train", str(EXAMPLE), "-o", str(tmp_path / target)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    flat = " ".join(result.output.replace("│", " ").split())  # rich wraps the box's lines
    assert "a file is in the way" in flat
    assert "fold 1/" not in result.output  # refused before the training
    assert (tmp_path / "model").read_text() == "not a folder\n"
