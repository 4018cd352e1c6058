"""Routing: confidence -> ``auto`` / ``review`` / ``hold``, plus audit sampling.

``RoutingPolicy.from_target_error`` derives the auto threshold from reviewed data
so that the automatic lane meets a target error rate.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from triaged.taxonomy import Thresholds

__all__ = ["Bucket", "RoutingPolicy"]


class Bucket(StrEnum):
    AUTO = "auto"
    REVIEW = "review"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    thresholds: Thresholds = field(default_factory=Thresholds)
    audit_rate: float = 0.02

    def route(self, confidence: float) -> Bucket:
        if confidence >= self.thresholds.auto:
            return Bucket.AUTO
        if confidence >= self.thresholds.review:
            return Bucket.REVIEW
        return Bucket.HOLD

    def should_audit(self, bucket: Bucket, rng: random.Random | None = None) -> bool:
        """Whether an ``auto`` decision is drawn into the random audit sample."""
        if bucket is not Bucket.AUTO or self.audit_rate <= 0:
            return False
        return (rng or random).random() < self.audit_rate

    @staticmethod
    def threshold_for_target_error(
        confidences: Sequence[float],
        correct: Sequence[bool],
        target_error: float,
        *,
        min_support: int = 20,
    ) -> float | None:
        """Lowest threshold t such that items with confidence >= t have error <= target.

        Returns None when no threshold with at least ``min_support`` items meets it.
        """
        conf = np.asarray(confidences, dtype=float)
        ok = np.asarray(correct, dtype=bool)
        if conf.size == 0:
            return None
        order = np.argsort(-conf, kind="stable")
        conf, ok = conf[order], ok[order]
        errors = np.cumsum(~ok)
        counts = np.arange(1, conf.size + 1)
        rate = errors / counts
        best: float | None = None
        for i in range(conf.size):
            # only cut between distinct confidence values
            if i + 1 < conf.size and conf[i + 1] == conf[i]:
                continue
            if counts[i] >= min_support and rate[i] <= target_error:
                best = float(conf[i])
        return best

    @classmethod
    def from_target_error(
        cls,
        confidences: Sequence[float],
        correct: Sequence[bool],
        *,
        auto_error: float = 0.03,
        review_error: float = 0.25,
        base: Thresholds | None = None,
    ) -> RoutingPolicy:
        """Derive thresholds from reviewed (confidence, was-correct) pairs."""
        base = base or Thresholds()
        auto = cls.threshold_for_target_error(confidences, correct, auto_error)
        review = cls.threshold_for_target_error(confidences, correct, review_error)
        auto_v = auto if auto is not None else base.auto
        review_v = min(review if review is not None else base.review, auto_v)
        return cls(Thresholds(auto=auto_v, review=review_v))
