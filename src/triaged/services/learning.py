"""Learning from review: reviewed decisions become examples; model versions and rollback.

A resolved review item is an example (source ``review``) of its final label:
``confirm`` and ``correct`` give an example of an existing label; ``out_of_scope``
("none of these labels") gives an out-of-scope example (label ``oos``: the engine
trains on those as negatives, never as an example of a label); ``new_category``
gives an out-of-scope example too until a label of that name is added to the
taxonomy, when it becomes an example of it; ``ambiguous`` gives nothing.

Reviewed items alone are a biased sample (the hard ones: low confidence), and a
model calibrated on them comes out under-confident on real traffic.  So recent
``auto`` decisions that no human looked at also join the training set with the
model's label (source ``auto``, at most ``review_auto_examples`` of them): the
training set then looks like the traffic, and the audit sample measures how
often those labels are wrong (the auto lane's error).

A fixed share of reviewed items (chosen by a hash of the text, so the split never
changes and a text repeated in traffic never lands on both sides) is held out of
training: each new model version is evaluated on it (accuracy, ECE), next to the
model it replaces, and the figures are stored in ``model_evaluations``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from triaged.errors import Conflict, NotFound
from triaged.services.ids import as_utc
from triaged.services.jobs import notify_model
from triaged.services.label_lineage import current_names, now_called, version_at
from triaged.services.review_queue import Action
from triaged.services.taxonomies import TaxonomyRecord, load_version
from triaged.services.training_progress import progress_view
from triaged.storage import training_repo
from triaged.taxonomy import OOS_LABEL, Example, Taxonomy

if TYPE_CHECKING:
    from triaged.classifier import Classifier

__all__ = [
    "ReviewedExample",
    "auto_examples",
    "evaluate_on",
    "is_holdout",
    "list_versions",
    "record_evaluation",
    "resolved_since_last_model",
    "reviewed_examples",
    "rollback",
    "training_taxonomy",
]

SOURCE = "review"
_DECISIVE = (
    Action.CONFIRM.value,
    Action.CORRECT.value,
    Action.NEW_CATEGORY.value,
    Action.OUT_OF_SCOPE.value,
)


def is_holdout(text: str, fraction: float) -> bool:
    """Whether a reviewed text is kept for evaluation (stable: a hash of the text)."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


@dataclass(frozen=True, slots=True)
class ReviewedExample:
    text: str
    label: str  # a label of the taxonomy, or ``oos``
    item_id: str
    decision_id: str
    queue: str
    action: str
    model_label: str
    holdout: bool
    resolved_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "label": self.label,
            "source": SOURCE,
            "item_id": self.item_id,
            "decision_id": self.decision_id,
            "queue": self.queue,
            "action": self.action,
            "model_label": self.model_label,
            "split": "eval" if self.holdout else "train",
            "resolved_at": self.resolved_at.isoformat(),
        }


def reviewed_examples(
    conn: Connection, taxonomy_id: str, labels: Sequence[str], holdout_fraction: float
) -> list[ReviewedExample]:
    """Every decisive review of the taxonomy as an example, oldest first."""
    rows = training_repo.reviewed_rows(conn, taxonomy_id, _DECISIVE)
    known = set(labels)
    # a label renamed since the review: the review is an example of its new name (the name
    # as it meant in the version in force when the review was made: a name used again
    # later is another label)
    at = version_at(conn, taxonomy_id)
    then = [at(r.resolved_at) for r in rows]
    names = current_names(conn, taxonomy_id, set(then))
    # a proposed category added as a label and renamed since
    proposals = {r.new_label for r in rows if r.new_label and r.new_label not in known}
    renamed = now_called(conn, taxonomy_id, proposals)
    out: list[ReviewedExample] = []
    for r, version in zip(rows, then, strict=True):
        if r.action == Action.OUT_OF_SCOPE.value:
            label = OOS_LABEL
        elif r.action == Action.NEW_CATEGORY.value:
            proposed = renamed.get(r.new_label, r.new_label)
            label = proposed if proposed in known else OOS_LABEL
        elif names[version].get(r.resolved_label, r.resolved_label) in known:
            label = names[version].get(r.resolved_label, r.resolved_label)
        else:  # a label since removed from the taxonomy
            continue
        out.append(
            ReviewedExample(
                text=r.text,
                label=label,
                item_id=r.id,
                decision_id=r.decision_id,
                queue=r.queue,
                action=r.action,
                model_label=r.label,
                holdout=is_holdout(r.text, holdout_fraction),
                resolved_at=as_utc(r.resolved_at),
            )
        )
    return out


def auto_examples(
    conn: Connection, taxonomy_id: str, labels: Sequence[str], limit: int
) -> list[Example]:
    """The newest ``limit`` unreviewed ``auto`` decisions, labelled as the model decided."""
    if limit <= 0:
        return []
    rows = training_repo.unreviewed_auto_rows(conn, taxonomy_id, limit)
    known = set(labels)
    # each under the name its label goes by now (from the version it was decided under)
    names = current_names(conn, taxonomy_id, {int(r.taxonomy_version) for r in rows})
    named = [Example(r.text, names[int(r.taxonomy_version)].get(r.label, r.label)) for r in rows]
    return [e for e in named if e.label in known]


def training_taxonomy(
    tax: Taxonomy, reviewed: Sequence[ReviewedExample], auto: Sequence[Example] = ()
) -> tuple[Taxonomy, dict[str, int]]:
    """The taxonomy's own examples plus the reviewed ones not held out, plus ``auto`` ones;
    and how many of each source were added (texts already present are skipped)."""
    seen = {e.text for e in tax.examples()} | set(tax.out_of_scope)
    seen |= {ex.text for ex in reviewed if ex.holdout}  # never train on evaluation texts
    extra: list[Example] = []
    added = {"review": 0, "auto": 0}
    sources = [(e.text, e.label, "review") for e in reviewed if not e.holdout]
    sources += [(e.text, e.label, "auto") for e in auto]
    for text, label, source in sources:
        if text in seen:
            continue
        seen.add(text)
        extra.append(Example(text, label))
        added[source] += 1
    extra.sort(key=lambda e: (e.label, e.text))  # the same data always trains the same model
    if not extra:
        return tax, added
    # trained on, never evidence for the auto lane: the model's own labels (an auto decision
    # on an input no label covers comes back as a "right" example of a known label), and
    # reviewed out-of-scope inputs: every review/hold item gets reviewed but only a few
    # audited auto ones, so they are mostly inputs the model already doubted, and as
    # evidence they would say unknown inputs seldom clear a threshold (the reviews' share
    # of them still counts: ``routing_policy.measured_share``)
    added_texts = {e.text for e in extra}
    no_evidence = {e.text for e in auto} & added_texts
    no_evidence |= {e.text for e in reviewed if e.label == OOS_LABEL} & added_texts
    out = tax.with_examples(extra)
    if not no_evidence:
        return out, added
    return replace(out, not_evidence=out.not_evidence | no_evidence), added


def evaluate_on(clf: Classifier, examples: Sequence[ReviewedExample]) -> dict[str, Any]:
    """Accuracy and ECE of ``clf`` on held-out reviewed examples (``oos`` is never right)."""
    from triaged.evaluation import evaluate

    usable = [e for e in examples if e.label == OOS_LABEL or e.label in clf.taxonomy.label_names]
    if not usable:
        return {"n_eval": 0, "accuracy": None, "ece": None}
    report = evaluate(clf, [e.text for e in usable], [e.label for e in usable])
    by_queue: dict[str, dict[str, Any]] = {}
    for queue in sorted({e.queue for e in usable}):
        sub = [e for e in usable if e.queue == queue]
        by_queue[queue] = {"n": len(sub)}
    return {
        "n_eval": len(usable),
        "n_in_scope": report["n_in_scope"],
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "ece": report["ece"],
        "ece_all": report["ece_all"],
        "mean_confidence": report["mean_confidence"],
        "buckets": report["buckets"],
        "by_queue": by_queue,
    }


def resolved_since_last_model(conn: Connection, taxonomy_id: str) -> int:
    """Decisive reviews of the taxonomy resolved after its newest model job was started."""
    return training_repo.resolved_since_last_model(conn, taxonomy_id, _DECISIVE)


def record_evaluation(
    conn: Connection,
    *,
    model_id: str,
    taxonomy_id: str,
    trigger: str,
    n_examples: int,
    n_review_examples: int,
    evaluation: dict[str, Any],
    now: datetime,
) -> None:
    training_repo.insert_evaluation(
        conn,
        model_id=model_id,
        taxonomy_id=taxonomy_id,
        trigger=trigger,
        n_examples=n_examples,
        n_review_examples=n_review_examples,
        evaluation=evaluation,
        now=now,
    )


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def list_versions(conn: Connection, record: TaxonomyRecord) -> list[dict[str, Any]]:
    """Model versions, newest first, each with its recorded evaluation and an active flag."""
    rows = training_repo.version_rows(conn, record.id)  # each with its active flag
    return [
        {
            "id": r.id,
            "taxonomy_version": r.taxonomy_version,
            "status": r.status,
            "model_version": r.model_version,
            "mode": r.mode,
            "n_examples": r.n_examples,
            "n_review_examples": r.n_review_examples,
            "trigger": r.trigger,
            "error": r.error,
            "created_at": _iso(r.created_at),
            "finished_at": _iso(r.finished_at),
            "active": bool(r.active),
            "evaluation": r.evaluation,
            "progress": progress_view(r.progress, r.status),
        }
        for r in rows
    ]


def rollback(conn: Connection, record: TaxonomyRecord, model_id: str) -> None:
    """Make an earlier (ready) model version the active one."""
    row = training_repo.model_status(conn, record.id, model_id)
    if row is None:
        raise NotFound(
            f"no model {model_id!r} for taxonomy {record.name!r}", details={"model_id": model_id}
        )
    if row.status != "ready":
        raise Conflict(
            f"model {model_id} is {row.status}, not ready; only a ready model can be made active",
            details={"model_id": model_id, "status": row.status},
        )
    _same_labels(conn, record, model_id, int(row.taxonomy_version))
    training_repo.set_active_model(conn, record.id, model_id)
    notify_model(conn, record.workspace_id, record.id, model_id)  # every API process loads it


def _same_labels(conn: Connection, record: TaxonomyRecord, model_id: str, version: int) -> None:
    """A model predicts the labels of the taxonomy version it was trained on: once labels
    were added, removed or renamed, making it active again would answer labels the taxonomy
    no longer has (and review items nobody can confirm), so it is refused (409)."""
    then = load_version(conn, record, version).label_names
    now = load_version(conn, record).label_names
    if sorted(then) != sorted(now):
        gone, new = sorted(set(then) - set(now)), sorted(set(now) - set(then))
        raise Conflict(
            f"model {model_id} was trained on taxonomy version {version}, whose labels differ "
            f"from the current ones (not in the taxonomy now: {gone or 'none'}; new since: "
            f"{new or 'none'}); train a model on the current version instead",
            details={"model_id": model_id, "reason": "labels_changed", "gone": gone, "new": new},
        )
