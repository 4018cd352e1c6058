"""Gap clusters that are a known label's traffic, by two pieces of evidence that agree.

When the auto lane is closed or strict, confident traffic of existing labels reaches the
review lane and so the gap candidates, and the density-based clustering groups it by
whatever its inputs share (ATIS flight questions by city, CLINC150 requests by phrasing).
Such a cluster is no gap.  An input is *vouched for* by a known label when the model's
top label is also the label of the input's nearest labelled example and the model is at
least ``min_confidence`` sure of it: the classifier and the taxonomy's own examples agree.
Inputs of a missing category rarely are: the model's label is a sibling's, and their
nearest example is often another sibling's or the model is less sure.  A cluster whose
vouched share reaches ``InsightsConfig.vouch_share`` is reported as a known label's
traffic, not as a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.insights.records import DecisionRecord

__all__ = ["vouched_shares"]


def vouched_shares(
    Z: NDArray[Any],
    labels: NDArray[np.int64],
    records: Sequence[DecisionRecord],
    reference: NDArray[Any],
    reference_labels: Sequence[str],
    min_confidence: float,
) -> NDArray[np.float64]:
    """For each cluster ``0..labels.max()``, the share of its members that a known label
    vouches for (see the module docstring).

    ``Z`` and ``reference`` are unit rows in the same (centred) space; ``labels`` holds
    each row's cluster (-1: none).  Without labelled reference rows every share is 0.
    """
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    shares = np.zeros(max(n_clusters, 0), dtype=np.float64)
    members = np.flatnonzero(labels >= 0)
    ref = np.asarray(reference, dtype=np.float32)
    if n_clusters == 0 or ref.shape[0] == 0 or len(reference_labels) != ref.shape[0]:
        return shares
    nearest = np.asarray(reference_labels)[(Z[members] @ ref.T).argmax(axis=1)]
    vouched = np.array(
        [
            records[i].label == lb and records[i].confidence >= min_confidence
            for i, lb in zip(members.tolist(), nearest.tolist(), strict=True)
        ],
        dtype=np.float64,
    )
    counts = np.bincount(labels[members], minlength=n_clusters)
    hits = np.bincount(labels[members], weights=vouched, minlength=n_clusters)
    shares[counts > 0] = hits[counts > 0] / counts[counts > 0]
    return shares
