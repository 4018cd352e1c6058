"""A background thread that runs ``run_once()`` every ``interval_s`` until stopped.

The service's maintenance jobs (drift checks, housekeeping) subclass it; each
round's failure is logged and the next round runs as planned.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Self

__all__ = ["Periodic"]


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

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
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
