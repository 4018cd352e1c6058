"""Identifiers and the clock: :mod:`triaged.storage.ids` (they name rows), re-exported here
for the service modules."""

from __future__ import annotations

from triaged.storage.ids import as_utc, new_id, utcnow

__all__ = ["as_utc", "new_id", "utcnow"]
