"""Progress bars go to a terminal only: `triaged train` with stderr in a file (a CI log, a
cron mail) wrote one empty line per transient bar (the fit's and the encoder's); with a
terminal the bar is drawn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "triaged" / "examples" / "support.yaml"


def _train(tmp_path: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "triaged.cli", "train", str(EXAMPLE), "-o", str(tmp_path / "m")],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return out.stderr


@pytest.mark.parametrize("tty", ["0", "1"], ids=["pipe", "terminal"])
def test_the_training_bar_is_drawn_on_a_terminal_only(tmp_path: Path, tty: str) -> None:
    stderr = _train(tmp_path, {"TTY_COMPATIBLE": tty, "TTY_INTERACTIVE": tty})
    if tty == "0":
        # the summary alone (it goes to stderr too): no bar and no empty line
        assert stderr.startswith("trained support"), repr(stderr[:300])
        assert "training: " not in stderr and "" not in stderr.splitlines(), repr(stderr)
    else:
        assert "training: " in stderr, repr(stderr[-500:])
