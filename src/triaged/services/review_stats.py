"""Queue metrics and the measured error of each routing lane.

* depth and oldest age per queue (:func:`triaged.services.review_queue.counts`);
* decisions per reviewer per day (answers that stand: one taken back by a reopen does not);
* agreement of reviewers with the model per bucket;
* lane error: the share of reviewed decisions whose label was wrong, per lane,
  with an exact 95% Clopper–Pearson interval.  The ``auto`` lane is measured on
  its random audit sample only, so its estimate is unbiased; ``review`` and
  ``hold`` are measured on every reviewed item of their queue.

``ambiguous`` resolutions say nothing about whether the model was right and are
left out of agreement and error; ``new_category`` and ``out_of_scope`` (the input fits
no label) count as the model being wrong: an audited ``auto`` decision marked out of
scope is an error of the auto lane.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from scipy.special import betaincinv
from sqlalchemy import Connection

from triaged.services.ids import as_utc
from triaged.services.label_lineage import lineage
from triaged.services.review_queue import QUEUE_BUCKET, Action, Queue, counts
from triaged.storage import review_stats_repo

__all__ = [
    "DECISIVE",
    "clopper_pearson",
    "lane_error",
    "model_was_right",
    "models_right",
    "review_stats",
    "standing_answers",
]

DECISIVE = (
    Action.CONFIRM.value,
    Action.CORRECT.value,
    Action.NEW_CATEGORY.value,
    Action.OUT_OF_SCOPE.value,
)


def model_was_right(action: str, resolved_label: str | None, model_label: str) -> bool:
    """Whether a decisive review agreed with the model's label (``out_of_scope``: never)."""
    return action == Action.CONFIRM.value or (
        action == Action.CORRECT.value and resolved_label == model_label
    )


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for ``k`` successes out of ``n`` (``(0, 1)`` when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    upper = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - alpha / 2))
    return lower, upper


def _outcomes(
    conn: Connection, workspace_id: str, taxonomy: str | None, since: datetime | None
) -> dict[str, tuple[int, int]]:
    """Per queue: (decisive reviews, reviews where the model's label was wrong).

    A correction is read as the routing evidence reads it
    (:func:`triaged.services.routing_policy.reviews.model_wrong`): both labels under their
    names now, so that a correction to the label the model's was renamed or merged into
    says the model was right (before corrections to a renamed label's new name were
    recorded as ``confirm``, they counted here as errors the routing policy did not see)."""
    others = tuple(a for a in DECISIVE if a != Action.CORRECT.value)
    rows = review_stats_repo.outcome_rows(conn, workspace_id, others, taxonomy, since)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for queue, action, resolved_label, model_label, n in rows:
        agreed = model_was_right(action, resolved_label, model_label)
        out[queue][0] += int(n)
        if not agreed:
            out[queue][1] += int(n)
    for queue, wrong in _corrections(conn, workspace_id, taxonomy, since):
        out[queue][0] += 1
        out[queue][1] += int(wrong)
    return {q: (v[0], v[1]) for q, v in out.items()}


def _corrections(
    conn: Connection, workspace_id: str, taxonomy: str | None, since: datetime | None
) -> list[tuple[str, bool]]:
    """(queue, model wrong) of every ``correct`` answer, labels read under today's names."""
    rows = review_stats_repo.correction_rows(conn, workspace_id, taxonomy, since)
    per_taxonomy: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        per_taxonomy[str(row.taxonomy_id)].append(row)
    out: list[tuple[str, bool]] = []
    for taxonomy_id, mine in per_taxonomy.items():
        right = models_right(conn, taxonomy_id, mine)
        out.extend((str(r.queue), not ok) for r, ok in zip(mine, right, strict=True))
    return out


def models_right(conn: Connection, taxonomy_id: str, rows: Sequence[Any]) -> list[bool]:
    """Per decisive review of the taxonomy (``action``, ``resolved_label``, ``label``,
    ``taxonomy_version``, ``resolved_at``): whether it found the model right.  A correction
    compares both labels under their names now, as the routing evidence does
    (:func:`triaged.services.routing_policy.reviews.model_wrong`): a correction to the
    label the model's was renamed or merged into since says the model was right."""
    fixes = {int(r.taxonomy_version) for r in rows if r.action == Action.CORRECT.value}
    lin = lineage(conn, taxonomy_id, fixes) if fixes else None
    return [
        lin.agrees(int(r.taxonomy_version), r.label, r.resolved_at, r.resolved_label)
        if lin is not None and r.action == Action.CORRECT.value
        else model_was_right(r.action, r.resolved_label, r.label)
        for r in rows
    ]


def lane_error(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy: str | None = None,
    since: datetime | None = None,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Measured error per lane (``auto`` from the audit sample) with a Clopper–Pearson interval."""
    outcomes = _outcomes(conn, workspace_id, taxonomy, since)
    lanes: dict[str, dict[str, Any]] = {}
    for queue in (Queue.AUDIT, Queue.REVIEW, Queue.HOLD):
        n, errors = outcomes.get(queue.value, (0, 0))
        lower, upper = clopper_pearson(errors, n, confidence)
        lanes[QUEUE_BUCKET[queue].value] = {
            "queue": queue.value,
            "reviewed": n,
            "errors": errors,
            "error": errors / n if n else None,
            "ci_low": lower,
            "ci_high": upper,
            "confidence_level": confidence,
            "method": "clopper-pearson",
        }
    return lanes


def standing_answers(
    conn: Connection,
    workspace_id: str,
    since: datetime,
    taxonomy: str | None = None,
    actor: str | None = None,
) -> list[tuple[str, datetime]]:
    """(reviewer, when) of the answers given since ``since`` that stand: a ``reopened``
    event withdraws its reviewer's latest answer to the item before it, which then counts
    for no one (the review stats and a reviewer's progress count the same answers)."""
    rows = review_stats_repo.answer_events(conn, workspace_id, since, taxonomy, actor)
    order = {"resolved": 0, "reopened": 1}  # an answer before its reopen at the same instant
    rows.sort(key=lambda r: (r.item_id, as_utc(r.created_at), order[r.event], r.id))
    standing: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for r in rows:
        mine = standing[(r.item_id, r.actor or "")]
        if r.event == "resolved":
            mine.append(as_utc(r.created_at))
        elif mine:  # the withdrawn answer (none here: it was given before ``since``)
            mine.pop()
    return [(who, at) for (_, who), stamps in standing.items() for at in stamps]


def _per_reviewer(
    conn: Connection, workspace_id: str, since: datetime, taxonomy: str | None = None
) -> list[dict[str, Any]]:
    per: dict[tuple[str, str], int] = defaultdict(int)
    for actor, at in standing_answers(conn, workspace_id, since, taxonomy):
        per[(actor or "", as_utc(at).date().isoformat())] += 1
    return [
        {"reviewer": actor, "day": day, "decisions": n}
        for (actor, day), n in sorted(per.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def review_stats(
    conn: Connection,
    workspace_id: str,
    *,
    now: datetime,
    taxonomy: str | None = None,
    days: int = 30,
) -> dict[str, Any]:
    """Everything ``GET /v1/review/stats`` shows."""
    queues = counts(conn, workspace_id, now=now, taxonomy=taxonomy)
    outcomes = _outcomes(conn, workspace_id, taxonomy, None)
    agreement: dict[str, dict[str, Any]] = {}
    for queue in Queue:
        n, errors = outcomes.get(queue.value, (0, 0))
        agreement[QUEUE_BUCKET[queue].value] = {
            "queue": queue.value,
            "reviewed": n,
            "agreed": n - errors,
            "rate": (n - errors) / n if n else None,
        }
    return {
        "taxonomy": taxonomy,
        "generated_at": now.isoformat(),
        "queues": queues,
        "counts": {q: v["open"] for q, v in queues.items()},
        "oldest_age_seconds": {q: v["oldest_age_seconds"] for q, v in queues.items()},
        "reviewers": _per_reviewer(conn, workspace_id, now - timedelta(days=days), taxonomy),
        "agreement": agreement,
        "lane_error": lane_error(conn, workspace_id, taxonomy=taxonomy),
    }
