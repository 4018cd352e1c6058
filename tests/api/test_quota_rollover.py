"""The monthly quota at the turn of the month, on each backend (real database, the
service's own counting statement)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.servicekit import Stack
from triaged.errors import QuotaExceeded
from triaged.services import quota


def _at(*args: int) -> quota.Window:
    return quota.window(datetime(*args, tzinfo=UTC).timestamp())


def test_a_request_counted_late_does_not_take_the_month_back(stack: Stack) -> None:
    """A request's window is taken when it starts and counted when it commits: one that
    started on 30 November and committed after December's first requests set the counter
    back to November with its own count, and the next December request started December
    again from zero (the 60 requests before it forgotten: 160 passed a 100 quota)."""
    svc = stack.service
    principal = svc.authenticate(stack.tenant("free").key)
    ws, plan = principal.workspace_id, svc.workspace_plan(principal.plan)
    late, december = _at(2026, 11, 30, 23, 59, 59), _at(2026, 12, 1, 0, 0, 1)
    with svc.db.write() as conn:
        quota.consume(conn, ws, plan, 60, december)
    with svc.db.write() as conn:
        quota.consume(conn, ws, plan, 1, late)  # started in November, counted now
    with svc.db.read() as conn:
        assert quota.usage(conn, ws, plan, december)["used"] == 61
    with svc.db.write() as conn:
        quota.consume(conn, ws, plan, 39, december)
    with pytest.raises(QuotaExceeded) as info, svc.db.write() as conn:
        quota.consume(conn, ws, plan, 1, december)
    assert info.value.details["used"] == 100
    with pytest.raises(QuotaExceeded), svc.db.write() as conn:  # a late one is refused too
        quota.consume(conn, ws, plan, 1, late)
    with svc.db.write() as conn:  # January starts from zero
        quota.consume(conn, ws, plan, 1, _at(2027, 1, 1))
    with svc.db.read() as conn:
        assert quota.usage(conn, ws, plan, _at(2027, 1, 1, 0, 5))["used"] == 1
