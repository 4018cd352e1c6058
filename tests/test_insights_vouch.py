"""Familiar clusters: a label's examples already use the words that define a cluster
(triaged.insights.vouch.familiar_clusters)."""

from __future__ import annotations

import numpy as np

from triaged.insights import DecisionRecord
from triaged.insights.terms import words
from triaged.insights.vouch import familiar_clusters

ROUTES = [
    f"flights from {a} to {b} {when}"
    for a, b in (("boston", "denver"), ("denver", "boston"), ("dallas", "boston"))
    for when in ("today", "tomorrow", "on monday", "in the morning")
]
EXAMPLES = {
    "flight": [words(t) for t in ROUTES],
    "fare": [words(f"how much is a ticket from {a} to denver") for a in ("boston", "dallas")],
}


def _records(texts: list[str], label: str) -> list[DecisionRecord]:
    return [
        DecisionRecord(id=str(i), text=t, label=label, confidence=0.99, bucket="review")
        for i, t in enumerate(texts)
    ]


def _familiar(groups: list[list[str]], label: str, share: float = 1 / 3) -> list[bool]:
    texts = [t for g in groups for t in g]
    labels = np.repeat(np.arange(len(groups)), [len(g) for g in groups]).astype(np.int64)
    found = familiar_clusters(
        labels, _records(texts, label), [words(t) for t in texts], EXAMPLES, share
    )
    return [bool(x) for x in found]


def test_a_burst_about_a_route_the_examples_name_is_familiar() -> None:
    burst = [f"show me flights from boston to denver {w}" for w in ("today", "on monday", "please")]
    assert _familiar([burst], "flight") == [True]


def test_a_word_the_examples_lack_or_use_less_makes_a_cluster_new() -> None:
    new_word = [f"add the {a} flight to my calendar" for a in ("boston", "denver", "dallas")]
    more_than_examples = [
        f"flights from dallas to boston {w}" for w in ("now", "soon", "later", "asap")
    ]
    # "dallas" is in 4 flight examples and the second cluster's 4 inputs: still familiar;
    # the first cluster's "add"/"calendar" appear in no flight example
    assert _familiar([new_word, more_than_examples], "flight") == [False, True]
    # the fare label's two examples never say "flights" and name boston once, dallas once
    assert _familiar([more_than_examples], "fare") == [False]


def test_only_words_a_share_of_the_inputs_use_define_the_cluster() -> None:
    # "layover" is in one input of four: it defines the cluster at share 0.25, not at 0.5
    cluster = [
        "flights from boston to denver today",
        "flights from denver to boston tomorrow",
        "flights from dallas to boston on monday",
        "flights from boston to denver with a layover",
    ]
    assert _familiar([cluster], "flight", share=0.5) == [True]
    assert _familiar([cluster], "flight", share=0.25) == [False]


def test_a_label_without_examples_vouches_for_nothing() -> None:
    assert _familiar([ROUTES[:3]], "baggage") == [False]
