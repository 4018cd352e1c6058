"""Gap clusters: groups of uncertain inputs that no existing label covers.

The candidates (held or flagged decisions nobody resolved to an existing label, plus
everything reviewers marked ``new_category``) are embedded, centred on the mean of the
taxonomy's examples (sentence embeddings share a common direction that hides
differences) and clustered with scikit-learn's HDBSCAN (``leaf`` selection: many small,
tight clusters rather than a few broad ones; points in no dense region stay noise).
Each cluster is then trimmed to its core, checked against the labelled examples (a
cluster whose neighbourhood is mostly labelled examples, or whose centroid is as close to
a label's centre as random groups of that label's examples of its size are,
:mod:`triaged.insights.scale`, sits inside an existing label and is no gap) and against
the model (a cluster whose inputs a known label vouches for, :mod:`triaged.insights.vouch`,
is that label's traffic, unless hardly any labelled example is near its inputs).  Inputs
that share a word their labels' examples never use (:mod:`triaged.insights.terms`) and
that no cluster holds are reported too, as *term gaps*: a missing category whose inputs
read like a sibling's forms no cluster of its own.  Every group (those reviewers gave one
name merged, :mod:`triaged.insights.gap_names`) is described: size, share of the held
volume, texts, c-TF-IDF keywords, the labels it is split between, a proposed name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triaged.insights.config import InsightsConfig
from triaged.insights.gap_names import merge_named, name_votes, reviewer_name
from triaged.insights.keywords import class_tfidf_keywords, fit_name, propose_name
from triaged.insights.records import DecisionRecord
from triaged.insights.scale import (
    centroid,
    centroids,
    common_direction,
    inside_by_scale,
    inside_labels,
    label_scale,
    merge_clusters,
    repeat_groups,
    trim_to_core,
    unit_rows,
    unite_repeats,
)
from triaged.insights.terms import new_term_gaps, words
from triaged.insights.vouch import familiar_clusters, vouched_members, vouched_shares

__all__ = ["GapCluster", "cluster_labels", "explained_by_labels", "find_gap_clusters"]

FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class GapCluster:
    """One group of similar inputs that the taxonomy has no good label for."""

    id: int
    size: int
    held: int
    share_of_held: float
    share_of_candidates: float
    proposed_label: str
    description: str
    keywords: list[str]
    between: list[str]
    between_counts: list[dict[str, Any]]
    examples: list[str]
    decision_ids: list[str]
    new_category_votes: int
    reviewer_names: list[str]
    mean_confidence: float
    cohesion: float
    coverage: float
    keyword_scores: list[float] = field(default_factory=list)
    #: a term gap's words (inputs that use them, unlike the labels' examples); [] for a
    #: cluster found in embedding space
    terms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "held": self.held,
            "share_of_held": self.share_of_held,
            "share_of_candidates": self.share_of_candidates,
            "proposed_label": self.proposed_label,
            "description": self.description,
            "keywords": list(self.keywords),
            "keyword_scores": list(self.keyword_scores),
            "terms": list(self.terms),
            "between": list(self.between),
            "between_counts": list(self.between_counts),
            "examples": list(self.examples),
            "decision_ids": list(self.decision_ids),
            "new_category_votes": self.new_category_votes,
            "reviewer_names": list(self.reviewer_names),
            "mean_confidence": self.mean_confidence,
            "cohesion": self.cohesion,
            "coverage": self.coverage,
        }


def cluster_labels(
    Z: FloatArray, config: InsightsConfig, texts: Sequence[str] | None = None
) -> IntArray:
    """HDBSCAN labels (-1 = noise) of unit rows ``Z``, trimmed to cluster cores; repeats
    (same row or same ``texts``) share one (:func:`~triaged.insights.scale.unite_repeats`).
    Above ``config.max_cluster_points`` rows a seeded random sample is clustered and the
    other rows join the cluster of the nearest centroid when they are as close to it as
    its trimmed members are."""
    n = Z.shape[0]
    mcs, ms = config.cluster_sizes(n)
    labels = np.full(n, -1, dtype=np.int64)
    if n < max(mcs, 2):
        return labels
    if n > config.max_cluster_points:
        rng = np.random.default_rng(config.seed)
        fit_idx = np.sort(rng.choice(n, config.max_cluster_points, replace=False))
    else:
        fit_idx = np.arange(n)
    labels[fit_idx] = _hdbscan(Z[fit_idx], mcs, ms, "leaf")
    if labels.max() < 0:  # one homogeneous group has no leaves: let it be a single cluster
        labels[fit_idx] = _hdbscan(Z[fit_idx], mcs, ms, "eom")
    labels, cuts, cents = trim_to_core(Z, labels, mcs, config.trim_mads)
    if fit_idx.size < n and cents.size:
        rest = np.setdiff1d(np.arange(n), fit_idx)
        sims = Z[rest] @ cents.T
        best = sims.argmax(axis=1)
        ok = sims[np.arange(rest.size), best] >= cuts[best]
        labels[rest[ok]] = best[ok]
    return unite_repeats(labels, repeat_groups(Z, texts))


def _hdbscan(Z: FloatArray, mcs: int, ms: int, method: str) -> IntArray:
    from sklearn.cluster import HDBSCAN  # insights only: scikit-learn is slow to import

    # brute force: a tree search in 384 dimensions is no faster than a scan, and the scan is
    # one matrix product (CLINC150's 2,800 open candidates: 0.4 s against 4.8 s)
    model = HDBSCAN(
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method=method,
        allow_single_cluster=method == "eom",
        algorithm="brute",
        copy=True,
    )
    out: IntArray = model.fit_predict(Z).astype(np.int64)
    return out


def _coverage(Z: FloatArray, members: IntArray, ref: FloatArray, k: int) -> NDArray[np.float64]:
    """Share of labelled reference rows among each member's k nearest neighbours.

    Repeats of the same text among the candidates do not count as neighbours, so a burst
    of one covered input does not pass for a new topic.
    """
    if ref.shape[0] == 0 or members.size == 0:
        return np.zeros(members.size, dtype=np.float64)
    pool_sims = Z[members] @ Z.T
    pool_sims[np.arange(members.size), members] = -np.inf  # not its own neighbour
    pool_sims[pool_sims > 1.0 - 1e-5] = -np.inf  # nor its repeats (the same text again)
    ref_sims = Z[members] @ ref.T
    both = np.concatenate([pool_sims, ref_sims], axis=1)
    k = min(k, both.shape[1] - 1)
    top = np.argpartition(-both, k, axis=1)[:, :k]
    frac: NDArray[np.float64] = (top >= Z.shape[0]).mean(axis=1)
    return frac


def find_gap_clusters(
    records: Sequence[DecisionRecord],
    vectors: NDArray[Any],
    *,
    reference: NDArray[Any],
    reference_texts: dict[str, list[str]],
    label_names: Sequence[str],
    total_held: int,
    config: InsightsConfig,
    reference_labels: Sequence[str] = (),
    example_words: Mapping[str, Sequence[frozenset[str]]] | None = None,
) -> tuple[list[GapCluster], dict[str, Any]]:
    """Cluster the gap candidates ``records`` (embedded as ``vectors``).

    ``reference`` holds the (sampled) embeddings of the taxonomy's examples,
    ``reference_labels`` their labels and ``reference_texts`` their texts per label.
    Candidates that sit as densely among one label's examples as that label's own examples
    do are *explained* by it (:func:`explained_by_labels`) and left out of the clustering;
    clusters a known label vouches for (:func:`~triaged.insights.vouch.vouched_shares`) are
    its traffic and not reported (their inputs count as explained).  With
    ``example_words`` (the words of every labelled example, per label), candidates that
    share a word their label's examples never use are reported too when no cluster
    already holds most of them (:mod:`triaged.insights.terms`).
    Returns the gap clusters, ranked, and a summary: candidates, the shares explained by
    existing labels, clustered, and the unclustered remainder.
    """
    n = len(records)
    summary: dict[str, Any] = {
        "candidates": n,
        "clusters": 0,
        "covered_clusters": 0,  # the shares of the candidates are null when there are none
        "noise_share": 1.0 if n else None,
        "explained_share": 0.0 if n else None,
        "clustered_share": 0.0 if n else None,
        "known_label_clusters": 0,
    }
    if n == 0:
        return [], summary
    V = np.asarray(vectors, dtype=np.float32)
    R = np.asarray(reference, dtype=np.float32).reshape(-1, V.shape[1])
    center = common_direction(V, R, reference_labels)
    Z, ref_c = unit_rows(V - center), unit_rows(R - center)
    ref_labels = list(reference_labels) if 0 < R.shape[0] == len(reference_labels) else None
    explained = _explained(Z, ref_c, ref_labels, records, config)
    labels, label_cents, merge_at = _cluster_open(
        Z, ref_c, ref_labels, np.flatnonzero(~explained), config, [r.text for r in records]
    )
    summary["explained_share"] = round(float(explained.mean()), 4)
    summary["noise_share"] = round(float(((labels < 0) & ~explained).mean()), 4)
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    ref_z = _balanced_sample(ref_c, n, config.seed) if R.shape[0] else R
    # each candidate's words, once for the familiar clusters and the term gaps
    lexicon = None if example_words is None else ([words(r.text) for r in records], example_words)
    kept: list[int] = []
    cov_by_cluster = vouched = np.zeros(0)
    if n_clusters > 0:
        evidence = ((ref_c, ref_labels, ref_z), (label_cents, merge_at))
        kept, cov_by_cluster, vouched = _filter_clusters(
            Z, labels, records, *evidence, config, summary, lexicon
        )
    if config.shed_vouched and ref_labels is not None and kept:
        shed = _shed_vouched(Z, labels, kept, records, (ref_c, ref_labels), config)
        labels = np.where(shed, -1, labels)
        explained = explained | shed
    groups = [np.flatnonzero(labels == c) for c in kept]
    coverage = [float(cov_by_cluster[c]) for c in kept]
    terms: list[tuple[str, ...]] = [() for _ in kept]
    if lexicon is not None and config.term_alpha is not None:
        vouch = (Z, ref_c, ref_labels) if ref_labels is not None else None
        extra = new_term_gaps(records, labels, kept, lexicon, config, vouch)
        groups += [g for g, _ in extra]
        terms += [t for _, t in extra]
        coverage += [float(_coverage(Z, g, ref_z, config.coverage_k).mean()) for g, _ in extra]
    groups, coverage, terms = merge_named(groups, coverage, terms, records)
    if groups:
        _count_shares(summary, explained | np.isin(labels, _known(vouched, config)), groups)
    clusters = _describe_kept(
        groups, labels, records, Z, V, reference_texts, label_names, total_held, coverage, config
    )
    return [_with_terms(c, t) if t else c for c, t in zip(clusters, terms, strict=True)], summary


def _shed_vouched(
    Z: FloatArray,
    labels: IntArray,
    kept: list[int],
    records: Sequence[DecisionRecord],
    reference: tuple[FloatArray, list[str]],
    config: InsightsConfig,
) -> NDArray[np.bool_]:
    """Members of reported clusters that a known label vouches for, in the clusters that
    are not that label's traffic as a whole (vouched share under ``vouch_share``): a known
    label's inputs that joined a gap through shared words (CLINC150 interest-rate questions
    about "my checking account" in a cluster of balance questions).  A cluster keeps them
    when it would fall under ``min_report_size`` without them, and a cluster reported
    although most of it is vouched for (no labelled example nearby: a gap the model is
    sure of, SNIPS's AddToPlaylist as PlayMusic) keeps them all."""
    share = 2.0 if config.vouch_share is None else config.vouch_share
    shed = np.zeros(labels.shape[0], dtype=bool)
    for c in kept:
        members = np.flatnonzero(labels == c)
        out = vouched_members(Z, members, records, *reference, config.vouch_confidence)
        if out.mean() >= share:
            continue
        if out.any() and members.size - int(out.sum()) >= config.min_report_size:
            shed[members[out]] = True
    return shed


def _with_terms(cluster: GapCluster, terms: tuple[str, ...]) -> GapCluster:
    said = ", ".join(f"\u201c{t}\u201d" for t in terms[:3])
    note = f" They use {said}, which the examples of the labels they got do not."
    return replace(cluster, terms=list(terms), description=cluster.description + note)


def _filter_clusters(
    Z: FloatArray,
    labels: IntArray,
    records: Sequence[DecisionRecord],
    reference: tuple[FloatArray, list[str] | None, FloatArray],
    scale: tuple[FloatArray, float],
    config: InsightsConfig,
    summary: dict[str, Any],
    lexicon: tuple[Sequence[frozenset[str]], Mapping[str, Sequence[frozenset[str]]]] | None = None,
) -> tuple[list[int], NDArray[np.float64], NDArray[np.float64]]:
    """The reported clusters (:func:`_keep_clusters`), each cluster's coverage (1.0 when
    inside a label) and vouched share.  ``reference``: the examples' centred rows, their
    labels and the volume-balanced sample; ``scale``: label centroids and merge cosine;
    ``lexicon``: each candidate's words and each label's examples' words (familiar
    clusters, see :func:`~triaged.insights.vouch.familiar_clusters`)."""
    ref_c, ref_labels, ref_z = reference
    label_cents, merge_at = scale
    n = Z.shape[0]
    n_clusters = int(labels.max()) + 1
    raw_cov = _cluster_coverage(Z, labels, ref_z, config)
    if config.inside_quantile is not None and ref_labels is not None:
        inside = inside_labels(Z, labels, ref_c, ref_labels, config.inside_quantile, config.seed)
    else:
        inside = inside_by_scale(Z, labels, label_cents, merge_at)
    cov_by_cluster = np.where(inside, 1.0, raw_cov)
    vouched = np.zeros(n_clusters)
    if config.vouch_share is not None and ref_labels is not None:
        vouched = vouched_shares(Z, labels, records, ref_c, ref_labels, config.vouch_confidence)
        if config.vouch_cover is not None:
            # vouching does not make a cluster known traffic when hardly any labelled
            # example is near its inputs: its coverage is under ``vouch_cover`` of what
            # inputs exchangeable with the examples would get in this pool
            expected = ref_z.shape[0] / max(ref_z.shape[0] + n - 1, 1)
            covered = inside | (raw_cov >= config.vouch_cover * expected)
            if config.vouch_familiar is not None and lexicon is not None:
                covered |= familiar_clusters(labels, records, *lexicon, config.vouch_familiar)
            vouched = np.where(covered, vouched, 0.0)
    kept = _keep_clusters(labels, cov_by_cluster, vouched, config, summary)
    return kept, cov_by_cluster, vouched


def _known(vouched: NDArray[np.float64], config: InsightsConfig) -> list[int]:
    share = 2.0 if config.vouch_share is None else config.vouch_share
    return [c for c in range(vouched.shape[0]) if vouched[c] >= share]


def _rest(*shares: float) -> float:
    """The share left over, never below 0 (1 - 0.32 - 0.68 is -1e-16: "-0.0%")."""
    return max(0.0, round(1.0 - sum(shares), 4))


def _count_shares(
    summary: dict[str, Any], explained: NDArray[np.bool_], groups: list[IntArray]
) -> None:
    """The summary's shares when reported groups may overlap (term gaps): clustered = in
    some reported group, explained = the rest of the explained, noise = the remainder."""
    clustered = np.zeros(explained.shape[0], dtype=bool)
    for g in groups:
        clustered[g] = True
    summary["clusters"] = len(groups)
    summary["clustered_share"] = round(float(clustered.mean()), 4)
    summary["explained_share"] = round(float((explained & ~clustered).mean()), 4)
    summary["noise_share"] = _rest(summary["clustered_share"], summary["explained_share"])


def _explained(
    Z: FloatArray,
    ref_c: FloatArray,
    ref_labels: list[str] | None,
    records: Sequence[DecisionRecord],
    config: InsightsConfig,
) -> NDArray[np.bool_]:
    """Candidates a label's examples explain and the model is sure of a label for (none
    when ``explained_quantile`` is off or the reference rows carry no labels)."""
    explained = np.zeros(Z.shape[0], dtype=bool)
    if config.explained_quantile is not None and ref_labels is not None:
        explained = explained_by_labels(Z, ref_c, ref_labels, config.explained_quantile)
        # ... and the model is sure of a label for it (a missing category's inputs often sit
        # near a sibling label's examples, but the model is less sure of them)
        conf = np.array([r.confidence for r in records], dtype=np.float64)
        explained &= conf >= config.explained_confidence
    return explained


def _cluster_open(
    Z: FloatArray,
    ref_c: FloatArray,
    ref_labels: list[str] | None,
    open_idx: IntArray,
    config: InsightsConfig,
    texts: Sequence[str],
) -> tuple[IntArray, FloatArray, float]:
    """Cluster labels of all candidates (-1 for the explained and the noise), merged on
    the taxonomy's scale; with the labels' centroids and the merge cosine (2.0: none)."""
    labels = np.full(Z.shape[0], -1, dtype=np.int64)
    labels[open_idx] = cluster_labels(Z[open_idx], config, [texts[i] for i in open_idx])
    label_cents = np.zeros((0, Z.shape[1]), np.float32)
    merge_at = 2.0  # no cluster is that alike to a label: nothing dropped for it
    if config.merge and ref_labels is not None and ref_c.shape[0]:
        scale = label_scale(
            ref_c, ref_labels, config.seed, config.merge_quantile, config.join_quantile
        )
        if scale is not None:
            labels[open_idx] = merge_clusters(Z[open_idx], labels[open_idx], *scale)
            merge_at = scale[0]
            y_ref = np.asarray(ref_labels)
            label_cents = centroids(ref_c[y_ref == lb] for lb in np.unique(y_ref))
    return labels, label_cents, merge_at


def _cluster_coverage(
    Z: FloatArray, labels: IntArray, ref_z: FloatArray, config: InsightsConfig
) -> NDArray[np.float64]:
    """Each cluster's mean coverage by labelled rows."""
    n_clusters = int(labels.max()) + 1
    coverage = _coverage(Z, np.flatnonzero(labels >= 0), ref_z, config.coverage_k)
    member_labels = labels[labels >= 0]
    return np.array([float(coverage[member_labels == c].mean()) for c in range(n_clusters)])


def _keep_clusters(
    labels: IntArray,
    cov_by_cluster: NDArray[np.float64],
    vouched: NDArray[np.float64],
    config: InsightsConfig,
    summary: dict[str, Any],
) -> list[int]:
    """The reported clusters, largest first (uncovered, not a known label's traffic and big
    enough; capped); the summary's cluster counts and shares are updated (the inputs of
    clusters that are a known label's traffic count as explained by existing labels)."""
    n_clusters = cov_by_cluster.shape[0]
    sizes = np.bincount(labels[labels >= 0], minlength=n_clusters)
    share = 2.0 if config.vouch_share is None else config.vouch_share
    known = _known(vouched, config)
    kept = [
        c
        for c in range(n_clusters)
        if cov_by_cluster[c] <= config.max_coverage
        and vouched[c] < share
        and sizes[c] >= config.min_report_size
    ]
    summary["covered_clusters"] = n_clusters - len(kept)
    summary["known_label_clusters"] = len(known)
    summary["explained_share"] = round(
        summary["explained_share"] + float(np.isin(labels, known).mean()), 4
    )
    kept.sort(key=lambda c: -int((labels == c).sum()))
    kept = kept[: config.max_gap_clusters]
    summary["clusters"] = len(kept)
    summary["clustered_share"] = round(float(np.isin(labels, kept).mean()), 4)
    summary["noise_share"] = _rest(summary["explained_share"], summary["clustered_share"])
    return kept


def _describe_kept(
    groups: list[IntArray],
    labels: IntArray,
    records: Sequence[DecisionRecord],
    Z: FloatArray,
    V: FloatArray,
    reference_texts: dict[str, list[str]],
    label_names: Sequence[str],
    total_held: int,
    coverage: list[float],
    config: InsightsConfig,
) -> list[GapCluster]:
    """Describe the reported groups (members' indices), in rank order, with keywords
    against the labels' texts and the noise, and proposed names distinct from the labels
    and from each other."""
    n = len(records)
    texts = [r.text for r in records]
    member_texts = [[texts[i] for i in idx] for idx in groups]
    background = [ts for ts in reference_texts.values() if ts]
    noise = [texts[i] for i in np.flatnonzero(labels < 0)]
    if noise:
        background.append(noise)
    keywords = class_tfidf_keywords(member_texts, background=background, top_n=config.keywords)
    taken = set(label_names)
    clusters: list[GapCluster] = []
    for rank, idx in enumerate(groups):
        kw, cov = keywords[rank], coverage[rank]
        cluster = _describe(rank, idx, records, Z, V, kw, taken, n, total_held, cov, config)
        taken.add(cluster.proposed_label)
        clusters.append(cluster)
    return clusters


def explained_by_labels(
    Z: FloatArray, ref: FloatArray, ref_labels: list[str], quantile: float, k: int = 5
) -> NDArray[np.bool_]:
    """Candidates (rows of ``Z``) that one label's examples already explain.

    The taxonomy's own examples set the scale: for each label, the mean similarity of each
    example to its ``k`` nearest fellow examples (leave-one-out) gives the label's density
    profile, and ``quantile`` of it is the label's cut.  A candidate whose mean similarity
    to its ``k`` nearest examples of some label reaches that label's cut sits inside the
    label as densely as its own examples do.  Dense labels (paraphrases of one request) get
    high cuts, diffuse ones (broad topics) low cuts: no fixed radius.
    """
    out = np.zeros(Z.shape[0], dtype=bool)
    y = np.asarray(ref_labels)
    for label in np.unique(y):
        members = ref[y == label]
        m = members.shape[0]
        if m < 3:
            continue
        kk = min(k, m - 1)
        within = members @ members.T
        np.fill_diagonal(within, -np.inf)
        own = np.sort(within, axis=1)[:, -kk:].mean(axis=1)
        cut = float(np.quantile(own, quantile))
        sims = Z @ members.T
        near = np.sort(sims, axis=1)[:, -kk:].mean(axis=1) if m > kk else sims.mean(axis=1)
        out |= near >= cut
    return out


def _balanced_sample(R: FloatArray, n: int, seed: int) -> FloatArray:
    """At most ``n`` reference rows, so labelled and candidate rows weigh alike."""
    if R.shape[0] <= n:
        return R
    rng = np.random.default_rng(seed)
    return R[np.sort(rng.choice(R.shape[0], n, replace=False))]


def _describe(
    rank: int,
    idx: IntArray,
    records: Sequence[DecisionRecord],
    Z: FloatArray,
    V: FloatArray,
    keywords: list[tuple[str, float]],
    taken: set[str],
    n_candidates: int,
    total_held: int,
    coverage: float,
    config: InsightsConfig,
) -> GapCluster:
    members = [records[i] for i in idx]
    direction = centroid(Z[idx])
    sims = Z[idx] @ direction
    order = np.argsort(-sims, kind="stable")
    examples: list[str] = []
    for j in order:
        text = members[int(j)].text
        if text not in examples:
            examples.append(text)
        if len(examples) >= config.representative_texts:
            break
    raw_centroid = centroid(V[idx])
    cohesion = float((unit_rows(V[idx]) @ raw_centroid).mean())
    votes = name_votes(members)
    n_votes = sum(1 for r in members if r.is_new_category)
    texts = [r.text for r in members]
    named = reviewer_name(votes)
    if named is not None:
        name = fit_name(named)
        base, k = name, 2
        while name in taken:
            name = fit_name(base, f"_{k}")
            k += 1
    else:
        name = propose_name(keywords, texts, taken=taken)
    between = Counter[str]()
    for r in members:
        between[r.label] += 1
        ru = r.runner_up
        if ru is not None:
            between[ru[0]] += 1
    top_between = between.most_common(2)
    held = sum(1 for r in members if r.bucket == "hold")
    kw = [t for t, _ in keywords]
    description = _description(len(members), kw, [b for b, _ in top_between], examples)
    return GapCluster(
        id=rank,
        size=len(members),
        held=held,
        share_of_held=round(held / total_held, 4) if total_held else 0.0,
        share_of_candidates=round(len(members) / n_candidates, 4),
        proposed_label=name,
        description=description,
        keywords=kw,
        keyword_scores=[s for _, s in keywords],
        between=[b for b, _ in top_between],
        between_counts=[{"label": b, "count": c} for b, c in between.most_common(4)],
        examples=examples,
        decision_ids=[r.id for r in members if r.id is not None],
        new_category_votes=n_votes,
        reviewer_names=[v for v, _ in votes.most_common(3)],
        mean_confidence=round(float(np.mean([r.confidence for r in members])), 4),
        cohesion=round(cohesion, 4),
        coverage=round(coverage, 4),
    )


def _description(size: int, keywords: list[str], between: list[str], examples: list[str]) -> str:
    topic = ", ".join(keywords[:3]) if keywords else "a common topic"
    text = f"{size} uncertain inputs about {topic}"
    if between:
        text += f", which the model splits between {' and '.join(between)}"
    if examples:
        text += f"; for example: \u201c{examples[0]}\u201d"
    return text + "."
