"""Webhook tables: endpoints per workspace, the durable event outbox, deliveries and attempts.

``webhook_events`` is the outbox: :func:`triaged.webhooks.enqueue_event` writes one
row (and one ``webhook_deliveries`` row per subscribed endpoint) in the caller's
transaction, so an event exists exactly when the change that caused it was
committed.  The delivery worker claims due deliveries, posts them and logs every
try in ``webhook_attempts``.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from triaged.storage.tables import Stamp, metadata

__all__ = ["webhook_attempts", "webhook_deliveries", "webhook_endpoints", "webhook_events"]

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False),
    # kept in clear: the service needs it to sign; shown to the user once, at creation
    Column("secret", String(100), nullable=False),
    # after a rotation the old secret also signs until previous_expires_at
    Column("previous_secret", String(100), nullable=True),
    Column("previous_expires_at", Stamp, nullable=True),
    Column("description", String(200), nullable=False, server_default=""),
    Column("created_at", Stamp, nullable=False),
    Column("deleted_at", Stamp, nullable=True),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("type", String(60), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    # the decision a ``decision.*`` event is about (an erase clears its metadata)
    Column("decision_id", String(40), nullable=True),
    Index("ix_webhook_events_workspace_id_id", "workspace_id", "id"),
    Index("ix_webhook_events_workspace_decision", "workspace_id", "decision_id"),
)

# status: pending -> delivering (claimed, lease in claimed_until) -> delivered | failed
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("event_id", String(40), ForeignKey("webhook_events.id"), nullable=False, index=True),
    Column("endpoint_id", String(40), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("workspace_id", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Stamp, nullable=False),
    Column("claim_token", String(40), nullable=True),
    Column("claimed_until", Stamp, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("finished_at", Stamp, nullable=True),
    # what the event is about (a decision id for decision.* events): an endpoint gets the
    # events of one subject in the order they happened (one at a time)
    Column("subject", String(40), nullable=True),
    Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    Index("ix_webhook_deliveries_endpoint_subject", "endpoint_id", "subject", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "delivery_id", String(40), ForeignKey("webhook_deliveries.id"), nullable=False, index=True
    ),
    Column("attempt", Integer, nullable=False),
    Column("started_at", Stamp, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_excerpt", Text, nullable=True),
)
