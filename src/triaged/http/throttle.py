"""Throttling of failed authentication: API key lookups and web sign-ins.

After ``max_failures`` failures within ``window_s`` from one client address, or
with one key prefix (the first characters of the presented key), further
attempts are refused with 429 and ``Retry-After`` until the oldest failure
leaves the window — even with a valid key, so guessing gains nothing by
interleaving a known key.  Successes are never counted.

The counters live in this process: with several worker processes each counts on
its own, so the effective limit is ``max_failures`` times the number of workers
(still a hard cap on guessing speed).  The client address is the one uvicorn
reports: behind a reverse proxy run ``triaged serve`` with uvicorn's
``--proxy-headers``/``--forwarded-allow-ips`` (``FORWARDED_ALLOW_IPS``) so it is
the real client, not the proxy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from triaged.errors import RateLimited

__all__ = ["FailureThrottle", "key_prefix"]

MAX_TRACKED = 100_000  # subjects remembered at most (oldest forgotten first)


def key_prefix(key: str) -> str:
    """What identifies a guessed key's family: its first 12 characters."""
    return key[:12]


class FailureThrottle:
    """Sliding-window failure counter per subject (``"ip:1.2.3.4"``, ``"key:tri_abc…"``)."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        what: str = "authentication",
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.what = what
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_failures > 0 and self.window_s > 0

    def _recent(self, subject: str, now: float) -> deque[float] | None:
        times = self._failures.get(subject)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[subject]
            return None
        return times

    def check(self, subjects: Iterable[str]) -> None:
        """Raise :class:`RateLimited` when any subject has used up its failures."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            for subject in subjects:
                times = self._recent(subject, now)
                if times is not None and len(times) >= self.max_failures:
                    wait = times[0] + self.window_s - now
                    raise RateLimited(
                        f"too many failed {self.what} attempts; try again in "
                        f"{max(1, round(wait))} s",
                        retry_after=max(wait, 1.0),
                        details={"reason": "failed_attempts", "subject": subject.split(":")[0]},
                    )

    def fail(self, subjects: Iterable[str]) -> None:
        """Count one failure for each subject."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            for subject in subjects:
                times = self._recent(subject, now)
                if times is None:
                    if len(self._failures) >= MAX_TRACKED:
                        self._failures.pop(next(iter(self._failures)))
                    times = self._failures[subject] = deque()
                times.append(now)
                while len(times) > self.max_failures:
                    times.popleft()
