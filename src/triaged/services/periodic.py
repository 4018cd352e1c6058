"""A background thread that runs ``run_once()`` every ``interval_s`` until stopped.

The service's maintenance jobs (drift checks, housekeeping) subclass it; each
round's failure is logged and the next round runs as planned.  A subclass with a
``db`` attribute claims each period in ``periodic_runs`` before its round
(:func:`claim_period`): several processes on one database (``triaged serve
--workers N``, or several hosts) run the round once per period between them.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, Self

from triaged.storage import periodic_repo
from triaged.storage.db import Database

__all__ = ["Periodic", "claim_period"]


def claim_period(db: Database, name: str, interval_s: float, now: float | None = None) -> bool:
    """True for exactly one caller per (``name``, period of ``interval_s`` seconds)."""
    period = int((time.time() if now is None else now) // interval_s)
    with db.write() as conn:
        return periodic_repo.claim_period(conn, name, period)


class Periodic(ABC):
    """Subclasses implement :meth:`run_once`; ``start()`` runs the first round at once."""

    name = "triaged-periodic"

    def __init__(self, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"triaged.{self.name}")

    @abstractmethod
    def run_once(self) -> Any:
        """One round of the job."""

    def _claim(self) -> bool:
        db = getattr(self, "db", None)
        return (
            True if not isinstance(db, Database) else claim_period(db, self.name, self.interval_s)
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._claim():
                    self.run_once()
            except Exception:  # the database may be briefly unavailable: try next round
                self._log.exception("%s round failed", self.name)
            self._stop.wait(self.interval_s)

    def start(self) -> Self:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the round in flight (waiting at most ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
