"""Erasing decisions: what a workspace asks for when a person's data must go (a support
ticket's author invoking their right to erasure), and the retention that erases every
decision older than ``TRIAGED_DECISION_RETENTION_DAYS``.

An erased decision keeps what is not personal data and what the service's figures rest
on (its label, confidence, bucket, routing, review outcome, time, external id), and loses
its text and metadata everywhere a copy was kept (:mod:`triaged.storage.erasure_repo`).
Retraining and the insights skip it (they need its text); the lane's evidence, the bucket
shares and the usage counts keep it.  Written by hand: no library knows this schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput, NotFound, ValidationFailed
from triaged.storage import erasure_repo
from triaged.storage.db import Database
from triaged.webhooks.events import enqueue_event

__all__ = ["MAX_ERASE", "RETENTION_BATCH", "WITHDRAWN_EVENT", "erase_decisions", "erase_expired"]

WITHDRAWN_EVENT = "decision.withdrawn"

MAX_ERASE = 1000  # ids, or external ids, per request
RETENTION_BATCH = 500  # decisions per transaction of the retention
RETENTION_MAX_BATCHES = 200  # per round: the rest waits for the next hour


def _listed(values: Sequence[str] | None, field: str) -> list[str]:
    out = list(dict.fromkeys(values or ()))
    if len(out) > MAX_ERASE:
        raise InvalidInput(
            f"{field}: at most {MAX_ERASE} per request, got {len(out)}",
            details={"field": field, "limit": MAX_ERASE, "got": len(out)},
        )
    return out


def erase_decisions(
    conn: Connection,
    workspace_id: str,
    *,
    ids: Sequence[str] | None,
    external_ids: Sequence[str] | None,
    now: datetime,
) -> dict[str, Any]:
    """Erase the workspace's decisions ``ids`` and those sent with any of ``external_ids``
    (all or nothing: an unknown id is a 404 and nothing is erased; an external id no
    decision has matches none).  ``erased``: how many were not erased before (erasing
    again is harmless); ``decisions``: every id matched."""
    wanted = _listed(ids, "ids")
    external = _listed(external_ids, "external_ids")
    if not wanted and not external:
        raise ValidationFailed(
            "give the decisions to erase: `ids`, `external_ids` or both",
            details={"field": "ids", "reason": "nothing_to_erase"},
        )
    known = erasure_repo.known_ids(conn, workspace_id, wanted)
    missing = [i for i in wanted if i not in known]
    if missing:
        raise NotFound(
            f"no decision {missing[0]!r} in this workspace"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; nothing was erased",
            details={"missing": missing[:50], "count": len(missing)},
        )
    matched = list(
        dict.fromkeys([*wanted, *erasure_repo.with_external_ids(conn, workspace_id, external)])
    )
    erased = _erase(conn, workspace_id, matched, now)
    return {"erased": erased, "decisions": matched}


def _erase(conn: Connection, workspace_id: str, ids: list[str], now: datetime) -> int:
    """Erase ``ids``; each review item withdrawn sends ``decision.withdrawn`` (a workflow
    waiting for a held decision's review learns that none will come)."""
    erased, withdrawn = erasure_repo.erase(conn, workspace_id, ids, now)
    for item in withdrawn:
        enqueue_event(
            conn,
            workspace_id=workspace_id,
            event_type=WITHDRAWN_EVENT,
            data={
                "decision_id": item.decision_id,
                "review_item_id": item.id,
                "queue": item.queue,
                "external_id": item.external_id,
                "reason": "erased",
                "erased_at": now.isoformat(),
            },
        )
    return erased


def erase_expired(db: Database, retention: timedelta, now: datetime) -> int:
    """Erase the decisions made more than ``retention`` before ``now`` (a batch per
    transaction, at most :data:`RETENTION_MAX_BATCHES` batches); returns how many."""
    done = 0
    for _ in range(RETENTION_MAX_BATCHES):
        with db.write() as conn:
            rows = erasure_repo.expired_decisions(conn, now - retention, RETENTION_BATCH)
            by_workspace: dict[str, list[str]] = {}
            for row in rows:
                by_workspace.setdefault(str(row.workspace_id), []).append(str(row.id))
            for workspace_id, ids in by_workspace.items():
                done += _erase(conn, workspace_id, ids, now)
        if len(rows) < RETENTION_BATCH:
            break
    return done
