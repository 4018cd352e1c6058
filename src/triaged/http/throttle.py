"""Throttling of failed authentication: API key lookups and web sign-ins.

After ``max_failures`` failures within ``window_s`` from one client address, further
attempts from it are refused with 429 and ``Retry-After`` until the oldest failure leaves
the window, even with a valid key, so guessing gains nothing by interleaving a known key.
Failures with one key prefix (the first characters of the presented key) are counted too:
past the limit, a wrong key with that prefix is answered 429, but a right one still
authenticates (:func:`triaged.http.deps.auth_subjects`).  Successes are never counted.

The check on every request reads this process's memory only.  A failure is also
written to the database (``shared``: :meth:`Service.record_auth_failures`), which hands
back the subject's failures from every process, so several API processes count
together: a failure past the limit, here or in all processes together, is answered 429
instead of 401, so at most ``max_failures`` wrong keys are answered as such per window
however many processes or concurrent requests (it was ``max_failures + N - 1`` for N
processes, and a burst of concurrent requests all passed the check before any failed).
The client address is the one uvicorn reports: behind a reverse proxy run ``triaged
serve`` with uvicorn's ``--proxy-headers``/``--forwarded-allow-ips``
(``FORWARDED_ALLOW_IPS``) so it is the real client, not the proxy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from triaged.errors import RateLimited

log = logging.getLogger(__name__)

#: Records failures of subjects at a time (epoch seconds) and returns each subject's
#: failures within a window from every process: (subjects, at, window_s) -> times.
SharedFailures = Callable[[Sequence[str], float, float], dict[str, list[float]]]

__all__ = ["FailureThrottle", "SharedFailures", "key_prefix"]

MAX_TRACKED = 100_000  # subjects remembered at most (oldest forgotten first)


def key_prefix(key: str) -> str:
    """What identifies a guessed key's family: its first 12 characters, each one that is not
    printable ASCII (a NUL, which PostgreSQL cannot store in the shared failure counts)
    written as ``?``: real keys are ASCII, and a guess is counted all the same."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in key[:12])


class FailureThrottle:
    """Sliding-window failure counter per subject (``"ip:1.2.3.4"``, ``"key:tri_abc…"``)."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        clock: Callable[[], float] | None = None,
        what: str = "authentication",
        shared: SharedFailures | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.what = what
        # shared failures are compared across processes (and hosts): wall-clock time
        self._clock = clock or (time.time if shared is not None else time.monotonic)
        self._shared = shared
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
        """Count one failure for each subject (here, and in the shared store if any), and
        raise :class:`RateLimited` when it is past a subject's limit.

        Requests that arrive together all pass :meth:`check` before any of them has
        failed, so the check alone let a burst of 40 wrong keys have 40 answers (401, "not
        a key") where 20 were allowed; a failure past the limit is answered 429 instead,
        which tells a guesser nothing, so at most ``max_failures`` wrong keys are answered
        as such per window whatever the concurrency (and across processes sharing counts)."""
        if not self.enabled:
            return
        subjects = list(subjects)
        now = self._clock()
        with self._lock:
            over = self._count(subjects, now)
        if self._shared is not None:
            try:
                everywhere = self._shared(subjects, now, self.window_s)
            except Exception:  # the database is down: this process's own count still holds
                log.warning("could not share failed authentications", exc_info=True)
                everywhere = {}
            with self._lock:
                for subject, times in everywhere.items():
                    if len(times) > self.max_failures:
                        over = over or subject
                    if len(times) > len(self._failures.get(subject, ())):
                        self._failures[subject] = deque(times[-self.max_failures :])
        if over:
            self.check([over])  # the answer a later attempt gets, with its Retry-After

    def _count(self, subjects: list[str], now: float) -> str | None:
        """Count a failure of each subject; the first subject whose limit was already
        reached (this failure is past it), or None."""
        over: str | None = None
        for subject in subjects:
            times = self._recent(subject, now)
            if times is None:
                if len(self._failures) >= MAX_TRACKED:
                    self._failures.pop(next(iter(self._failures)))
                times = self._failures[subject] = deque()
            if len(times) >= self.max_failures and over is None:
                over = subject
            times.append(now)
            while len(times) > self.max_failures:
                times.popleft()
        return over
