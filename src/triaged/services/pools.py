"""Stopping this process's job threads within a deadline (``triaged serve`` on SIGTERM).

Inline trainings and retrains each run in a one-thread pool of the process, bulk runs in
a small pool of their own.
Without a deadline a stop waits for them all, as tests and the CLI's own commands want.
With one (``TRIAGED_SHUTDOWN_TIMEOUT_SECONDS``, from the server's shutdown) work not yet
started is dropped and the running one is waited for until the deadline, then abandoned:
a training's model row names this process (``models.runner``), so the next process of
this machine that starts trains it again at once, and another host's after it has been
silent for a minute; a bulk job resumes from its last committed chunk; a dropped
automatic retrain is scheduled again by the next review.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

__all__ = ["stop_pool"]


def stop_pool(
    pool: ThreadPoolExecutor | tuple[ThreadPoolExecutor | None, ...] | None,
    futures: Iterable[Future[Any]],
    deadline: float | None,
) -> int:
    """Shut ``pool`` (or each of a tuple of pools) down; ``deadline``
    (``time.monotonic()``) None: wait for everything.  Returns how many of ``futures``
    still run at the deadline (abandoned)."""
    pools = [q for q in (pool if isinstance(pool, tuple) else (pool,)) if q is not None]
    if not pools:
        return 0
    if deadline is None:
        for q in pools:
            q.shutdown(wait=True)
        return 0
    for q in pools:
        q.shutdown(wait=False, cancel_futures=True)
    pending = [f for f in futures if not f.done()]
    if not pending:
        return 0
    _, running = wait(pending, timeout=max(0.0, deadline - time.monotonic()))
    return len(running)
