"""A fit's progress on the terminal: one rich bar driven by the fit's ``on_progress``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

__all__ = ["fit_bar", "training_progress"]

if TYPE_CHECKING:  # the models package pulls scikit-learn in: not at every CLI start
    from rich.progress import Progress

    from triaged.models.fit_progress import ProgressFn


def training_progress() -> Progress:
    """The transient stderr bar a training shows (stdout stays the output, e.g. --json)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("training: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),
    )


@contextmanager
def fit_bar(show: bool, report: ProgressFn | None = None) -> Iterator[ProgressFn | None]:
    """The ``on_progress`` to fit with: with ``show``, one that moves a transient bar on
    stderr (stdout stays the output) and passes each report on to ``report``; else
    ``report`` itself (also when stderr is no terminal: a log would get an empty line)."""
    bar = training_progress() if show else None
    if bar is None or not bar.console.is_terminal:
        yield report
        return
    task = bar.add_task("starting", total=None)

    def move(done: int, total: int, stage: str) -> None:
        bar.update(task, completed=done, total=total, description=stage)
        if report is not None:
            report(done, total, stage)

    with bar:
        yield move
