"""Term gaps: words a label's traffic uses and no example does (triaged.insights.terms)."""

from __future__ import annotations

import numpy as np

from triaged.insights import DecisionRecord, InsightsConfig
from triaged.insights.gaps import find_gap_clusters
from triaged.insights.terms import term_groups, words

SONGS = ("hello", "yesterday", "imagine", "help", "respect", "halo", "dreams", "creep")
ARTISTS = ("adele", "the beatles", "lennon", "queen", "abba", "prince")
PLAY = [f"play {song} by {artist}" for song in SONGS for artist in ARTISTS]
CITIES = ("paris", "oslo", "rome", "lima", "cairo", "quito", "perth", "seoul")
DAYS = ("today", "tomorrow", "tonight", "on monday", "this weekend", "at noon")
WEATHER = [f"what is the weather in {city} {day}" for city in CITIES for day in DAYS]
EXAMPLES = {"play": [words(t) for t in PLAY], "weather": [words(t) for t in WEATHER]}


def _traffic() -> tuple[list[str], list[str]]:
    """Candidates the model labelled ``play``: 8 ask to add a song to a playlist (a missing
    intent), 10 are plain play requests, 6 are weather questions sent to ``play``."""
    texts = [
        f"add {s} to my road trip playlist"
        for s in ("hello", "imagine", "help", "roxanne", "angie", "layla", "jolene", "vogue")
    ]
    texts += [
        f"play {s} by queen"
        for s in (
            "bohemian rhapsody",
            "radio gaga",
            "innuendo",
            "mustapha",
            "jealousy",
            "bicycle",
            "mustang",
            "sail away",
            "tenement",
            "love kills",
        )
    ]
    texts += [f"weather in {c} today" for c in ("paris", "oslo", "rome", "lima", "bern", "kyiv")]
    return texts, ["play"] * len(texts)


def test_a_word_no_example_uses_makes_a_group() -> None:
    texts, labels = _traffic()
    groups = term_groups(
        [words(t) for t in texts], labels, EXAMPLES, min_size=5, alpha=0.01, min_fold=10.0
    )
    assert len(groups) == 1
    (group,) = groups
    assert {"add", "playlist"} <= set(group.terms)  # they share their inputs: one group
    assert group.labels == ("play",)
    assert sorted(group.members.tolist()) == list(range(8))
    assert 0.0 < group.p_value <= 0.01
    # "weather" is frequent among the play candidates but it is the weather label's own
    # word: that label's traffic sent to a sibling, not a gap; "queen" is play's own word
    assert not {"weather", "queen", "today"} & set(group.terms)


def test_no_group_without_evidence() -> None:
    texts, labels = _traffic()
    cand = [words(t) for t in texts]
    # fewer inputs with the word than a group needs
    assert term_groups(cand, labels, EXAMPLES, min_size=9, alpha=0.01, min_fold=10.0) == []
    # the label's examples use the word too
    with_add = {**EXAMPLES, "play": EXAMPLES["play"] + [words("add hello to my playlist")] * 5}
    groups = term_groups(cand, labels, with_add, min_size=5, alpha=0.01, min_fold=10.0)
    assert all("add" not in g.terms for g in groups)
    # no examples at all, or no candidates
    assert term_groups(cand, labels, {}, min_size=5, alpha=0.01, min_fold=10.0) == []
    assert term_groups([], [], EXAMPLES, min_size=5, alpha=0.01, min_fold=10.0) == []
    # a strict enough level finds nothing: the tests are corrected, not a score cut-off
    strict = term_groups(cand, labels, EXAMPLES, min_size=5, alpha=1e-12, min_fold=10.0)
    assert strict == []


def test_find_gap_clusters_reports_a_term_gap_that_embeddings_do_not_show() -> None:
    """Candidates with no dense region in embedding space (random vectors): no cluster,
    but the inputs that say "add ... playlist" come back as a gap, named after the word."""
    rng = np.random.default_rng(0)
    texts, labels = _traffic()
    records = [
        DecisionRecord(t, lb, 0.55, "hold", id=str(i))
        for i, (t, lb) in enumerate(zip(texts, labels, strict=True))
    ]
    dim = 32
    V = rng.normal(size=(len(records), dim)).astype(np.float32)
    ref_texts = PLAY + WEATHER
    R = rng.normal(size=(len(ref_texts), dim)).astype(np.float32)
    ref_labels = ["play"] * len(PLAY) + ["weather"] * len(WEATHER)
    kwargs = {
        "reference": R,
        "reference_texts": {"play": PLAY, "weather": WEATHER},
        "label_names": ["play", "weather"],
        "total_held": len(records),
        "reference_labels": ref_labels,
    }
    off, _ = find_gap_clusters(records, V, config=InsightsConfig(term_alpha=None), **kwargs)
    assert off == []
    on, summary = find_gap_clusters(
        records, V, config=InsightsConfig(), example_words=EXAMPLES, **kwargs
    )
    assert len(on) == 1
    gap = on[0]
    assert set(gap.decision_ids) <= {str(i) for i in range(8)} and gap.size >= 5
    assert "add" in gap.keywords[:3] or "playlist" in gap.keywords[:3]
    assert "playlist" in gap.proposed_label or "add" in gap.proposed_label
    assert summary["clusters"] == 1
    assert summary["clustered_share"] == round(gap.size / len(records), 4)
    shares = summary["clustered_share"] + summary["explained_share"] + summary["noise_share"]
    assert abs(shares - 1.0) < 1e-6
    assert np.isfinite(gap.coverage)
