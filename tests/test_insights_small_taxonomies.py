"""Insights on the smallest taxonomies: one label, and labels with no traffic yet (real
encoder, slices of CLINC150 and Banking77, no mocks)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from triaged.classifier import Classifier
from triaged.insights import DecisionRecord, compute_insights
from triaged.taxonomy import Label, Taxonomy, read_jsonl


def _groups(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for ex in read_jsonl(path):
        out[ex.label].append(ex.text)
    return dict(out)


@pytest.fixture(scope="module")
def clinc(datasets_dir: Path) -> dict[str, dict[str, list[str]]]:
    return {s: _groups(datasets_dir / "clinc150" / f"{s}.jsonl") for s in ("train", "test")}


def test_a_one_label_taxonomy_shows_its_gaps(clinc: dict) -> None:
    """With one label, the examples' mean is that label's own centre: centred on it, half of
    the label's examples pointed away from the other half and every cluster of held inputs
    counted as "inside" the label, so a one-label taxonomy never showed a gap (three
    missing intents classified by the trained one-label model: no cluster, all "covered")."""
    tax = Taxonomy(
        name="one", labels=(Label("alarm", "alarm", tuple(clinc["train"]["alarm"][:20])),)
    )
    clf = Classifier(tax).fit()
    texts: list[str] = []
    ids: list[str] = []
    for intent in ("timer", "routing", "tire_change", "alarm"):  # the label's own traffic too
        texts += clinc["test"][intent]
        ids += [f"{intent}:{i}" for i in range(len(clinc["test"][intent]))]
    records = [
        DecisionRecord(t, "alarm", r.confidence, "hold" if r.confidence < 0.6 else "review", id=i)
        for t, i, r in zip(texts, ids, clf.classify_batch(texts), strict=True)
    ]
    report = compute_insights(records, tax, encoder=clf.encoder).to_dict()
    found = {
        intent
        for c in report["gap_clusters"]
        for intent in ("timer", "routing", "tire_change")
        if sum(d.startswith(intent) for d in c["decision_ids"]) >= 0.8 * c["size"]
    }
    assert found == {"timer", "routing", "tire_change"}, report["gap_clusters"]
    for c in report["gap_clusters"]:  # the label's own inputs are not a gap
        assert sum(d.startswith("alarm") for d in c["decision_ids"]) < c["size"] / 2


def test_no_overlap_is_suggested_without_evidence(datasets_dir: Path) -> None:
    """Before anything is classified or reviewed, label pairs with an example or two nearest
    the other label's (under the contrasting-examples bar) were listed with action
    ``sharpen_descriptions`` and "the model splits inputs between them"."""
    train = _groups(datasets_dir / "banking77" / "train.jsonl")
    names = ("card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed", "pin_blocked")
    tax = Taxonomy(
        name="b5",
        labels=tuple(Label(n, n.replace("_", " "), tuple(train[n][:20])) for n in names),
    )
    report = compute_insights([], tax).to_dict()
    for o in report["overlaps"]:
        # what is left is what the examples alone show: they mix
        assert o["action"] != "sharpen_descriptions", o
        assert o["evidence"]["example_cross_nn_rate"] * 2 >= 0.15, o


def test_repeated_and_emoji_only_inputs_form_one_cluster_each(datasets_dir: Path) -> None:
    """Identical inputs are one topic: 30 emoji-only inputs (the encoder embeds every one of
    them alike) came back as three gap clusters of the same five texts, HDBSCAN splitting a
    run of identical points at random; and a long text sent three times lost a copy to
    noise (the int8 encoder's vectors of one text differ with the batch it is embedded in)."""
    train = _groups(datasets_dir / "banking77" / "train.jsonl")
    tax = Taxonomy(
        name="one", labels=(Label("card_arrival", "", tuple(train["card_arrival"][:20])),)
    )
    emoji = ["😀😀😀", "🔥", "🙏🙏", "💳❓", "😡😡😡😡"] * 6
    texts = emoji + ["same text again"] * 20 + ["这是一个关于信用卡的问题，我的卡还没有到"] * 3
    texts += ["Моя карта не пришла, что делать?", "بطاقتي لم تصل بعد", "カードがまだ届きません"]
    texts += ["word " * 1999, "card " * 1990 + " arrival", "<script>alert(1)</script>"] * 3
    records = [
        DecisionRecord(t, "card_arrival", 0.01, "hold", id=str(i)) for i, t in enumerate(texts)
    ]
    clusters = [
        set(c["decision_ids"]) for c in compute_insights(records, tax).to_dict()["gap_clusters"]
    ]
    assert [len(c) for c in clusters if c & {str(i) for i in range(30)}] == [30], clusters
    assert {str(i) for i in range(30, 50)} in clusters, clusters
    long = {str(i) for i in range(56, 65) if not texts[i].startswith("<")}
    assert [c & long for c in clusters if c & long] == [long], clusters


def test_no_overlap_names_a_label_the_taxonomy_no_longer_has(datasets_dir: Path) -> None:
    """Decisions made before a label was removed (or renamed) still carry its name: pairs
    with it were suggested ("sharpen the descriptions" of a label that has none any more)."""
    train = _groups(datasets_dir / "banking77" / "train.jsonl")
    names = ("card_arrival", "exchange_rate", "top_up_failed")
    tax = Taxonomy(name="b3", labels=tuple(Label(n, "", tuple(train[n][:20])) for n in names))
    records = [
        DecisionRecord(t, "pin_blocked", 0.5, "hold", alternatives=(("top_up_failed", 0.45),))
        for t in train["pin_blocked"][:10]
    ]
    records += [
        DecisionRecord(t, "exchange_rate", 0.5, "hold", alternatives=(("top_up_failed", 0.45),))
        for t in train["exchange_rate"][20:30]
    ]
    pairs = [tuple(o["labels"]) for o in compute_insights(records, tax).to_dict()["overlaps"]]
    assert ("exchange_rate", "top_up_failed") in pairs
    assert all(set(p) <= set(names) for p in pairs), pairs
