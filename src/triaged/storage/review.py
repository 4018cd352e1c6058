"""Tables of the review queue (Alembic revision ``0002_review``).

``review_items``: one row per decision that needs a human (``hold``, ``review``)
or was drawn into the random ``audit`` sample of the automatic lane; its status
moves ``pending -> claimed -> resolved`` (or back to ``pending`` on release or
lease expiry).  ``review_events``: the full history, one row per thing a person
or the system did to an item.  ``model_evaluations``: the evaluation each model
version recorded when it was trained (accuracy and ECE on held-out reviewed data).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from triaged.storage.tables import metadata

__all__ = ["model_evaluations", "review_events", "review_items"]

Stamp = DateTime(timezone=True)

review_items = Table(
    "review_items",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("decision_id", String(40), ForeignKey("decisions.id"), nullable=False),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False),
    Column("taxonomy", String(100), nullable=False),
    Column("queue", String(10), nullable=False),  # hold | review | audit
    Column("status", String(10), nullable=False),  # pending | claimed | resolved | released
    Column("claimed_by", String(40), nullable=True),  # API key id
    Column("claimed_at", Stamp, nullable=True),
    Column("lease_expires_at", Stamp, nullable=True),
    Column("action", String(20), nullable=True),  # confirm | correct | new_category | ambiguous
    Column("resolved_label", String(100), nullable=True),
    Column("new_label", String(100), nullable=True),
    Column("resolved_by", String(40), nullable=True),
    Column("note", Text, nullable=True),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("resolved_at", Stamp, nullable=True),
    # reviewer workspace (0007): 1 first review, 2 second opinion, 3 admin adjudication
    Column("review_round", Integer, nullable=False, server_default="1"),
    Column("first_by", String(40), nullable=True),  # who answered round 1
    UniqueConstraint("decision_id", name="uq_review_items_decision_id"),
    Index("ix_review_items_workspace_status_queue", "workspace_id", "status", "queue", "id"),
    Index("ix_review_items_workspace_taxonomy_status", "workspace_id", "taxonomy", "status", "id"),
    Index("ix_review_items_taxonomy_resolved", "taxonomy_id", "resolved_at"),
)

review_events = Table(
    "review_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("item_id", String(40), ForeignKey("review_items.id"), nullable=False),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("decision_id", String(40), nullable=False),
    # created | claimed | released | expired | resolved
    Column("event", String(20), nullable=False),
    Column("actor", String(40), nullable=True),  # API key id; None for the system
    Column("details", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Index("ix_review_events_item_id", "item_id", "created_at"),
    Index("ix_review_events_workspace_event", "workspace_id", "event", "created_at"),
)

model_evaluations = Table(
    "model_evaluations",
    metadata,
    Column("model_id", String(40), ForeignKey("models.id"), primary_key=True),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False, index=True),
    Column("trigger", String(20), nullable=False),  # api | cli | auto
    Column("n_examples", Integer, nullable=False),
    Column("n_review_examples", Integer, nullable=False),
    Column("n_eval", Integer, nullable=False),
    Column("evaluation", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
)
