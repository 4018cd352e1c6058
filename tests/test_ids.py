"""Ids sort by creation: monotonic within a millisecond, across threads and a stepped-back clock."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from triaged.storage import ids

ID = re.compile(r"^dec_[0-9a-f]{32}$")


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """``time.time_ns`` as seen by ids.py, set by the test (nanoseconds)."""
    now = [1_700_000_000_000 * 1_000_000]
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0])
    monkeypatch.setattr(ids, "_last", (0, 0))  # forget ids made earlier (at the real time)
    yield now


def test_ids_made_in_one_millisecond_sort_in_creation_order(frozen_clock: list[int]) -> None:
    made = [ids.new_id("dec") for _ in range(2000)]  # all in one (frozen) millisecond
    assert all(ID.match(i) for i in made)
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {i[4:16] for i in made} == {f"{1_700_000_000_000:012x}"}


def test_a_clock_stepping_back_does_not_reorder(frozen_clock: list[int]) -> None:
    first = ids.new_id("dec")
    frozen_clock[0] -= 5_000 * 1_000_000  # NTP steps the clock back 5 s
    second = ids.new_id("dec")
    frozen_clock[0] += 10_000 * 1_000_000
    third = ids.new_id("dec")
    assert first < second < third
    assert third[4:16] == f"{1_700_000_005_000:012x}"  # a later millisecond starts afresh


def test_overflow_of_the_random_part_moves_to_the_next_millisecond(
    frozen_clock: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ids.new_id("dec")
    ms = int(first[4:16], 16)
    monkeypatch.setattr(ids, "_last", (ms, (1 << 80) - 1))
    after = ids.new_id("dec")
    assert after > first and int(after[4:16], 16) == ms + 1


def test_ids_from_many_threads_are_unique_and_ordered_per_thread() -> None:
    out: dict[int, list[str]] = {}

    def work(n: int) -> None:
        out[n] = [ids.new_id("evt") for _ in range(500)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for chunk in out.values() for i in chunk]
    assert len(set(every)) == len(every) == 4000
    assert all(chunk == sorted(chunk) for chunk in out.values())


def test_random_parts_are_not_predictable(frozen_clock: list[int]) -> None:
    steps = set()
    previous = int(ids.new_id("dec")[16:], 16)
    for _ in range(50):
        current = int(ids.new_id("dec")[16:], 16)
        steps.add(current - previous)
        previous = current
    assert len(steps) > 45  # random steps, not +1
