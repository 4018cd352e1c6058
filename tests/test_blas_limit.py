"""Overlapping trainings share one BLAS limit: set by the first, restored by the last."""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_info

from triaged.models.blas_limit import one_blas_thread


def _blas_threads() -> set[int]:
    return {int(d["num_threads"]) for d in threadpool_info() if d["user_api"] == "blas"}


def test_the_limit_holds_until_the_last_holder_leaves_whichever_thread_it_is() -> None:
    import numpy  # noqa: F401  (loads numpy's BLAS)

    before = _blas_threads()
    if not before or max(before) < 2:
        pytest.skip("BLAS runs on one thread here already: nothing to limit")
    a_in, b_in, a_out, b_go = (threading.Event() for _ in range(4))
    seen: dict[str, set[int]] = {}

    def a() -> None:
        with one_blas_thread():
            a_in.set()
            b_in.wait(30)
        a_out.set()

    def b() -> None:
        a_in.wait(30)
        with one_blas_thread():
            b_in.set()
            a_out.wait(30)
            seen["b after a left"] = _blas_threads()
            b_go.wait(30)

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start()
    tb.start()
    ta.join(30)
    b_go.set()
    tb.join(30)
    assert seen["b after a left"] == {1}  # a started it, left first: b still runs on one
    assert _blas_threads() == before  # b, another thread, restored it
    with one_blas_thread():  # and the main thread can set it again
        assert _blas_threads() == {1}
    assert _blas_threads() == before
