"""A stored taxonomy definition keeps only the thresholds it sets.

Until 6 December every version was stored with both thresholds, the defaults (auto 0.85,
review 0.60) filling in those the definition did not set, and taxonomies showed them as if
asked for while the routing policy decided.  A stored threshold at its default value is
taken as not set (one set to exactly the default cannot be told apart: the routing policy
it pinned stays as it is); other values stay.

Revision ID: 0018_definition_thresholds
Revises: 0017_webhook_delivery_order
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0018_definition_thresholds"
down_revision = "0017_webhook_delivery_order"
branch_labels = None
depends_on = None

DEFAULTS = {"auto": 0.85, "review": 0.60}

_versions = sa.table(
    "taxonomy_versions", sa.column("id", sa.String), sa.column("definition", sa.JSON)
)


def _rewrite(change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_versions.c.id, _versions.c.definition)).all()
    for version_id, definition in rows:
        data = json.loads(definition) if isinstance(definition, str) else definition
        new = change(dict(data)) if isinstance(data, dict) else None
        if new is not None:
            conn.execute(
                sa.update(_versions).where(_versions.c.id == version_id).values(definition=new)
            )


def _unset_defaults(data: dict[str, Any]) -> dict[str, Any] | None:
    thresholds = data.get("thresholds")
    if not isinstance(thresholds, dict):
        return None
    kept = {k: v for k, v in thresholds.items() if DEFAULTS.get(k) != v}
    if kept == thresholds:
        return None
    data["thresholds"] = kept  # {}: none set, as a definition stores it now
    return data


def _fill_defaults(data: dict[str, Any]) -> dict[str, Any] | None:
    thresholds = data.get("thresholds") or {}
    if not isinstance(thresholds, dict) or set(thresholds) >= set(DEFAULTS):
        return None
    data["thresholds"] = {**DEFAULTS, **thresholds}
    return data


def upgrade() -> None:
    _rewrite(_unset_defaults)


def downgrade() -> None:
    _rewrite(_fill_defaults)
