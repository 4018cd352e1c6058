"""A CLI command that trains a served taxonomy in the foreground shows the training's
progress as the API gives it (the model row's ``progress``, read by a thread from the
database the training writes it to) as a transient bar on stderr."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from triaged.fit_bar import training_progress

__all__ = ["served_progress", "training_bar"]

#: how often the bar reads the progress (the training writes it at most once a second)
READ_EVERY_S = 0.5


@contextmanager
def training_bar(read: Callable[[], dict[str, Any] | None]) -> Iterator[None]:
    """While the block runs, a thread calls ``read`` (the training's ``progress`` view, or
    None) every :data:`READ_EVERY_S` seconds and moves the bar; a read that fails is
    skipped (the taxonomy may not exist yet)."""
    stop = threading.Event()
    bar = training_progress()
    task = bar.add_task("starting", total=None)

    def run() -> None:
        while not stop.wait(READ_EVERY_S):
            try:
                progress = read()
            except Exception:  # not there yet, or the database is busy: read again
                continue
            if progress:
                bar.update(
                    task,
                    completed=progress["done"],
                    total=progress["total"],
                    description=progress["stage"],
                )

    reader = threading.Thread(target=run, name="triaged-cli-training-bar", daemon=True)
    with bar:
        reader.start()
        try:
            yield
        finally:
            stop.set()
            reader.join(timeout=5)


def served_progress(svc: Any, principal: Any, name: str) -> Callable[[], dict[str, Any] | None]:
    """A ``read`` for :func:`training_bar`: the ``progress`` of taxonomy ``name``'s newest
    training, as ``GET /v1/taxonomies/{name}`` shows it."""

    def read() -> dict[str, Any] | None:
        training = svc.get_taxonomy(principal, name).get("training") or {}
        progress: dict[str, Any] | None = training.get("progress")
        return progress

    return read
