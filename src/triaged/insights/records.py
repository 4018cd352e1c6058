"""The input of insights: one stored decision, with its reviewer outcome if any.

A :class:`DecisionRecord` is what the decision log holds about one classification:
the text, the predicted label and its calibrated confidence, the routing bucket, the
runner-up labels with their scores and, once a reviewer has looked at it, the outcome
(``confirm``, ``correct`` to another label, ``new_category`` with a proposed name,
``out_of_scope``: no label fits, or ``ambiguous``).  :meth:`DecisionRecord.from_mapping`
reads the plain dicts that the API, the storage layer and the tests produce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["REVIEW_ACTIONS", "DecisionRecord", "set_from_alternatives"]

REVIEW_ACTIONS = ("confirm", "correct", "new_category", "ambiguous", "out_of_scope")


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One decision of the log, as insights sees it.

    ``alternatives`` are the runner-up labels, best first, each with a score on the same
    scale as ``confidence`` (raw probabilities or the service's rescaled alternative
    confidences: only the ratio to the top score is used, which both share).
    """

    text: str
    label: str
    confidence: float
    bucket: str
    alternatives: tuple[tuple[str, float], ...] = ()
    id: str | None = None
    created_at: datetime | None = None
    review_action: str | None = None
    final_label: str | None = None
    new_label: str | None = None
    embedding: NDArray[np.float32] | None = None
    #: the labels of the decision's conformal prediction set (issue 13), None when unknown
    prediction_set: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ derived
    @property
    def runner_up(self) -> tuple[str, float] | None:
        """The second label and its score relative to the top one (in [0, 1])."""
        for name, score in self.alternatives:
            if name != self.label:
                top = max(float(self.confidence), 1e-12)
                return name, float(min(1.0, max(0.0, score / top)))
        return None

    @property
    def resolved_to_existing(self) -> bool:
        """A reviewer said the input belongs to an existing label (confirmed or corrected)."""
        return self.review_action in ("confirm", "correct") and bool(self.final_label or self.label)

    @property
    def is_new_category(self) -> bool:
        return self.review_action == "new_category"

    @property
    def is_out_of_scope(self) -> bool:
        """A reviewer said no label fits this input."""
        return self.review_action == "out_of_scope"

    @property
    def judged(self) -> bool:
        """Reviewed with a verdict on the model's label (``ambiguous`` gives none)."""
        return self.review_action in ("confirm", "correct", "new_category", "out_of_scope")

    @property
    def model_was_right(self) -> bool | None:
        """Whether the predicted label was right, where a reviewer said so."""
        if not self.judged:
            return None
        if self.review_action in ("new_category", "out_of_scope"):
            return False
        return (self.final_label or self.label) == self.label

    @property
    def corrected_to(self) -> str | None:
        """The existing label a reviewer moved this decision to (None when unchanged)."""
        if self.review_action == "correct" and self.final_label and self.final_label != self.label:
            return self.final_label
        return None

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DecisionRecord:
        """Build from a plain dict (API / storage row shape).

        Accepted keys: ``text``, ``label``, ``confidence``, ``bucket``, ``alternatives``
        (``[{"label", "confidence"}]`` or ``[[label, score]]``) or ``scores``
        (``{label: prob}``), ``id``, ``created_at``, and a review outcome either flat
        (``review_action``, ``final_label``, ``new_label``) or nested under ``review``
        (``{"action", "label", "new_label"}``).
        """
        alts = _parse_alternatives(data)
        nested = data.get("review")
        review: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}
        action = data.get("review_action") or review.get("action")
        final = data.get("final_label") or review.get("label")
        new_label = data.get("new_label") or review.get("new_label")
        emb = data.get("embedding")
        created = data.get("created_at")
        if isinstance(created, str):
            created = datetime.fromisoformat(created.replace("Z", "+00:00"))
        return cls(
            text=str(data["text"]),
            label=str(data["label"]),
            confidence=float(data["confidence"]),
            bucket=str(data["bucket"]),
            alternatives=alts,
            id=None if data.get("id") is None else str(data["id"]),
            created_at=created if isinstance(created, datetime) else None,
            review_action=str(action) if action else None,
            final_label=str(final) if final else None,
            new_label=str(new_label) if new_label else None,
            embedding=None if emb is None else np.asarray(emb, dtype=np.float32),
            prediction_set=_parse_set(data),
        )


def set_from_alternatives(label: str, alternatives: Any) -> tuple[str, ...] | None:
    """The prediction set as the decision log keeps it: the label and the alternatives
    flagged ``in_set``; None when the alternatives carry no flags (no set was computed)."""
    if not isinstance(alternatives, Sequence) or isinstance(alternatives, str):
        return None
    flagged = [a for a in alternatives if isinstance(a, Mapping) and "in_set" in a]
    if not flagged:
        return None
    return (label, *(str(a["label"]) for a in flagged if a["in_set"]))


def _parse_set(data: Mapping[str, Any]) -> tuple[str, ...] | None:
    raw = data.get("prediction_set")
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        return tuple(str(x) for x in raw)
    return set_from_alternatives(str(data.get("label")), data.get("alternatives"))


def _parse_alternatives(data: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    label = str(data.get("label"))
    raw = data.get("alternatives")
    out: list[tuple[str, float]] = []
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        for item in raw:
            if isinstance(item, Mapping):
                name = item.get("label")
                score = item.get("confidence", item.get("score"))
            elif isinstance(item, Sequence) and len(item) == 2:
                name, score = item[0], item[1]
            else:
                continue
            if name is not None and score is not None and str(name) != label:
                out.append((str(name), float(score)))
    elif isinstance(data.get("scores"), Mapping):
        scores: Mapping[str, Any] = data["scores"]
        top = float(scores.get(label, data.get("confidence", 1.0)) or 1.0)
        conf = float(data.get("confidence", top))
        scale = conf / max(top, 1e-12)
        out = [(str(k), float(v) * scale) for k, v in scores.items() if str(k) != label]
    out.sort(key=lambda kv: -kv[1])
    return tuple(out)
