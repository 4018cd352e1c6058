"""Turns on liblinear's random generator: a dual fit alone, primal fits together."""

from __future__ import annotations

import threading
import time

from triaged.models.solver_turns import SolverTurns


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def test_primal_fits_share_and_a_dual_fit_waits_for_them_and_goes_first() -> None:
    turns = SolverTurns()
    log: list[str] = []
    release = threading.Event()

    def holder(name: str, dual: bool, until: threading.Event | None) -> None:
        with turns.turn(dual):
            log.append(f"{name} in")
            if until is not None:
                until.wait(30)
            log.append(f"{name} out")

    a = threading.Thread(target=holder, args=("primal-a", False, release))
    b = threading.Thread(target=holder, args=("primal-b", False, release))
    a.start()
    b.start()
    _until(lambda: log.count("primal-a in") + log.count("primal-b in") == 2, "two primal in")
    assert turns._sharing == 2  # both hold a turn at once
    dual = threading.Thread(target=holder, args=("dual", True, None))
    dual.start()
    _until(lambda: turns._waiting_alone == 1, "the dual fit waits")
    late = threading.Thread(target=holder, args=("primal-late", False, None))
    late.start()
    _until(lambda: len(turns._cond._waiters) == 2, "the late primal fit waits")  # type: ignore[attr-defined]
    assert "dual in" not in log and "primal-late in" not in log
    release.set()
    for t in (a, b, dual, late):
        t.join(30)
    # the dual fit ran alone: after both primal fits left, before the late one came in
    i = log.index("dual in")
    assert log[i + 1] == "dual out"
    assert {"primal-a out", "primal-b out"} <= set(log[:i])
    assert log[i + 2 :] == ["primal-late in", "primal-late out"]


def test_dual_fits_take_turns() -> None:
    turns = SolverTurns()
    inside = 0
    most = 0
    lock = threading.Lock()

    def fit() -> None:
        nonlocal inside, most
        for _ in range(200):
            with turns.turn(True):
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0)  # let another thread try
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=fit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert most == 1
