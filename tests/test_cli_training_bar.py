"""The CLI's bar of a served training reads the training's progress (as the API shows it)
from a thread while the command trains in the foreground; a read that fails (the taxonomy
not there yet) is skipped, and nothing reaches stdout."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from triaged.cli_training_bar import training_bar


def test_the_bar_reads_the_progress_while_the_block_trains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reads: list[int] = []
    enough = threading.Event()

    def read() -> dict[str, Any] | None:
        reads.append(len(reads))
        if len(reads) == 1:
            raise LookupError("no taxonomy yet")  # skipped: read again
        if len(reads) >= 3:
            enough.set()
        return {"done": len(reads), "total": 10, "stage": "embedding"}

    with training_bar(read):
        assert enough.wait(30), "the bar never read the progress"
    assert len(reads) >= 3
    assert capsys.readouterr().out == ""
