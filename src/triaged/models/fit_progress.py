"""Progress of a fit as steps: ``on_progress(done, total, stage)`` after each one.

A fit's steps are known before it starts (:meth:`triaged.models.engine.Engine.fit_steps`,
and the classifier's embedding chunks before them), so ``total`` stays the same and
``done`` only grows, up to ``total``.  The callback is a plain callable: whoever listens
(a terminal bar, the service's training row) is no concern of the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["FitSteps", "ProgressFn"]

#: ``on_progress(done, total, stage)``: ``done`` of a fit's ``total`` steps, the last of
#: them in ``stage`` (e.g. ``embedding``, ``held-out fits``)
ProgressFn = Callable[[int, int, str], None]


class FitSteps:
    """Counts the steps of one fit and reports each to ``report`` (None: counts only).

    Steps may end on several threads (the held-out fits run at once): each is counted and
    reported under one lock, so the reports arrive in order and ``done`` never goes back."""

    def __init__(self, total: int, report: ProgressFn | None, start: int = 0) -> None:
        self.total = max(int(total), 0)
        self.done = min(max(int(start), 0), self.total)
        self._report = report
        self._lock = threading.Lock()

    def step(self, stage: str, k: int = 1) -> None:
        """``k`` more steps done, the last in ``stage``."""
        with self._lock:
            self.done = min(self.total, self.done + max(int(k), 0))
            if self._report is not None:
                self._report(self.done, self.total, stage)

    def rows(self, stage: str, n_rows: int, n_steps: int) -> Callable[[int], None]:
        """A callback for ``n_rows`` rows worked through in ``n_steps`` steps: called with
        each batch's row count, it reports a step each time another ``n_rows / n_steps``
        rows are done."""
        seen = [0, 0]  # rows so far, steps reported so far

        def advance(k: int) -> None:
            seen[0] += k
            reached = n_steps if seen[0] >= n_rows else seen[0] * n_steps // max(n_rows, 1)
            if reached > seen[1]:
                more, seen[1] = reached - seen[1], reached
                self.step(stage, more)

        return advance

    def shifted(self) -> ProgressFn:
        """A report for a part of the fit that counts its own steps from 0 (the engine's):
        its ``done`` added to the steps done before it, against this fit's total."""
        before = self.done

        def report(done: int, _total: int, stage: str) -> None:
            self.step(stage, before + done - self.done)

        return report
