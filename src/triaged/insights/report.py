"""Insights over a window of decisions: gap clusters, overlapping labels and label health.

Usage::

    >>> report = compute_insights(records, taxonomy)          # doctest: +SKIP
    >>> report.to_dict()["gap_clusters"][0]["proposed_label"]   # doctest: +SKIP
    'lost_luggage'

``records`` are :class:`~triaged.insights.records.DecisionRecord` (or plain dicts in
the API's decision shape).  Texts without a stored embedding are embedded with the
taxonomy's encoder; only gap candidates and a capped sample of the taxonomy's
examples are embedded, so a window of thousands of decisions takes seconds.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.encoders import Encoder, get_encoder
from triaged.insights.config import InsightsConfig
from triaged.insights.gaps import GapCluster, find_gap_clusters
from triaged.insights.health import LabelHealth, label_health
from triaged.insights.keywords import snake_case
from triaged.insights.overlaps import Overlap, find_overlaps
from triaged.insights.records import DecisionRecord
from triaged.insights.terms import words
from triaged.taxonomy import Taxonomy

__all__ = ["InsightsReport", "compute_insights", "gap_candidates"]


@dataclass(frozen=True, slots=True)
class InsightsReport:
    """The result of :func:`compute_insights`; :meth:`to_dict` is the API's JSON."""

    taxonomy: str
    taxonomy_version: int
    generated_at: datetime
    summary: dict[str, Any]
    gap_clusters: list[GapCluster]
    overlaps: list[Overlap]
    labels: list[LabelHealth]
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "taxonomy": self.taxonomy,
            "taxonomy_version": self.taxonomy_version,
            "generated_at": self.generated_at.isoformat(),
            "summary": dict(self.summary),
            "gap_clusters": [c.to_dict() for c in self.gap_clusters],
            "overlaps": [o.to_dict() for o in self.overlaps],
            "labels": [h.to_dict() for h in self.labels],
            "timings": dict(self.timings),
        }


def gap_candidates(
    records: Sequence[DecisionRecord], config: InsightsConfig, labels: Iterable[str] = ()
) -> list[int]:
    """Indices of the records that are gap candidates (see :class:`InsightsConfig`).

    A ``new_category`` whose proposed name is now one of ``labels`` (the label was made,
    say from its gap cluster) has a label and is no longer a candidate: otherwise the
    cluster came back under ``name_2`` right after its label was created."""
    named = {snake_case(name) for name in labels}

    def candidate(r: DecisionRecord) -> bool:
        if r.is_new_category:
            return not (r.new_label and snake_case(r.new_label) in named)
        return r.is_out_of_scope or (r.bucket in config.gap_buckets and not r.resolved_to_existing)

    return [i for i, r in enumerate(records) if candidate(r)]


def _as_records(records: Iterable[DecisionRecord | Mapping[str, Any]]) -> list[DecisionRecord]:
    return [r if isinstance(r, DecisionRecord) else DecisionRecord.from_mapping(r) for r in records]


def _sample_examples(
    taxonomy: Taxonomy, per_label: int, seed: int, budget: int = 0
) -> tuple[list[int], list[str], list[str]]:
    """Positions in ``taxonomy.examples()``, texts and labels of a per-label sample: at
    least ``per_label`` of each label (or all it has), more for labels that hold a larger
    share of the examples (``budget`` in proportion to their size), so a label that covers
    half the traffic is not represented like a rare one."""
    rng = random.Random(seed)
    positions: list[int] = []
    start = 0
    total = sum(len(label.examples) for label in taxonomy.labels)
    for label in taxonomy.labels:
        n = len(label.examples)
        want = max(per_label, round(budget * n / total)) if total else per_label
        idx = list(range(n)) if n <= want else sorted(rng.sample(range(n), want))
        positions.extend(start + i for i in idx)
        start += n
    examples = taxonomy.examples()
    return positions, [examples[i].text for i in positions], [examples[i].label for i in positions]


def compute_insights(
    records: Iterable[DecisionRecord | Mapping[str, Any]],
    taxonomy: Taxonomy,
    *,
    encoder: Encoder | None = None,
    example_embeddings: NDArray[Any] | None = None,
    known_vectors: Mapping[str, NDArray[Any]] | None = None,
    config: InsightsConfig | None = None,
) -> InsightsReport:
    """Gap clusters, overlapping label pairs and per-label health for ``records``.

    ``example_embeddings``, when given, are the embeddings of ``taxonomy.examples()`` in
    that order (saves embedding them again); ``known_vectors`` are vectors of texts at hand
    by text (the active model's training examples: an example found there is not embedded
    again).  ``encoder`` defaults to the bundled one and is only loaded when some text needs
    embedding.
    """
    cfg = config or InsightsConfig()
    started = time.perf_counter()
    recs = _as_records(records)
    timings: dict[str, float] = {}
    enc = _lazy_encoder(encoder)

    t0 = time.perf_counter()
    ex_texts, ex_labels, ex_vecs = _reference_examples(
        taxonomy, cfg, example_embeddings, enc, known_vectors or {}
    )
    # gap candidates
    cand_idx = gap_candidates(recs, cfg, taxonomy.label_names)
    cands = [recs[i] for i in cand_idx]
    cand_vecs = _embed_records(cands, enc) if cands else np.zeros((0, 0), np.float32)
    if ex_vecs.size == 0 and cand_vecs.size:
        ex_vecs = np.zeros((0, cand_vecs.shape[1]), dtype=np.float32)
    timings["embed_s"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    held_total = sum(1 for r in recs if r.bucket == "hold")
    clusters, gap_summary = find_gap_clusters(
        cands,
        cand_vecs,
        reference=ex_vecs,
        reference_texts=_reference_texts(ex_texts, ex_labels, taxonomy),
        label_names=taxonomy.label_names,
        total_held=held_total,
        config=cfg,
        reference_labels=ex_labels,
        example_words=_example_words(taxonomy, cfg) if cfg.term_alpha is not None else None,
    )
    timings["gaps_s"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    overlaps = find_overlaps(
        recs,
        example_vectors=ex_vecs,
        example_labels=ex_labels,
        example_texts=ex_texts,
        config=cfg,
        labels=taxonomy.label_names,
    )
    timings["overlaps_s"] = round(time.perf_counter() - t0, 3)
    health = label_health(recs, taxonomy.label_names, min_reviewed_for_ece=cfg.min_reviewed_for_ece)
    timings["total_s"] = round(time.perf_counter() - started, 3)
    return InsightsReport(
        taxonomy=taxonomy.name,
        taxonomy_version=taxonomy.version,
        generated_at=datetime.now(UTC),
        summary=_summary(recs, held_total, gap_summary, clusters),
        gap_clusters=clusters,
        overlaps=overlaps,
        labels=health,
        timings=timings,
    )


def _lazy_encoder(encoder: Encoder | None) -> Callable[[], Encoder]:
    """A getter of ``encoder`` (the bundled one when None), loaded on first call only."""
    enc_cache: list[Encoder] = []

    def enc() -> Encoder:
        if not enc_cache:
            enc_cache.append(encoder if encoder is not None else get_encoder())
        return enc_cache[0]

    return enc


def _reference_examples(
    taxonomy: Taxonomy,
    cfg: InsightsConfig,
    example_embeddings: NDArray[Any] | None,
    enc: Callable[[], Encoder],
    known: Mapping[str, NDArray[Any]],
) -> tuple[list[str], list[str], NDArray[np.float32]]:
    """Texts, labels and embeddings of the taxonomy's examples (capped per label)."""
    positions, ex_texts, ex_labels = _sample_examples(
        taxonomy, cfg.max_examples_per_label, cfg.seed, cfg.reference_budget
    )
    if example_embeddings is not None and len(positions):
        ex_vecs = np.asarray(example_embeddings, dtype=np.float32)[positions]
    elif ex_texts:
        missing = [i for i, t in enumerate(ex_texts) if t not in known]
        fresh = enc().embed([ex_texts[i] for i in missing]) if missing else None
        dim = fresh.shape[1] if fresh is not None else len(known[ex_texts[0]])
        ex_vecs = np.zeros((len(ex_texts), dim), dtype=np.float32)
        for i, t in enumerate(ex_texts):
            if t in known:
                ex_vecs[i] = known[t]
        if fresh is not None:
            ex_vecs[missing] = fresh
    else:
        ex_vecs = np.zeros((0, 0), dtype=np.float32)
    return ex_texts, ex_labels, ex_vecs


def _example_words(taxonomy: Taxonomy, cfg: InsightsConfig) -> dict[str, list[frozenset[str]]]:
    """The content words of each label's examples (at most ``term_examples_per_label`` of
    them, a seeded sample), for the term gaps."""
    rng = random.Random(cfg.seed)
    out: dict[str, list[frozenset[str]]] = {}
    cap = cfg.term_examples_per_label
    for label in taxonomy.labels:
        texts = list(label.examples)
        if len(texts) > cap:
            texts = rng.sample(texts, cap)
        out[label.name] = [words(t) for t in texts]
    return out


def _reference_texts(
    ex_texts: list[str], ex_labels: list[str], taxonomy: Taxonomy
) -> dict[str, list[str]]:
    """The sampled examples' texts per label; a label without examples gets its prompt."""
    ref_texts: dict[str, list[str]] = {}
    for t, lb in zip(ex_texts, ex_labels, strict=True):
        ref_texts.setdefault(lb, []).append(t)
    for label in taxonomy.labels:  # zero-shot labels still shape the keyword background
        ref_texts.setdefault(label.name, [label.prompt])
    return ref_texts


def _summary(
    recs: list[DecisionRecord],
    held_total: int,
    gap_summary: dict[str, Any],
    clusters: list[GapCluster],
) -> dict[str, Any]:
    """The report's headline figures."""
    buckets = Counter(r.bucket for r in recs)
    times = [r.created_at for r in recs if r.created_at is not None]
    return {
        "decisions": len(recs),
        "buckets": {b: int(buckets.get(b, 0)) for b in ("auto", "review", "hold")},
        "held": held_total,
        # a share of nothing is undefined: null, not 0.0 (shown as "–")
        "held_share": round(held_total / len(recs), 4) if recs else None,
        "reviewed": sum(1 for r in recs if r.judged),
        "new_category": sum(1 for r in recs if r.is_new_category),
        "gap_candidates": gap_summary["candidates"],
        "gap_noise_share": gap_summary["noise_share"],
        # shares of the gap candidates: explained by a label, in a gap cluster, neither
        "gap_explained_share": gap_summary["explained_share"],
        "gap_clustered_share": gap_summary["clustered_share"],
        "unclustered_share": gap_summary["noise_share"],
        "covered_clusters": gap_summary["covered_clusters"],
        # clusters of confident known-label traffic (see triaged.insights.vouch), not gaps
        "known_label_clusters": gap_summary.get("known_label_clusters", 0),
        "clustered_held_share": round(sum(c.held for c in clusters) / held_total, 4)
        if held_total
        else None,
        "window": {
            "start": min(times).isoformat() if times else None,
            "end": max(times).isoformat() if times else None,
        },
    }


def _embed_records(records: Sequence[DecisionRecord], enc: Any) -> NDArray[np.float32]:
    """Stored embeddings where present, the encoder for the rest (one batch)."""
    missing = [i for i, r in enumerate(records) if r.embedding is None]
    fresh = enc().embed([records[i].text for i in missing]) if missing else None
    dim = fresh.shape[1] if fresh is not None else int(np.asarray(records[0].embedding).shape[-1])
    out = np.zeros((len(records), dim), dtype=np.float32)
    if fresh is not None:
        out[missing] = fresh
    for i, r in enumerate(records):
        if r.embedding is not None:
            out[i] = r.embedding
    return out
