"""The outbox and endpoints: same-transaction writes, fan-out, isolation, validation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from triaged.errors import InvalidInput, NotFound
from triaged.storage.webhooks import webhook_deliveries, webhook_events
from triaged.webhooks import (
    create_endpoint,
    delete_endpoint,
    enqueue_event,
    get_endpoint,
    list_deliveries,
    list_endpoints,
)


def _count(env, table):
    with env.db.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_event_is_written_in_the_callers_transaction(env):
    with env.db.write() as conn:
        create_endpoint(conn, env.workspace_id, "http://127.0.0.1:9/h", ["decision.resolved"])
    with pytest.raises(RuntimeError), env.db.write() as conn:
        enqueue_event(conn, workspace_id=env.workspace_id, event_type="decision.resolved", data={})
        raise RuntimeError("the caller's change failed")
    assert _count(env, webhook_events) == 0
    assert _count(env, webhook_deliveries) == 0
    with env.db.write() as conn:
        event_id = enqueue_event(
            conn, workspace_id=env.workspace_id, event_type="decision.resolved", data={"x": 1}
        )
    assert event_id.startswith("evt_")
    with env.db.read() as conn:
        payload = conn.execute(select(webhook_events.c.payload)).scalar_one()
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["id"] == event_id and payload["data"] == {"x": 1}
    assert _count(env, webhook_deliveries) == 1


def test_fan_out_only_to_subscribed_live_endpoints_of_the_workspace(env):
    with env.db.write() as conn:
        resolved = create_endpoint(conn, env.workspace_id, "http://a.test/h", ["decision.resolved"])
        both = create_endpoint(
            conn, env.workspace_id, "http://b.test/h", ["decision.corrected", "decision.resolved"]
        )
        gone = create_endpoint(conn, env.workspace_id, "http://c.test/h", ["decision.corrected"])
        create_endpoint(conn, env.other_workspace_id, "http://d.test/h", ["decision.corrected"])
        delete_endpoint(conn, env.workspace_id, gone.id)
        enqueue_event(conn, workspace_id=env.workspace_id, event_type="decision.corrected", data={})
    with env.db.read() as conn:
        assert list_deliveries(conn, env.workspace_id, resolved.id) == []
        assert len(list_deliveries(conn, env.workspace_id, both.id)) == 1
        assert both.events == ["decision.resolved", "decision.corrected"]
        # listed in creation order: ids sort by creation, even within one millisecond
        # (services/ids.py; random ids within a millisecond made this flaky)
        assert [e.id for e in list_endpoints(conn, env.workspace_id)] == [resolved.id, both.id]


def test_endpoints_of_another_workspace_are_not_found(env):
    with env.db.write() as conn:
        ep = create_endpoint(conn, env.workspace_id, "https://x.test/h", ["decision.resolved"])
    with env.db.write() as conn:
        with pytest.raises(NotFound):
            get_endpoint(conn, env.other_workspace_id, ep.id)
        with pytest.raises(NotFound):
            delete_endpoint(conn, env.other_workspace_id, ep.id)
        with pytest.raises(NotFound):
            list_deliveries(conn, env.other_workspace_id, ep.id)


def test_secret_is_returned_once(env):
    with env.db.write() as conn:
        ep = create_endpoint(conn, env.workspace_id, "https://x.test/h", ["decision.resolved"])
    assert ep.secret and ep.secret.startswith("whsec_") and "secret" in ep.to_dict()
    with env.db.read() as conn:
        assert "secret" not in get_endpoint(conn, env.workspace_id, ep.id).to_dict()


@pytest.mark.parametrize(
    ("url", "events"),
    [
        ("ftp://x.test/h", ["decision.resolved"]),
        ("not a url", ["decision.resolved"]),
        ("https://x.test/h", []),
        ("https://x.test/h", ["decision.deleted"]),
    ],
)
def test_invalid_endpoints_are_refused(env, url, events):
    with pytest.raises(InvalidInput), env.db.write() as conn:
        create_endpoint(conn, env.workspace_id, url, events)


def test_unknown_event_type_is_refused(env):
    with pytest.raises(InvalidInput), env.db.write() as conn:
        enqueue_event(conn, workspace_id=env.workspace_id, event_type="nope", data={})
