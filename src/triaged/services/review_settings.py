"""Per-taxonomy review settings: the reviewers' guidelines, the overlap rate (the share
of items a second reviewer answers too, for agreement) and the reopen window (how long
a reviewer may take back their own resolution).  A taxonomy without a row has the
defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from triaged.errors import InvalidInput
from triaged.services.ids import as_utc
from triaged.storage import review_settings_repo

__all__ = [
    "DEFAULT_REOPEN_WINDOW_S",
    "MAX_GUIDELINES",
    "MAX_REOPEN_WINDOW_S",
    "ReviewSettings",
    "get",
    "put",
]

DEFAULT_REOPEN_WINDOW_S = 900
MAX_REOPEN_WINDOW_S = 7 * 86_400
MAX_GUIDELINES = 20_000


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    guidelines: str = ""
    overlap_rate: float = 0.0
    reopen_window_seconds: int = DEFAULT_REOPEN_WINDOW_S
    updated_at: str | None = None
    updated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def get(conn: Connection, taxonomy_id: str) -> ReviewSettings:
    row = review_settings_repo.settings_row(conn, taxonomy_id)
    if row is None:
        return ReviewSettings()
    return ReviewSettings(
        guidelines=row.guidelines,
        overlap_rate=float(row.overlap_rate),
        reopen_window_seconds=int(row.reopen_window_seconds),
        updated_at=as_utc(row.updated_at).isoformat(),
        updated_by=row.updated_by,
    )


def _check(guidelines: str, overlap_rate: float, reopen_window_seconds: int) -> None:
    if len(guidelines) > MAX_GUIDELINES:
        raise InvalidInput(
            f"guidelines: at most {MAX_GUIDELINES} characters", details={"field": "guidelines"}
        )
    if not 0.0 <= overlap_rate <= 1.0:
        raise InvalidInput(
            "overlap_rate must be between 0 and 1",
            details={"field": "overlap_rate", "value": overlap_rate},
        )
    if not 0 <= reopen_window_seconds <= MAX_REOPEN_WINDOW_S:
        raise InvalidInput(
            f"reopen_window_seconds must be between 0 and {MAX_REOPEN_WINDOW_S}",
            details={"field": "reopen_window_seconds", "value": reopen_window_seconds},
        )


def put(
    conn: Connection,
    *,
    workspace_id: str,
    taxonomy_id: str,
    key_id: str,
    now: datetime,
    guidelines: str | None = None,
    overlap_rate: float | None = None,
    reopen_window_seconds: int | None = None,
) -> ReviewSettings:
    """Change the given fields (the others keep their value) and return the result."""
    old = get(conn, taxonomy_id)
    text = old.guidelines if guidelines is None else guidelines
    rate = old.overlap_rate if overlap_rate is None else float(overlap_rate)
    window = (
        old.reopen_window_seconds if reopen_window_seconds is None else int(reopen_window_seconds)
    )
    _check(text, rate, window)
    values = {"guidelines": text, "overlap_rate": rate, "reopen_window_seconds": window}
    stamp = {"updated_at": now, "updated_by": key_id}
    if old.updated_at is None:
        review_settings_repo.insert_settings(
            conn, taxonomy_id=taxonomy_id, workspace_id=workspace_id, **values, **stamp
        )
    else:
        review_settings_repo.update_settings(conn, taxonomy_id, **values, **stamp)
    return get(conn, taxonomy_id)
