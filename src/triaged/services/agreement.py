"""Agreement between reviewers: overlap rounds, judgments, Cohen's kappa.

With an overlap rate ``r`` for a taxonomy (:mod:`~triaged.services.review_settings`),
a share ``r`` of its items (picked by a hash of the item id, so the pick does not
depend on who answers first) is answered twice:

1. round 1: the first reviewer resolves the item as usual (the decision's final label
   is set and the usual webhook goes out, so a workflow is never held up by overlap);
   the item goes back to the queue for a second opinion;
2. round 2: a *different* reviewer answers it blind to nothing but their own judgment
   (the first answer is not shown).  The same label: the item is resolved.  Another
   label: a disagreement, routed to an admin (round 3; only admin keys claim it);
3. round 3: the admin's label becomes the final label (``decision.corrected`` when it
   changes the first reviewer's).

Every answer is one row of ``review_judgments``.  Agreement is Cohen's kappa over the
(round 1, round 2) label pairs: overall, per reviewer pair, and per label (that label
against all others).  ``ambiguous`` counts as its own category.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from triaged.services.label_lineage import lineage, version_at
from triaged.storage import agreement_repo
from triaged.storage.review_repo import ADJUDICATION, FIRST, SECOND

__all__ = [
    "ADJUDICATION",
    "AMBIGUOUS",
    "FIRST",
    "SECOND",
    "answer_of",
    "answers",
    "cohen_kappa",
    "next_round",
    "overlap_pick",
    "pairs",
    "record",
    "stats",
    "withdraw",
]

AMBIGUOUS = "(ambiguous)"  # the category of an ``ambiguous`` answer in the kappa tables


def overlap_pick(item_id: str, rate: float) -> bool:
    """Whether ``item_id`` is one of the ``rate`` share answered twice (stable per item)."""
    if rate <= 0.0:
        return False
    draw = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big") / 2.0**64
    return draw < rate


def record(
    conn: Connection,
    row: Any,
    *,
    reviewer: str,
    action: str,
    label: str | None,
    now: datetime,
) -> None:
    """Write ``reviewer``'s answer to the item ``row`` in its current round."""
    agreement_repo.insert_judgment(
        conn, row, reviewer=reviewer, action=action, label=label, now=now
    )


def answer_of(conn: Connection, item_id: str, round_: int) -> Any:
    """The standing (not withdrawn) judgment of round ``round_`` of an item, or None."""
    return agreement_repo.answer_of(conn, item_id, round_)


def withdraw(conn: Connection, judgment_id: str, now: datetime) -> None:
    agreement_repo.withdraw(conn, judgment_id, now)


def next_round(conn: Connection, row: Any, label: str | None, overlap_rate: float) -> int | None:
    """The round the item goes to after this answer (None: it is resolved)."""
    if row.review_round == FIRST:
        return SECOND if overlap_pick(row.id, overlap_rate) else None
    if row.review_round == SECOND:
        first = answer_of(conn, row.id, FIRST)
        if first is not None and first.label != label and _said_now(conn, first) != label:
            return ADJUDICATION
    return None


def _said_now(conn: Connection, judgment: Any) -> str | None:
    """A judgment's label under the name it goes by now: it named the label as the
    taxonomy version in force then did (a first answer "bug" and a second "defect" after
    "bug" was renamed agree)."""
    if judgment.label is None:
        return None
    version = version_at(conn, judgment.taxonomy_id)(judgment.created_at)
    return lineage(conn, judgment.taxonomy_id, {version}).now(version, judgment.label)


# ------------------------------------------------------------------ kappa
def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels for the same items (None when undefined:
    no items, or both raters always used one and the same category)."""
    n = len(a)
    if n == 0 or n != len(b):
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def pairs(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy_id: str | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """The (first, second) answers of every item answered twice, oldest first."""
    rows = agreement_repo.overlap_judgments(conn, workspace_id, taxonomy_id=taxonomy_id)
    by_item: dict[str, dict[int, Any]] = defaultdict(dict)
    for r in rows:
        by_item[r.item_id][r.review_round] = r
    out = []
    for item_id, answers in by_item.items():
        first, second = answers.get(FIRST), answers.get(SECOND)
        if first is None or second is None:
            continue
        if since is not None and second.created_at is not None and second.created_at < since:
            continue
        out.append(
            {
                "item_id": item_id,
                "first_reviewer": first.reviewer,
                "second_reviewer": second.reviewer,
                "first_label": first.label or AMBIGUOUS,
                "second_label": second.label or AMBIGUOUS,
            }
        )
    return out


def stats(
    conn: Connection,
    workspace_id: str,
    *,
    taxonomy_id: str | None = None,
    overlap_rate: float | None = None,
) -> dict[str, Any]:
    """Kappa overall, per reviewer pair and per label, over the items answered twice."""
    ps = pairs(conn, workspace_id, taxonomy_id=taxonomy_id)
    first = [p["first_label"] for p in ps]
    second = [p["second_label"] for p in ps]
    names = agreement_repo.key_names(
        conn, {p["first_reviewer"] for p in ps} | {p["second_reviewer"] for p in ps}
    )
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in ps:
        key = tuple(sorted((p["first_reviewer"], p["second_reviewer"])))
        by_pair[(key[0], key[1])].append(p)
    pair_rows = []
    for (ra, rb), items in sorted(by_pair.items()):
        # each rater's labels in the pair's own order (rater ra first)
        la = [p["first_label"] if p["first_reviewer"] == ra else p["second_label"] for p in items]
        lb = [p["second_label"] if p["first_reviewer"] == ra else p["first_label"] for p in items]
        pair_rows.append(
            {
                "reviewers": [ra, rb],
                "names": [names.get(ra, ra), names.get(rb, rb)],
                "items": len(items),
                "agreement": sum(x == y for x, y in zip(la, lb, strict=True)) / len(items),
                "kappa": cohen_kappa(la, lb),
            }
        )
    labels = sorted(set(first) | set(second))
    label_rows = [
        {
            "label": lab,
            "items": sum(1 for x, y in zip(first, second, strict=True) if lab in (x, y)),
            "kappa": cohen_kappa([str(x == lab) for x in first], [str(y == lab) for y in second]),
        }
        for lab in labels
    ]
    return {
        "overlap_rate": overlap_rate,
        "items": len(ps),
        "agreement": (sum(x == y for x, y in zip(first, second, strict=True)) / len(ps))
        if ps
        else None,
        "kappa": cohen_kappa(first, second),
        "by_pair": pair_rows,
        "by_label": label_rows,
        "open_disagreements": agreement_repo.open_disagreements(conn, workspace_id, taxonomy_id),
    }


def answers(conn: Connection, workspace_id: str, item_id: str) -> list[dict[str, Any]]:
    """The standing judgments of an item, oldest first, with the reviewers' key names."""
    rows = agreement_repo.item_answers(conn, workspace_id, item_id)
    names = agreement_repo.key_names(conn, {r.reviewer for r in rows})
    return [
        {
            "round": r.review_round,
            "reviewer": names.get(r.reviewer, r.reviewer),
            "reviewer_id": r.reviewer,
            "action": r.action,
            "label": r.label,
        }
        for r in rows
    ]
