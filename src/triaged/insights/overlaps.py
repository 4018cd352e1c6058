"""Overlapping categories: label pairs that the model, the reviewers and the examples confuse.

Three kinds of evidence, each scaled so that two indistinguishable labels score about 1:

* **traffic**: decisions whose top two labels are the pair, weighted by how close the
  runner-up came (its score over the top score), per decision predicted as either label;
  where decisions carry conformal prediction sets (issue 13), the share of the pair's
  decisions whose set holds both labels counts too (the larger of the two);
* **corrections**: reviewer corrections from one label to the other, per reviewed
  decision of either (x2: a reviewer corrects half the time between coin-flip labels);
* **examples**: the cross nearest-neighbour rate of the labels' examples (leave-one-out,
  x2: 0.5 when the examples of the two labels are mixed at random).

The combined score is their weighted mean over the kinds of evidence the data has (no
reviews yet: traffic and examples only).  Each pair comes with its counts, example
texts and a suggested action: ``merge`` when even the examples cannot be told apart,
``add_contrasting_examples`` when they partly mix, ``sharpen_descriptions`` when the
examples are distinct but traffic or reviewers still confuse the labels.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.insights.config import InsightsConfig
from triaged.insights.records import DecisionRecord
from triaged.insights.scale import centroids, unit_rows

__all__ = ["Overlap", "example_confusion", "find_overlaps"]

Pair = tuple[str, str]
MERGE_AT = 0.6
CONTRAST_AT = 0.15
MIN_JUDGED = 10


@dataclass(frozen=True, slots=True)
class Overlap:
    """A pair of labels that overlap, with the evidence and a suggested action."""

    labels: tuple[str, str]
    score: float
    evidence: dict[str, Any]
    action: str
    rationale: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "score": self.score,
            "evidence": self.evidence,
            "action": self.action,
            "rationale": self.rationale,
        }


def _pair(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


@dataclass(slots=True)
class _ExampleStats:
    cross: dict[Pair, int]
    counts: dict[str, int]
    centroid_sim: dict[Pair, float]


def example_confusion(
    vectors: NDArray[Any], labels: Sequence[str]
) -> tuple[dict[Pair, float], dict[Pair, float]]:
    """Cross nearest-neighbour rate and centred centroid cosine for each label pair.

    Only pairs with at least one cross neighbour appear in the first mapping; the
    second holds the centroid cosine for those same pairs.
    """
    stats = _example_stats(vectors, labels)
    rates = {p: n / max(stats.counts[p[0]] + stats.counts[p[1]], 1) for p, n in stats.cross.items()}
    return rates, stats.centroid_sim


def _example_stats(vectors: NDArray[Any], labels: Sequence[str]) -> _ExampleStats:
    counts = Counter(labels)
    cross: dict[Pair, int] = defaultdict(int)
    centroid_sim: dict[Pair, float] = {}
    E = np.asarray(vectors, dtype=np.float32)
    if E.shape[0] < 2:
        return _ExampleStats({}, dict(counts), {})
    Z = unit_rows(E - E.mean(axis=0))
    y = np.asarray(labels)
    nn = np.empty(Z.shape[0], dtype=np.int64)
    for start in range(0, Z.shape[0], 2048):
        S = Z[start : start + 2048] @ Z.T
        rows = np.arange(S.shape[0])
        S[rows, rows + start] = -np.inf
        nn[start : start + 2048] = S.argmax(axis=1)
    for i, j in enumerate(nn):
        a, b = str(y[i]), str(y[int(j)])
        if a != b:
            cross[_pair(a, b)] += 1
    names = sorted(counts)
    index = {n: k for k, n in enumerate(names)}
    cents = centroids(Z[y == n] for n in names)
    for p in cross:
        centroid_sim[p] = float(cents[index[p[0]]] @ cents[index[p[1]]])
    return _ExampleStats(dict(cross), dict(counts), centroid_sim)


@dataclass(slots=True)
class _Traffic:
    """What the decisions say about each label pair (see :func:`_traffic`)."""

    volume: Counter[str]
    judged: Counter[str]
    weight: dict[Pair, float]
    top2: Counter[Pair]
    close: Counter[Pair]
    close_texts: dict[Pair, list[tuple[float, str]]]
    in_sets: Counter[Pair]  # decisions on one label whose prediction set holds the other
    set_weight: dict[Pair, float]  # ... each weighing 1 / (labels in its set - 1)
    corrections: Counter[tuple[str, str]]


def _traffic(records: Sequence[DecisionRecord], config: InsightsConfig) -> _Traffic:
    """Volumes, runner-up weights, close calls, shared prediction sets and corrections."""
    volume: Counter[str] = Counter(r.label for r in records)
    judged: Counter[str] = Counter(r.label for r in records if r.judged)
    weight: dict[Pair, float] = defaultdict(float)
    top2: Counter[Pair] = Counter()
    close: Counter[Pair] = Counter()
    close_texts: dict[Pair, list[tuple[float, str]]] = defaultdict(list)
    for r in records:
        ru = r.runner_up
        if ru is None:
            continue
        p = _pair(r.label, ru[0])
        weight[p] += ru[1]
        top2[p] += 1
        if ru[1] >= config.close_ratio:
            close[p] += 1
            close_texts[p].append((ru[1], r.text))
    # A decision on ``a`` whose prediction set also holds ``b`` points to the pair, with the
    # share 1 / (set size - 1) of its doubt: counted over every decision and every pair of
    # its set, held inputs (sets of 7-15 labels) made nearly every pair look fully mixed.
    in_sets: Counter[Pair] = Counter()
    set_weight: dict[Pair, float] = defaultdict(float)
    for r in records:
        members = set(r.prediction_set or ())
        if r.label not in members or len(members) < 2:
            continue
        share = 1.0 / (len(members) - 1)
        for other in members - {r.label}:
            p = _pair(r.label, other)
            in_sets[p] += 1
            set_weight[p] += share
    corrections: Counter[tuple[str, str]] = Counter()
    for r in records:
        to = r.corrected_to
        if to is not None:
            corrections[(r.label, to)] += 1
    return _Traffic(
        volume, judged, weight, top2, close, close_texts, in_sets, set_weight, corrections
    )


def _weights(
    config: InsightsConfig, tr: _Traffic, stats: _ExampleStats
) -> tuple[float, float, float]:
    """The configured weights, zero for each kind of evidence the data lacks."""
    w_traffic, w_corr, w_ex = config.overlap_weights
    if not tr.top2 and not tr.in_sets:
        w_traffic = 0.0
    if sum(tr.judged.values()) < MIN_JUDGED:
        w_corr = 0.0
    if not stats.cross and len(stats.counts) < 2:
        w_ex = 0.0
    return w_traffic, w_corr, w_ex


def find_overlaps(
    records: Sequence[DecisionRecord],
    *,
    example_vectors: NDArray[Any],
    example_labels: Sequence[str],
    example_texts: Sequence[str],
    config: InsightsConfig,
    labels: Sequence[str] | None = None,
) -> list[Overlap]:
    """Rank label pairs by the combined overlap score (highest first).  With ``labels``
    (the taxonomy's), only pairs of those: decisions made before a label was renamed or
    removed name a label whose description and examples can no longer be changed."""
    tr = _traffic(records, config)
    stats = _example_stats(example_vectors, example_labels)
    texts_by_label: dict[str, list[str]] = defaultdict(list)
    for t, lb in zip(example_texts, example_labels, strict=True):
        if len(texts_by_label[lb]) < 2:
            texts_by_label[lb].append(t)
    weights = _weights(config, tr, stats)
    if sum(weights) <= 0:
        return []
    pairs = set(tr.weight) | {_pair(a, b) for a, b in tr.corrections} | set(stats.cross)
    pairs |= {p for p, n in tr.in_sets.items() if n >= 2}
    if labels is not None:
        current = set(labels)
        pairs = {p for p in pairs if p[0] in current and p[1] in current}
    out: list[Overlap] = []
    for p in pairs:
        overlap = _score_pair(p, tr, stats, texts_by_label, weights, config)
        if overlap is not None:
            out.append(overlap)
    out.sort(key=lambda o: (-o.score, o.labels))
    return out[: config.max_overlaps]


def _score_pair(
    p: Pair,
    tr: _Traffic,
    stats: _ExampleStats,
    texts_by_label: dict[str, list[str]],
    weights: tuple[float, float, float],
    config: InsightsConfig,
) -> Overlap | None:
    """The pair's overlap with its evidence, or None when too little points to it."""
    w_traffic, w_corr, w_ex = weights
    total_w = w_traffic + w_corr + w_ex
    a, b = p
    volume, corrections = tr.volume, tr.corrections
    vol = volume[a] + volume[b]
    traffic = min(1.0, tr.weight.get(p, 0.0) / vol) if vol else 0.0
    set_rate = min(1.0, tr.set_weight.get(p, 0.0) / vol) if vol else 0.0
    traffic = max(traffic, set_rate)
    n_corr = corrections[(a, b)] + corrections[(b, a)]
    rev = tr.judged[a] + tr.judged[b]
    corr = min(1.0, 2.0 * n_corr / (rev + 4.0)) if rev or n_corr else 0.0
    n_ex = stats.counts.get(a, 0) + stats.counts.get(b, 0)
    cross_rate = stats.cross.get(p, 0) / n_ex if n_ex else 0.0
    ex = min(1.0, 2.0 * cross_rate)
    if (
        tr.top2.get(p, 0) < 2
        and tr.in_sets.get(p, 0) < 2
        and n_corr == 0
        and stats.cross.get(p, 0) == 0
    ):
        return None
    if traffic == 0 and n_corr == 0 and ex < CONTRAST_AT:
        # an example or two nearest the other label's, and nothing in the traffic or the
        # reviews: no overlap to act on (listed with "the model splits inputs between
        # them" on a taxonomy that had classified nothing)
        return None
    score = (w_traffic * traffic + w_corr * corr + w_ex * ex) / total_w
    if score <= 0:
        return None
    texts = [t for _, t in sorted(tr.close_texts.get(p, []), key=lambda x: -x[0])]
    evidence: dict[str, Any] = {
        "top2_decisions": int(tr.top2.get(p, 0)),
        "close_calls": int(tr.close.get(p, 0)),
        "in_prediction_sets": int(tr.in_sets.get(p, 0)),
        "volume": {a: int(volume[a]), b: int(volume[b])},
        "corrections": {
            f"{a}->{b}": int(corrections[(a, b)]),
            f"{b}->{a}": int(corrections[(b, a)]),
        },
        "reviewed": int(rev),
        "example_cross_nn_rate": round(cross_rate, 4),
        "example_centroid_similarity": (
            round(stats.centroid_sim[p], 4) if p in stats.centroid_sim else None
        ),
        "components": {
            "traffic": round(traffic, 4),
            "corrections": round(corr, 4) if w_corr else None,
            "examples": round(ex, 4) if w_ex else None,
        },
        "examples": texts[: config.overlap_example_texts],
        "label_examples": {a: texts_by_label.get(a, []), b: texts_by_label.get(b, [])},
    }
    action, why = _action(a, b, traffic, corr if w_corr else None, ex if w_ex else None)
    return Overlap((a, b), round(float(score), 4), evidence, action, why)


def _action(
    a: str, b: str, traffic: float, corr: float | None, ex: float | None
) -> tuple[str, str]:
    if ex is not None and ex >= MERGE_AT:
        return "merge", (
            f"the examples of {a!r} and {b!r} are mixed as if they were one label; merge them "
            f"(POST .../labels/{a}/merge with into {b!r}, or the reverse: the merged label's "
            "reviews and decisions follow it) or redefine both with examples that differ"
        )
    if ex is not None and ex >= CONTRAST_AT:
        return "add_contrasting_examples", (
            f"some examples of {a!r} sit closer to {b!r} than to their own label; add pairs of "
            "examples that show the difference and re-check the mislabelled ones"
        )
    signal = (
        "reviewers correct one into the other" if corr else "the model splits inputs between them"
    )
    return "sharpen_descriptions", (
        f"the examples are distinct but {signal}; state in each description what belongs "
        "to the other label"
    )
