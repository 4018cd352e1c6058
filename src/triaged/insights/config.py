"""Tunable settings of the insights computation (all with measured defaults)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InsightsConfig"]


@dataclass(frozen=True, slots=True)
class InsightsConfig:
    """Settings for :func:`triaged.insights.compute_insights`.

    Gap clusters
        ``gap_buckets``: decisions from these buckets are gap candidates, unless a
        reviewer resolved them to an existing label; decisions marked ``new_category``
        are until a label of the name the reviewer proposed exists.  ``review`` is
        included by default: on taxonomies with many examples the model is often fairly
        sure of the nearest existing label for an input of a missing one (on CLINC150
        with 10 intents removed, about a third of those inputs land in ``review``, not
        ``hold``).
        ``min_cluster_size`` / ``min_samples``: HDBSCAN parameters; ``None`` scales them
        with the candidate volume (4 up to ~2,000 candidates, then ``sqrt(n) / 10``;
        ``min_samples`` = ``min_cluster_size``: small leaves, smoothed density).
        ``trim_mads``: members further than this many (scaled) MADs below the median
        similarity to their cluster centroid fall back to noise, which keeps clusters
        pure.  ``max_coverage``: clusters whose members have more than this share of
        labelled examples among their nearest neighbours (in a volume-balanced sample)
        sit inside an existing label and are not reported as gaps.
        ``inside_quantile``: a cluster whose centroid is at least as alike to its nearest
        label's centroid as this quantile of random groups of that label's examples *of
        the cluster's size* is inside the label and not reported
        (:func:`triaged.insights.scale.inside_labels`; 0.05, a test at the 5% level).
        ``None``: the previous rule, as alike as two groups of 4 examples of one label
        (median over labels), which called large clusters of a missing category inside a
        sibling (SNIPS: 59 AddToPlaylist inputs "inside" PlayMusic).
        ``min_report_size``: smaller clusters are not reported (their inputs count as
        unclustered): a proposal needs a few inputs to show what it is.
        ``explained_quantile``: a candidate as close to one label's examples as that
        quantile of the label's own examples are to each other is explained by the label
        and not clustered when the model's confidence is at least ``explained_confidence``
        (the taxonomy's density sets the scale; ``None``: off).
        ``merge``: gap clusters as alike as two groups of one label's examples are merged,
        and leftover candidates close to a cluster join it (the same scale; see
        :func:`triaged.insights.gaps.label_scale`).
        ``vouch_share`` / ``vouch_confidence``: a cluster in which at least ``vouch_share``
        of the inputs are vouched for by a known label (the model's label is also the label
        of the input's nearest labelled example, at confidence >= ``vouch_confidence``) is
        that label's traffic, not a gap (:mod:`triaged.insights.vouch`; ``None``: off).
        ``vouch_cover``: vouching counts only for clusters inside a label or whose
        coverage by labelled examples is at least this share of what inputs exchangeable
        with the examples would get in the same pool (``None``: always): the model and
        the nearest example agree on a sibling's label for a missing category's inputs
        too, but no labelled example sits among their neighbours.
        ``vouch_familiar``: vouching counts too for a cluster whose label's examples use
        every word that at least this share of its inputs use, at least as often as its
        inputs do (a burst of one label's traffic about one route;
        :func:`triaged.insights.vouch.familiar_clusters`; ``None``: off).
        ``shed_vouched``: a reported cluster drops the members a known label vouches for
        (a known label's inputs that joined it through a shared word, a city name).
        ``term_alpha`` / ``term_min_fold``: candidates sharing a word that their label's
        examples (and the taxonomy's) do not use are a gap too
        (:mod:`triaged.insights.terms`): family-wise level of the Bonferroni-corrected
        Fisher tests, and the least over-representation against the label's examples
        (``None``: off).
        Chosen leave-one-dataset-out on ``bench/bench_gaps.py``.
    Overlaps
        ``close_ratio``: a decision counts as a close call between its top two labels
        when the runner-up's score is at least this share of the top score.
        ``overlap_weights``: weights of the traffic, reviewer-correction and example
        closeness components in the combined score.
    """

    gap_buckets: tuple[str, ...] = ("hold", "review")
    explained_quantile: float | None = 0.6
    explained_confidence: float = 0.9
    merge: bool = True
    merge_quantile: float = 0.5
    join_quantile: float | None = None
    inside_quantile: float | None = 0.05
    vouch_share: float | None = 0.6
    vouch_confidence: float = 0.8
    vouch_cover: float | None = 0.2
    vouch_familiar: float | None = 1 / 3
    shed_vouched: bool = True
    term_alpha: float | None = 0.01
    term_min_fold: float = 10.0
    term_examples_per_label: int = 2000
    min_cluster_size: int | None = None
    min_samples: int | None = None
    trim_mads: float = 2.0
    max_coverage: float = 0.7
    min_report_size: int = 5
    coverage_k: int = 10
    max_cluster_points: int = 6000
    max_gap_clusters: int = 150
    representative_texts: int = 5
    keywords: int = 8
    max_examples_per_label: int = 20
    reference_budget: int = 1000
    close_ratio: float = 0.5
    overlap_weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    max_overlaps: int = 20
    overlap_example_texts: int = 5
    min_reviewed_for_ece: int = 30
    seed: int = 0

    def cluster_sizes(self, n: int) -> tuple[int, int]:
        """(min_cluster_size, min_samples) for ``n`` candidates."""
        mcs = self.min_cluster_size or max(4, round(n**0.5 / 10))
        ms = self.min_samples or mcs
        return mcs, ms
