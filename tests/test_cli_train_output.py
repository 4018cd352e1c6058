"""Model folders on the command line: `triaged train -o` where a file is in the way is one
line and exit code 2 before any training (a FileExistsError traceback after it); a model
folder whose files are damaged is one line naming it for `classify` (JSONDecodeError,
KeyError and numpy tracebacks)."""

from __future__ import annotations

import shutil
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


def test_a_damaged_model_folder_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good"
    assert runner.invoke(app, ["train", str(EXAMPLE), "-o", str(good)]).exit_code == 0
    meta = (good / "model.json").read_text()
    damages = {
        "truncated_json": ("model.json", meta[: len(meta) // 2].encode()),
        "not_an_object": ("model.json", b"[1]"),
        "missing_key": ("model.json", meta.replace('"model_version"', '"renamed"').encode()),
        "not_a_zip": ("model.npz", b"garbage"),
        "truncated_npz": ("model.npz", (good / "model.npz").read_bytes()[:3000]),
    }
    for name, (file, data) in damages.items():
        bad = tmp_path / name
        shutil.copytree(good, bad)
        (bad / file).write_bytes(data)
        result = runner.invoke(app, ["classify", str(bad), "hello"])
        assert result.exit_code == 2, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        flat = " ".join(result.output.split())
        assert f"{name}: not a readable triaged model" in flat, (name, flat)


def test_train_ends_with_one_line_of_held_out_figures(tmp_path: Path) -> None:
    """It printed the engine's whole report as a Python dict (single quotes, None); the
    report stays in model.json."""
    result = CliRunner().invoke(app, ["train", str(EXAMPLE), "-o", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("held-out accuracy 0.") and "ECE 0." in last, result.output
    assert "{" not in result.output and "'mode'" not in result.output
    assert '"report"' in (tmp_path / "m" / "model.json").read_text()
