"""Turns on liblinear's one random generator, for SVM fits in threads.

scikit-learn's liblinear keeps one random generator for the whole process and seeds it at
the start of every fit, primal or dual.  The dual solver draws from it (it shuffles the
rows); the primal solver only seeds it.  Two fits side by side in threads therefore give a
dual fit a result that depends on timing whenever another fit starts during it, while
primal fits may overlap each other freely (none of them reads what the others write).

So a dual fit runs alone and primal fits share: a readers-writer lock with the dual fit as
the writer.  The standard library has none; this one is small and prefers the writer, so a
stream of primal fits cannot starve a dual one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

__all__ = ["SolverTurns", "solver_turns"]


class SolverTurns:
    """``alone()`` excludes every other holder; ``shared()`` excludes only ``alone()``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharing = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._alone or self._waiting_alone:
                self._cond.wait()
            self._sharing += 1
        try:
            yield
        finally:
            with self._cond:
                self._sharing -= 1
                if not self._sharing:
                    self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._waiting_alone += 1
            try:
                while self._alone or self._sharing:
                    self._cond.wait()
            finally:
                self._waiting_alone -= 1
                self._cond.notify_all()  # shared turns that waited on this one look again
            self._alone = True
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()

    def turn(self, dual: bool) -> AbstractContextManager[None]:
        """The turn a liblinear fit takes: alone for the dual solver, shared for the primal."""
        return self.alone() if dual else self.shared()


#: the process's one set of turns (liblinear's generator is one per process)
solver_turns = SolverTurns()
