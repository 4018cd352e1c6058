"""Tables of the reviewer workspace (Alembic revision ``0007_review_workspace``).

``review_settings``: per taxonomy, the reviewers' guideline text, the share of items
a second reviewer sees (overlap, for agreement) and how long a reviewer may reopen
their own resolution.  ``review_judgments``: one row per reviewer's answer to an
item (round 1 the first review, 2 the second opinion of an overlap item, 3 an
admin's adjudication of a disagreement); a reopened answer is withdrawn, not deleted.
Two columns on ``review_items`` (``review_round``, ``first_by``) say which round an
item is in and who answered round 1 (a second opinion must come from someone else).
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from triaged.storage.tables import Stamp, metadata

__all__ = ["review_judgments", "review_settings"]

review_settings = Table(
    "review_settings",
    metadata,
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("guidelines", Text, nullable=False),
    Column("overlap_rate", Float, nullable=False),
    Column("reopen_window_seconds", Integer, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("updated_by", String(40), nullable=True),
)

review_judgments = Table(
    "review_judgments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(40), ForeignKey("workspaces.id"), nullable=False),
    Column("taxonomy_id", String(40), ForeignKey("taxonomies.id"), nullable=False),
    Column("item_id", String(40), ForeignKey("review_items.id"), nullable=False),
    Column("decision_id", String(40), nullable=False),
    Column("review_round", Integer, nullable=False),  # 1 first, 2 second opinion, 3 admin
    Column("reviewer", String(40), nullable=False),  # API key id
    Column("action", String(20), nullable=False),
    Column("label", String(100), nullable=True),  # the label given (None: ambiguous)
    Column("created_at", Stamp, nullable=False),
    Column("withdrawn_at", Stamp, nullable=True),  # reopened by its reviewer
    Index("ix_review_judgments_taxonomy_id", "taxonomy_id", "created_at"),
    Index("ix_review_judgments_item_id", "item_id"),
)
