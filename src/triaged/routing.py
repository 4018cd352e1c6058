"""Routing: confidence -> ``auto`` / ``review`` / ``hold``, plus audit sampling.

``RoutingPolicy.from_target_error`` derives the auto threshold from reviewed data
so that the automatic lane meets a target error rate.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from triaged.taxonomy import Thresholds

__all__ = ["Bucket", "RoutingEvidence", "RoutingPolicy"]


class Bucket(StrEnum):
    AUTO = "auto"
    REVIEW = "review"
    HOLD = "hold"


@dataclass(frozen=True)
class RoutingEvidence:
    """Held-out evidence for choosing the auto threshold (produced by the engine at fit).

    ``conf_in``/``correct_in``: out-of-fold confidence of in-scope items and whether their
    top label was right; ``conf_oos``: held-out confidence of simulated out-of-scope items
    (items of labels held out of a fold's training, and real ``oos`` examples, scored by a
    model that never saw them).
    """

    conf_in: NDArray[np.float64]
    correct_in: NDArray[np.bool_]
    conf_oos: NDArray[np.float64]

    def __post_init__(self) -> None:
        conf_in = np.asarray(self.conf_in, dtype=np.float64).ravel()
        correct_in = np.asarray(self.correct_in, dtype=bool).ravel()
        conf_oos = np.asarray(self.conf_oos, dtype=np.float64).ravel()
        if conf_in.shape != correct_in.shape:
            raise ValueError("conf_in and correct_in must have the same length")
        object.__setattr__(self, "conf_in", conf_in)
        object.__setattr__(self, "correct_in", correct_in)
        object.__setattr__(self, "conf_oos", conf_oos)

    @classmethod
    def empty(cls) -> RoutingEvidence:
        return cls(np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0))

    @property
    def n_in(self) -> int:
        return int(self.conf_in.shape[0])

    @property
    def n_oos(self) -> int:
        return int(self.conf_oos.shape[0])

    def to_arrays(self, prefix: str = "evidence_") -> dict[str, np.ndarray]:
        return {
            f"{prefix}conf_in": self.conf_in,
            f"{prefix}correct_in": self.correct_in,
            f"{prefix}conf_oos": self.conf_oos,
        }

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, np.ndarray], prefix: str = "evidence_"
    ) -> RoutingEvidence:
        """The evidence stored by :meth:`to_arrays`; empty when the arrays are absent."""
        if f"{prefix}conf_in" not in arrays:
            return cls.empty()
        return cls(
            np.asarray(arrays[f"{prefix}conf_in"], dtype=np.float64),
            np.asarray(arrays[f"{prefix}correct_in"], dtype=bool),
            np.asarray(arrays[f"{prefix}conf_oos"], dtype=np.float64),
        )


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
