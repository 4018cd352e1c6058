"""What the dashboard may honestly claim: reliability measured on the random audit sample
of the automatic lane only (unbiased, unlike all reviewed items, which are mostly held
ones), with counts and an exact interval per bin; and how much decision history a
taxonomy has (drift compares the last day with the week before it)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from triaged.services import taxonomies as taxo
from triaged.services.ids import as_utc
from triaged.services.keys import Principal, Role
from triaged.services.review_stats import DECISIVE, clopper_pearson, models_right
from triaged.storage import review_stats_repo

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = ["DRIFT_HISTORY_DAYS", "audited_reliability", "history_days"]

DRIFT_HISTORY_DAYS = 8  # the last day against the seven before it
READ_ROLES = (Role.ADMIN, Role.REVIEWER)


def audited_reliability(
    service: Service, principal: Principal, taxonomy: str, *, since: datetime, bins: int = 10
) -> dict[str, Any]:
    """Per equal-width confidence bin of the audited ``auto`` decisions since ``since``:
    count, mean confidence, accuracy and its 95% Clopper-Pearson interval."""
    principal.require(*READ_ROLES)
    with service.db.read() as conn:
        record = taxo.get_record(conn, principal.workspace_id, taxonomy)
        rows = review_stats_repo.audited_rows(
            conn, principal.workspace_id, record.id, DECISIVE, since
        )
        right = models_right(conn, record.id, rows)
    slots: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for row, ok in zip(rows, right, strict=True):
        i = min(bins - 1, max(0, int(float(row.confidence) * bins)))
        slots[i].append((float(row.confidence), ok))
    out = []
    for i, members in enumerate(slots):
        if not members:
            continue
        k = sum(1 for _, ok in members if ok)
        lo, hi = clopper_pearson(k, len(members))
        out.append(
            {
                "lower_edge": i / bins,
                "upper_edge": (i + 1) / bins,
                "count": len(members),
                "correct": k,
                "confidence": sum(cf for cf, _ in members) / len(members),
                "accuracy": k / len(members),
                "interval": [lo, hi],
            }
        )
    return {"n": len(rows), "bins": out}


def history_days(service: Service, principal: Principal, taxonomy: str, *, now: datetime) -> float:
    """Days since the taxonomy's first logged decision (0 with none)."""
    principal.require(*READ_ROLES)
    with service.db.read() as conn:
        record = taxo.get_record(conn, principal.workspace_id, taxonomy)
        first = review_stats_repo.first_decision_at(conn, principal.workspace_id, record.id)
    if first is None:
        return 0.0
    return max(0.0, (now - as_utc(first)).total_seconds() / 86_400)
