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

Vouching counts only where the evidence is more than a nearest neighbour: the cluster sits
among labelled examples (``InsightsConfig.vouch_cover``), or its label's examples already
use every word that defines it (:func:`familiar_clusters`).  A dense burst of one label's
traffic (a session of questions about one route) has few examples among its neighbours but
only words the label has seen; a missing category's inputs share a word their sibling's
examples lack.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.insights.records import DecisionRecord

__all__ = ["familiar_clusters", "vouched_members", "vouched_shares"]


def vouched_members(
    Z: NDArray[Any],
    rows: NDArray[np.int64],
    records: Sequence[DecisionRecord],
    reference: NDArray[Any],
    reference_labels: Sequence[str],
    min_confidence: float,
) -> NDArray[np.bool_]:
    """Whether a known label vouches for each of the candidates ``rows`` (see the module
    docstring); none without labelled reference rows."""
    ref = np.asarray(reference, dtype=np.float32)
    if rows.size == 0 or ref.shape[0] == 0 or len(reference_labels) != ref.shape[0]:
        return np.zeros(rows.size, dtype=bool)
    nearest = np.asarray(reference_labels)[(Z[rows] @ ref.T).argmax(axis=1)]
    return np.array(
        [
            records[i].label == lb and records[i].confidence >= min_confidence
            for i, lb in zip(rows.tolist(), nearest.tolist(), strict=True)
        ],
        dtype=bool,
    )


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
    if n_clusters == 0:
        return shares
    vouched = vouched_members(Z, members, records, reference, reference_labels, min_confidence)
    counts = np.bincount(labels[members], minlength=n_clusters)
    hits = np.bincount(labels[members], weights=vouched.astype(np.float64), minlength=n_clusters)
    shares[counts > 0] = hits[counts > 0] / counts[counts > 0]
    return shares


def familiar_clusters(
    labels: NDArray[np.int64],
    records: Sequence[DecisionRecord],
    member_words: Sequence[frozenset[str]],
    example_words: Mapping[str, Sequence[frozenset[str]]],
    share: float = 1 / 3,
) -> NDArray[np.bool_]:
    """For each cluster ``0..labels.max()``, whether its label's examples know its words.

    A cluster's *defining words* are the content words at least ``share`` of its inputs use;
    its label is the model's most frequent label among them.  The cluster is *familiar*
    when that label has examples and, for every defining word, at least as many of the
    label's examples use the word as the cluster's inputs do: the label has seen such
    inputs (ATIS flight questions between two cities its examples name dozens of times).
    A missing category's inputs are defined by a word their sibling's examples lack or
    use less ("add" to a playlist, SEPA transfers).  ``member_words``: each candidate's
    content words (:func:`triaged.insights.terms.words`).
    """
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    out = np.zeros(max(n_clusters, 0), dtype=bool)
    for c in range(n_clusters):
        members = np.flatnonzero(labels == c).tolist()
        if not members:
            continue
        label = Counter(records[i].label for i in members).most_common(1)[0][0]
        examples = example_words.get(label, ())
        if not examples:
            continue
        uses = Counter(w for i in members for w in member_words[i])
        defining = [w for w, k in uses.items() if k >= share * len(members)]
        out[c] = all(sum(1 for ex in examples if w in ex) >= uses[w] for w in defining)
    return out
