"""Per-label health: volume, confidence, bucket shares, reviewer corrections and ECE."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from triaged.calibration import expected_calibration_error
from triaged.insights.records import DecisionRecord

__all__ = ["LabelHealth", "label_health"]

BUCKETS = ("auto", "review", "hold")


@dataclass(frozen=True, slots=True)
class LabelHealth:
    """How one label is doing over the window (predicted label = this one)."""

    label: str
    volume: int
    share: float
    mean_confidence: float | None
    buckets: dict[str, int]
    held_share: float | None
    review_share: float | None
    reviewed: int
    corrected: int
    correction_rate: float | None
    new_category: int
    received_corrections: int
    corrected_to: list[dict[str, Any]]
    ece: float | None
    accuracy_reviewed: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "volume": self.volume,
            "share": self.share,
            "mean_confidence": self.mean_confidence,
            "buckets": dict(self.buckets),
            "held_share": self.held_share,
            "review_share": self.review_share,
            "reviewed": self.reviewed,
            "corrected": self.corrected,
            "correction_rate": self.correction_rate,
            "new_category": self.new_category,
            "received_corrections": self.received_corrections,
            "corrected_to": list(self.corrected_to),
            "ece": self.ece,
            "accuracy_reviewed": self.accuracy_reviewed,
        }


def label_health(
    records: Sequence[DecisionRecord],
    label_names: Sequence[str],
    *,
    min_reviewed_for_ece: int = 30,
) -> list[LabelHealth]:
    """One :class:`LabelHealth` per label (taxonomy order, then any other predicted label).

    ``correction_rate`` is the share of judged decisions (confirm, correct, new_category)
    whose label was wrong; ``ece`` compares confidence with that verdict once at least
    ``min_reviewed_for_ece`` decisions of the label were judged (10 equal-width bins).
    """
    by_label: dict[str, list[DecisionRecord]] = defaultdict(list)
    for r in records:
        by_label[r.label].append(r)
    received: Counter[str] = Counter()
    for r in records:
        to = r.corrected_to
        if to is not None:
            received[to] += 1
    total = len(records)
    names = list(label_names) + sorted(set(by_label) - set(label_names))
    out: list[LabelHealth] = []
    for name in names:
        rs = by_label.get(name, [])
        n = len(rs)
        buckets = Counter(r.bucket for r in rs)
        judged = [r for r in rs if r.judged]
        wrong = [r for r in judged if r.model_was_right is False]
        moved = Counter(r.corrected_to for r in judged if r.corrected_to)
        ece: float | None = None
        acc: float | None = None
        if judged:
            ok = np.asarray([bool(r.model_was_right) for r in judged])
            acc = round(float(ok.mean()), 4)
            if len(judged) >= min_reviewed_for_ece:
                conf = np.asarray([r.confidence for r in judged])
                ece = round(expected_calibration_error(conf, ok, n_bins=10), 4)
        out.append(
            LabelHealth(
                label=name,
                volume=n,
                share=round(n / total, 4) if total else 0.0,
                mean_confidence=round(float(np.mean([r.confidence for r in rs])), 4) if n else None,
                buckets={b: int(buckets.get(b, 0)) for b in BUCKETS},
                held_share=round(buckets.get("hold", 0) / n, 4) if n else None,
                review_share=round(buckets.get("review", 0) / n, 4) if n else None,
                reviewed=len(judged),
                corrected=len(wrong),
                correction_rate=round(len(wrong) / len(judged), 4) if judged else None,
                new_category=sum(1 for r in judged if r.is_new_category),
                received_corrections=int(received.get(name, 0)),
                corrected_to=[{"label": k, "count": v} for k, v in moved.most_common(3) if k],
                ece=ece,
                accuracy_reviewed=acc,
            )
        )
    return out
