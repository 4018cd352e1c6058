"""Insights on real data: the bundled encoder, small slices of CLINC150, no mocks."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from triaged.classifier import Classifier
from triaged.insights import DecisionRecord, InsightsConfig, compute_insights
from triaged.insights.keywords import class_tfidf_keywords, propose_name, snake_case
from triaged.taxonomy import Example, Label, Taxonomy, read_jsonl

HELD_OUT = ("timer", "routing", "tire_change")
KEPT = (
    "alarm",
    "balance",
    "bill_due",
    "book_flight",
    "calories",
    "cook_time",
    "directions",
    "gas",
    "interest_rate",
    "oil_change_when",
    "pin_change",
    "recipe",
    "tire_pressure",
    "transactions",
    "travel_alert",
    "weather",
    "credit_score",
    "meeting_schedule",
)


@pytest.fixture(scope="module")
def clinc(datasets_dir: Path) -> dict[str, dict[str, list[str]]]:
    """Texts per label of CLINC150's train and test splits."""
    out: dict[str, dict[str, list[str]]] = {}
    for split in ("train", "test"):
        groups: dict[str, list[str]] = defaultdict(list)
        for ex in read_jsonl(datasets_dir / "clinc150" / f"{split}.jsonl"):
            groups[ex.label].append(ex.text)
        out[split] = dict(groups)
    return out


def _taxonomy(clinc: dict[str, dict[str, list[str]]], per_label: int = 20) -> Taxonomy:
    labels = tuple(
        Label(n, n.replace("_", " "), tuple(clinc["train"][n][:per_label])) for n in KEPT
    )
    return Taxonomy(name="clinc-slice", labels=labels)


def _purity_by_intent(report: dict, truth: dict[str, str]) -> dict[str, tuple[int, float]]:
    """For each held-out intent: (cluster id holding most of it, that cluster's purity)."""
    out = {}
    for intent in HELD_OUT:
        best = None
        for c in report["gap_clusters"]:
            k = sum(1 for d in c["decision_ids"] if truth[d] == intent)
            if k and (best is None or k > best[1]):
                best = (c["id"], k, k / c["size"])
        assert best is not None, f"{intent} is in no gap cluster"
        out[intent] = (best[0], best[2])
    return out


def _held_out_records(clinc: dict) -> tuple[list[DecisionRecord], dict[str, str]]:
    """Held traffic of the three missing intents and of out-of-scope queries, and automatic
    traffic of the kept labels; with each record's true intent by id."""
    rng = random.Random(0)
    records: list[DecisionRecord] = []
    truth: dict[str, str] = {}

    def add(text: str, intent: str, bucket: str, conf: float) -> None:
        label, second = rng.sample(KEPT, 2)
        rid = str(len(records))
        truth[rid] = intent
        records.append(
            DecisionRecord(
                text=text,
                label=label,
                confidence=conf,
                bucket=bucket,
                alternatives=((second, conf * 0.8),),
                id=rid,
            )
        )

    for intent in HELD_OUT:  # the missing categories: held
        for text in clinc["test"][intent]:
            add(text, intent, "hold", 0.4)
    for text in clinc["test"]["oos"][:150]:  # scattered out-of-scope traffic: held
        add(text, "oos", "hold", 0.3)
    for intent in KEPT:  # covered traffic: automatic
        for text in clinc["test"][intent][:10]:
            add(text, intent, "auto", 0.95)
    return records, truth


def test_held_out_intents_form_pure_gap_clusters(clinc: dict) -> None:
    tax = _taxonomy(clinc)
    records, truth = _held_out_records(clinc)
    report = compute_insights(records, tax).to_dict()
    found = _purity_by_intent(report, truth)
    assert all(purity >= 0.8 for _, purity in found.values()), found
    assert len({cid for cid, _ in found.values()}) == 3, found
    by_id = {c["id"]: c for c in report["gap_clusters"]}
    timer = by_id[found["timer"][0]]
    assert "timer" in timer["keywords"][:3] and "timer" in timer["proposed_label"]
    assert "routing" in by_id[found["routing"][0]]["proposed_label"], by_id[found["routing"][0]]
    for c in report["gap_clusters"]:
        assert {"size", "proposed_label", "keywords", "between", "examples"} <= set(c)
        assert c["size"] == len(c["decision_ids"]) and 0 < c["share_of_held"] <= 1
        assert set(c["between"]) <= set(KEPT) and len(c["examples"]) <= 5
    held = report["summary"]["held"]
    assert held == 3 * 30 + 150 and report["summary"]["gap_candidates"] == held


class _Counting:
    """The bundled encoder, recording every text it is asked to embed."""

    def __init__(self, enc: Any) -> None:
        self.enc, self.texts, self.dim = enc, [], enc.dim

    def embed(self, texts: Any, **kw: Any) -> Any:
        self.texts.extend(texts)
        return self.enc.embed(texts, **kw)


def test_the_active_models_example_vectors_are_not_embedded_again(clinc: dict) -> None:
    tax = _taxonomy(clinc)
    clf = Classifier(tax).fit()
    known = clf.example_vectors()
    assert set(known) == {e.text for e in tax.examples()}
    records, truth = _held_out_records(clinc)
    enc = _Counting(clf.encoder)
    report = compute_insights(records, tax, encoder=enc, known_vectors=known).to_dict()
    assert not set(enc.texts) & set(known)  # only the candidates were embedded
    assert len(enc.texts) == report["summary"]["gap_candidates"]
    found = _purity_by_intent(report, truth)  # the stored (int8) vectors serve as well
    assert all(purity >= 0.8 for _, purity in found.values()), found
    # an example the model was not trained on is embedded
    extra = Taxonomy(
        name="more",
        labels=(*tax.labels[:-1], Label(tax.labels[-1].name, "", ("a brand new example",))),
    )
    enc.texts.clear()
    compute_insights(records[:5], extra, encoder=enc, known_vectors=known)
    assert "a brand new example" in enc.texts


def test_reviewer_new_category_names_the_cluster_and_confirmed_items_leave(clinc: dict) -> None:
    tax = _taxonomy(clinc)
    records = []
    for i, text in enumerate(clinc["test"]["timer"]):
        records.append(
            DecisionRecord(
                text=text,
                label="alarm",
                confidence=0.7,
                bucket="review",
                id=f"t{i}",
                review_action="new_category",
                new_label="Kitchen timers",
            )
        )
    for i, text in enumerate(clinc["test"]["routing"]):  # resolved to an existing label
        records.append(
            DecisionRecord(
                text=text,
                label="balance",
                confidence=0.4,
                bucket="hold",
                id=f"r{i}",
                review_action="correct",
                final_label="balance",
            )
        )
    report = compute_insights(records, tax).to_dict()
    assert report["summary"]["gap_candidates"] == 30
    top = report["gap_clusters"][0]
    assert top["proposed_label"] == "kitchen_timers"
    assert top["new_category_votes"] == top["size"]
    assert all(d.startswith("t") for c in report["gap_clusters"] for d in c["decision_ids"])


def test_one_card_per_name_reviewers_gave(clinc: dict) -> None:
    """A cluster takes the name most of its named votes gave, however few of its inputs
    were voted on (it took it only from a third of the cluster up: a keyword name won), and
    two clusters the reviewers named alike are one card (each was a card, ``_2`` suffixed,
    inviting a duplicate label)."""
    tax = _taxonomy(clinc)
    records = []
    for intent, label in (("timer", "alarm"), ("tire_change", "balance")):
        for i, text in enumerate(clinc["test"][intent]):
            named = i < 4  # 4 of 30 voted: under a third
            records.append(
                DecisionRecord(
                    text=text,
                    label=label,
                    confidence=0.4,
                    bucket="hold",
                    id=f"{intent}{i}",
                    review_action="new_category" if named else None,
                    new_label="Car and kitchen" if named else None,
                )
            )
    report = compute_insights(records, tax).to_dict()
    names = [c["proposed_label"] for c in report["gap_clusters"]]
    assert names.count("car_and_kitchen") == 1 and "car_and_kitchen_2" not in names, names
    [card] = [c for c in report["gap_clusters"] if c["proposed_label"] == "car_and_kitchen"]
    ids = card["decision_ids"]
    assert any(d.startswith("timer") for d in ids) and any(d.startswith("tire") for d in ids)
    assert card["new_category_votes"] == 8


def test_clusters_a_known_label_vouches_for_are_not_gaps(clinc: dict) -> None:
    """Confident traffic of existing labels in the review lane (the auto lane closed) is the
    known labels' traffic, not a gap: the model's label is its nearest example's label, at
    confidence >= vouch_confidence.  The held-out intents, labelled as random siblings with
    low confidence, still form pure gap clusters; without vouching some known-label
    traffic is reported as a gap."""
    tax = _taxonomy(clinc)
    rng = random.Random(0)
    records, truth = [], {}
    for intent in HELD_OUT:
        for text in clinc["test"][intent]:
            rid = str(len(records))
            truth[rid] = intent
            records.append(DecisionRecord(text, rng.choice(KEPT), 0.45, "hold", id=rid))
    for intent in KEPT:  # right and fairly sure, but below the explained confidence (0.9)
        for text in clinc["test"][intent][:20]:
            rid = str(len(records))
            truth[rid] = intent
            records.append(DecisionRecord(text, intent, 0.85, "review", id=rid))

    def known_majority(report: dict) -> list[str]:
        out = []
        for c in report["gap_clusters"]:
            top, _ = Counter(truth[d] for d in c["decision_ids"]).most_common(1)[0]
            if top in KEPT:
                out.append(top)
        return out

    report = compute_insights(records, tax).to_dict()
    found = _purity_by_intent(report, truth)
    assert all(purity >= 0.8 for _, purity in found.values()), found
    assert report["summary"]["known_label_clusters"] >= 1
    off = compute_insights(records, tax, config=InsightsConfig(vouch_share=None)).to_dict()
    assert len(known_majority(report)) < len(known_majority(off)), (
        known_majority(report),
        known_majority(off),
    )
    assert off["summary"]["known_label_clusters"] == 0


def test_vouched_shares_per_cluster() -> None:
    from triaged.insights.scale import unit_rows
    from triaged.insights.vouch import vouched_shares

    rng = np.random.default_rng(0)
    centers = unit_rows(rng.normal(size=(2, 16)))
    ref = np.vstack([_blob(centers[i], 10, 0.05, rng) for i in range(2)])
    ref_labels = ["a"] * 10 + ["b"] * 10
    Z = np.vstack([_blob(centers[0], 6, 0.05, rng), _blob(centers[1], 6, 0.05, rng)])
    labels = np.array([0] * 6 + [1] * 6, dtype=np.int64)
    recs = [DecisionRecord(f"t{i}", "a", 0.95 if i != 1 else 0.5, "review") for i in range(6)]
    recs += [DecisionRecord(f"u{i}", "a", 0.95, "review") for i in range(6)]
    shares = vouched_shares(Z, labels, recs, ref, ref_labels, 0.8)
    # cluster 0: label a, nearest examples a, 5 of 6 sure enough; cluster 1: the model says
    # a, sure, but the nearest examples are b's (two pieces of evidence disagree)
    assert shares[0] == pytest.approx(5 / 6)
    assert shares[1] == 0.0
    assert vouched_shares(Z, labels, recs, ref[:0], [], 0.8).tolist() == [0.0, 0.0]


@pytest.fixture(scope="module")
def split_classifier(clinc: dict) -> tuple[Classifier, list[str], tuple[str, str]]:
    """A small taxonomy where ``balance`` is split at random into two labels."""
    rng = random.Random(1)
    names = (*KEPT[:12], "timer")
    labels, examples = [], []
    for n in names:
        if n == "balance":
            continue
        labels.append(Label(n, n.replace("_", " ")))
        examples += [Example(t, n) for t in clinc["train"][n][:30]]
    labels += [
        Label("balance_a", "questions about balance"),
        Label("balance_b", "requests about balance"),
    ]
    examples += [
        Example(t, rng.choice(("balance_a", "balance_b"))) for t in clinc["train"]["balance"][:60]
    ]
    tax = Taxonomy(name="split", labels=tuple(labels)).with_examples(examples)
    clf = Classifier.from_taxonomy(tax).fit()
    texts = [t for n in names for t in clinc["test"][n][:15]]
    return clf, texts, ("balance_a", "balance_b")


def test_split_intent_pair_ranks_first(split_classifier: tuple) -> None:
    clf, texts, pair = split_classifier
    results = clf.classify_batch(texts)
    records = [
        DecisionRecord(
            text=t,
            label=r.label,
            confidence=r.confidence,
            bucket=r.bucket.value,
            alternatives=tuple((a.label, a.confidence) for a in r.alternatives),
        )
        for t, r in zip(texts, results, strict=True)
    ]
    report = compute_insights(records, clf.taxonomy, encoder=clf.encoder).to_dict()
    first = report["overlaps"][0]
    assert set(first["labels"]) == set(pair)
    assert first["action"] == "merge"
    assert first["evidence"]["close_calls"] > 0 and first["evidence"]["examples"]
    assert first["score"] > report["overlaps"][1]["score"]
    assert {"labels", "score", "evidence", "action"} <= set(first)


def test_reviewer_corrections_raise_a_pair(clinc: dict) -> None:
    tax = _taxonomy(clinc)
    recs = []
    for i, text in enumerate(clinc["test"]["gas"][:20]):
        recs.append(
            DecisionRecord(
                text=text,
                label="gas",
                confidence=0.9,
                bucket="auto",
                alternatives=(("weather", 0.05),),
                review_action="correct" if i % 2 else "confirm",
                final_label="directions" if i % 2 else "gas",
            )
        )
    for text in clinc["test"]["weather"][:20]:
        recs.append(
            DecisionRecord(
                text=text,
                label="weather",
                confidence=0.9,
                bucket="auto",
                alternatives=(("gas", 0.05),),
                review_action="confirm",
                final_label="weather",
            )
        )
    report = compute_insights(recs, tax).to_dict()
    pairs = [set(o["labels"]) for o in report["overlaps"]]
    assert {"directions", "gas"} in pairs
    pair = report["overlaps"][pairs.index({"directions", "gas"})]
    assert pair["evidence"]["corrections"]["gas->directions"] == 10
    assert pair["evidence"]["components"]["corrections"] > 0
    health = {h["label"]: h for h in report["labels"]}
    assert health["gas"]["correction_rate"] == 0.5
    assert health["directions"]["received_corrections"] == 10


def test_label_health_figures() -> None:
    tax = Taxonomy(name="h", labels=(Label("a"), Label("b")))
    recs = [
        DecisionRecord(
            text=f"x{i}",
            label="a",
            confidence=0.9 if i < 30 else 0.5,
            bucket="auto" if i < 30 else "hold",
            review_action="confirm" if i < 36 else None,
            final_label="a",
        )
        for i in range(40)
    ]
    recs += [
        DecisionRecord(
            text="y",
            label="b",
            confidence=0.7,
            bucket="review",
            review_action="correct",
            final_label="a",
        )
    ]
    health = {h.label: h for h in compute_insights(recs, tax).labels}
    a, b = health["a"], health["b"]
    assert (a.volume, a.buckets, a.held_share) == (40, {"auto": 30, "review": 0, "hold": 10}, 0.25)
    assert a.reviewed == 36 and a.correction_rate == 0.0 and a.received_corrections == 1
    assert a.ece == pytest.approx((30 * 0.1 + 6 * 0.5) / 36, abs=1e-4)
    assert b.ece is None and b.correction_rate == 1.0
    assert b.corrected_to == [{"label": "a", "count": 1}]
    assert a.mean_confidence == pytest.approx(np.mean([0.9] * 30 + [0.5] * 10), abs=1e-4)


def test_record_from_api_mapping() -> None:
    r = DecisionRecord.from_mapping(
        {
            "id": 7,
            "text": "hi",
            "label": "a",
            "confidence": 0.5,
            "bucket": "hold",
            "alternatives": [{"label": "b", "confidence": 0.4}, {"label": "c", "confidence": 0.1}],
            "created_at": "2026-01-01T00:00:00Z",
            "review": {"action": "new_category", "new_label": "greetings"},
        }
    )
    assert r.runner_up == ("b", pytest.approx(0.8)) and r.id == "7"
    assert r.is_new_category and r.model_was_right is False and r.created_at is not None
    s = DecisionRecord.from_mapping(
        {
            "text": "t",
            "label": "a",
            "confidence": 0.6,
            "bucket": "review",
            "scores": {"a": 0.6, "b": 0.3},
        }
    )
    assert s.alternatives == (("b", pytest.approx(0.3)),)


def test_keywords_and_names() -> None:
    groups = [
        ["my luggage was lost", "the airline lost my luggage", "lost luggage claim"],
        ["set a timer for 5 minutes", "start a timer", "timer for ten minutes"],
    ]
    background = [["what's the weather", "is it raining"], ["book a flight", "flight to paris"]]
    kws = class_tfidf_keywords(groups, background=background, top_n=4)
    assert kws[0][0][0] in {"luggage", "lost luggage", "lost"}
    assert kws[1][0][0] == "timer"
    name = propose_name(kws[0], groups[0])
    assert "lost" in name and "luggage" in name
    assert "timer" in propose_name(kws[1], groups[1], taken={"timer"})
    assert propose_name(kws[1], groups[1], taken={"timer"}) != "timer"
    # intents read as verb + object; a name with an existing label's words gets more words
    pins = ["I want to change my pin", "how do I change the PIN", "change pin please", "pin?"]
    pin_kws = class_tfidf_keywords([pins], background=background, top_n=4)[0]
    assert propose_name(pin_kws, pins) == "change_pin"
    assert propose_name(pin_kws, pins, taken={"change_pin"}) != "change_pin"
    lost = propose_name(kws[0], groups[0], taken={"lost_luggage"})
    assert lost != "lost_luggage" and "luggage" in lost
    assert snake_case("Lost luggage!") == "lost_luggage"
    assert propose_name([], []) == "new_category"


def test_empty_and_tiny_windows() -> None:
    tax = Taxonomy(name="e", labels=(Label("a", "apples"), Label("b", "bananas")))
    empty = compute_insights([], tax).to_dict()
    assert empty["gap_clusters"] == [] and empty["overlaps"] == []
    assert [h["volume"] for h in empty["labels"]] == [0, 0]
    few = [DecisionRecord(text="what?", label="a", confidence=0.2, bucket="hold")] * 3
    out = compute_insights(few, tax, config=InsightsConfig(min_cluster_size=5)).to_dict()
    assert out["gap_clusters"] == [] and out["summary"]["gap_candidates"] == 3
    counts = Counter(h["label"] for h in out["labels"])
    assert counts == {"a": 1, "b": 1}


def test_held_inputs_with_wide_prediction_sets_do_not_make_every_pair_an_overlap() -> None:
    """Held inputs carry prediction sets of many labels.  Counted over every decision and
    every pair in its set, they made nearly every pair's traffic score 1.0 (a pair with no
    close call ranked above a real confusion).  A decision now points to the pairs of its
    own label, each with 1 / (set size - 1) of its doubt."""
    from triaged.insights.overlaps import find_overlaps

    labels = [f"l{i}" for i in range(10)]
    records = [
        DecisionRecord(f"held {i}", labels[i % 10], 0.3, "hold", prediction_set=tuple(labels))
        for i in range(200)
    ]
    # a real confusion: x and y swap, sets of both, close runner-ups
    records += [
        DecisionRecord(f"xy {i}", "x", 0.5, "review", (("y", 0.4),), prediction_set=("x", "y"))
        for i in range(30)
    ]
    records += [DecisionRecord(f"x {i}", "x", 0.95, "auto") for i in range(30)]
    cfg = InsightsConfig()
    empty = np.zeros((0, 4), np.float32)
    ranked = find_overlaps(
        records, example_vectors=empty, example_labels=[], example_texts=[], config=cfg
    )
    assert ranked[0].labels == ("x", "y"), [(o.labels, o.score) for o in ranked[:3]]
    others = [o for o in ranked if o.labels != ("x", "y")]
    assert all(o.evidence["components"]["traffic"] < 0.5 for o in others), [
        (o.labels, o.evidence["components"]) for o in others[:3]
    ]


def test_prediction_sets_feed_overlaps() -> None:
    """Pairs that share prediction sets rank as overlaps even when the runner-up score is
    far below the top one; the log's ``in_set`` flags are read back as the set."""
    from triaged.insights.overlaps import find_overlaps

    logged = DecisionRecord.from_mapping(
        {
            "text": "t",
            "label": "a",
            "confidence": 0.6,
            "bucket": "review",
            "alternatives": [
                {"label": "b", "confidence": 0.1, "in_set": True},
                {"label": "c", "confidence": 0.05, "in_set": False},
            ],
        }
    )
    assert logged.prediction_set == ("a", "b")
    assert DecisionRecord.from_mapping({**logged_map(), "alternatives": []}).prediction_set is None

    def rec(i: int, label: str, other: str, pset: tuple[str, ...]) -> DecisionRecord:
        # runner-up at a tenth of the top score: no close call by the traffic rule
        return DecisionRecord(
            f"text {i}", label, 0.9, "review", ((other, 0.09),), prediction_set=pset
        )

    records = [rec(i, "a", "c", ("a", "b")) for i in range(20)]
    records += [rec(i, "b", "c", ("b", "a")) for i in range(20, 40)]
    records += [rec(i, "c", "a", ("c",)) for i in range(40, 60)]
    cfg = InsightsConfig()
    empty = np.zeros((0, 4), np.float32)
    ranked = find_overlaps(
        records, example_vectors=empty, example_labels=[], example_texts=[], config=cfg
    )
    assert ranked[0].labels == ("a", "b")
    assert ranked[0].evidence["in_prediction_sets"] == 40
    without = [
        DecisionRecord(r.text, r.label, r.confidence, r.bucket, r.alternatives) for r in records
    ]
    plain = find_overlaps(
        without, example_vectors=empty, example_labels=[], example_texts=[], config=cfg
    )
    assert all(o.labels != ("a", "b") for o in plain)


def logged_map() -> dict[str, object]:
    return {"text": "t", "label": "a", "confidence": 0.6, "bucket": "review"}


def _blob(center: np.ndarray, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    from triaged.insights.scale import unit_rows

    return unit_rows(center + rng.normal(scale=scale, size=(n, center.shape[0])))


def test_taxonomy_density_explains_candidates_and_merges_split_clusters() -> None:
    """The labelled examples set the scale: inputs like a label's own examples are explained
    by it, a new topic is not; two halves of one topic merge, two topics stay apart."""
    from triaged.insights.gaps import explained_by_labels
    from triaged.insights.scale import label_scale, merge_clusters, unit_rows

    rng = np.random.default_rng(0)
    dim = 32
    centers = unit_rows(rng.normal(size=(5, dim)))
    ref = np.vstack([_blob(centers[i], 40, 0.08, rng) for i in range(3)])
    ref_labels = [f"l{i}" for i in range(3) for _ in range(40)]
    known = _blob(centers[0], 30, 0.08, rng)
    new = _blob(centers[3], 30, 0.08, rng)
    explained = explained_by_labels(np.vstack([known, new]), ref, ref_labels, 0.25)
    assert explained[:30].mean() >= 0.6 and explained[30:].mean() == 0.0
    scale = label_scale(ref, ref_labels, seed=0, merge_quantile=0.5, join_quantile=None)
    assert scale is not None and scale[1] == 2.0
    other = _blob(centers[4], 30, 0.08, rng)
    Z = np.vstack([new, other]).astype(np.float32)
    labels = np.array([0] * 15 + [1] * 15 + [2] * 30, dtype=np.int64)  # topic 3 cut in two
    merged = merge_clusters(Z, labels, *scale)
    assert len(set(merged[:30].tolist())) == 1 and merged[0] != merged[30]


def test_headline_says_how_much_uncertain_traffic_is_explained() -> None:
    from triaged.insights.render import to_markdown

    data = {
        "taxonomy": "t",
        "summary": {
            "decisions": 10,
            "gap_candidates": 8,
            "gap_explained_share": 0.5,
            "gap_clustered_share": 0.25,
            "unclustered_share": 0.25,
        },
    }
    text = to_markdown(data)
    assert "50.0% near existing labels" in text and "25.0% unclustered" in text


def _offset_topic(
    center: np.ndarray, cos: float, n: int, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """``n`` inputs around a direction at cosine ``cos`` to ``center``: a new topic next to
    a label."""
    from triaged.insights.scale import unit_rows

    d = rng.normal(size=center.shape[0])
    d = unit_rows((d - (d @ center) * center)[None, :])[0]
    return _blob(cos * center + np.sqrt(1 - cos**2) * d, n, scale, rng)


def test_inside_a_label_depends_on_the_clusters_size() -> None:
    """A large cluster of a new topic next to a broad label is as alike to the label's
    centre as two groups of 4 of its examples (the previous rule calls it inside), but far
    less than random groups of its own size: not inside.  Fresh inputs of the label are."""
    from triaged.insights.scale import inside_by_scale, inside_labels, label_scale, unit_rows

    rng = np.random.default_rng(1)
    centers = unit_rows(rng.normal(size=(2, 32)))
    ref = np.vstack([_blob(centers[0], 120, 0.25, rng), _blob(centers[1], 120, 0.25, rng)])
    ref_labels = ["a"] * 120 + ["b"] * 120
    Z = np.vstack([_blob(centers[0], 40, 0.25, rng), _offset_topic(centers[0], 0.8, 40, 0.25, rng)])
    labels = np.array([0] * 40 + [1] * 40, dtype=np.int64)
    assert inside_labels(Z, labels, ref, ref_labels, 0.05, seed=0).tolist() == [True, False]
    scale = label_scale(ref, ref_labels, seed=0)
    assert scale is not None
    cents = unit_rows(np.stack([ref[:120].mean(axis=0), ref[120:].mean(axis=0)]))
    assert inside_by_scale(Z, labels, cents, scale[0]).tolist() == [True, True]


def _label_and_topic() -> tuple[np.ndarray, list[str], np.ndarray]:
    """Reference examples of labels ``a`` and ``b``, and 80 candidates: 40 like a's examples,
    then 40 of a tight new topic next to ``a`` (no labelled example among them)."""
    from triaged.insights.scale import unit_rows

    rng = np.random.default_rng(2)
    centers = unit_rows(rng.normal(size=(2, 32)))
    ref = np.vstack([_blob(centers[0], 120, 0.25, rng), _blob(centers[1], 120, 0.25, rng)])
    known = _blob(centers[0], 40, 0.25, rng)
    new = _offset_topic(centers[0], 0.8, 40, 0.03, rng)
    return ref, ["a"] * 120 + ["b"] * 120, np.vstack([known, new])


def _gap_clusters(
    records: list[DecisionRecord], config: InsightsConfig
) -> tuple[list[Any], dict[str, Any]]:
    """:func:`find_gap_clusters` over :func:`_label_and_topic`'s candidates."""
    from triaged.insights.gaps import find_gap_clusters

    ref, ref_labels, vectors = _label_and_topic()
    return find_gap_clusters(
        records,
        vectors,
        reference=ref,
        reference_texts={"a": ["x"], "b": ["y"]},
        label_names=["a", "b"],
        total_held=0,
        config=config,
        reference_labels=ref_labels,
    )


def test_vouching_needs_labelled_examples_near_the_inputs() -> None:
    """The model and the nearest example agree on a sibling's label for a missing topic's
    inputs too; with no labelled example among their neighbours that is no evidence of a
    known label's traffic, and the topic is reported.  Fresh inputs of the label, as sure,
    are not."""
    records = [DecisionRecord(f"known {i}", "a", 0.85, "review", id=f"k{i}") for i in range(40)]
    records += [DecisionRecord(f"new {i}", "a", 0.85, "review", id=f"n{i}") for i in range(40)]

    def gaps(config: InsightsConfig) -> list[set[str]]:
        clusters, _ = _gap_clusters(records, config)
        return [{d[0] for d in c.decision_ids} for c in clusters]

    found = gaps(InsightsConfig())
    assert found == [{"n"}], found
    assert gaps(InsightsConfig(vouch_cover=None)) == []


def test_a_gap_sheds_the_inputs_a_known_label_vouches_for() -> None:
    """A known label's inputs that sit in a missing topic's cluster (they share a word, a
    city) leave it when the model and their nearest example agree on that label; the
    cluster, not vouched for as a whole, stays a gap."""
    records = [DecisionRecord(f"a {i}", "a", 0.85, "review", id=f"a{i}") for i in range(40)]
    records += [DecisionRecord(f"new {i}", "b", 0.45, "hold", id=f"n{i}") for i in range(34)]
    # sure enough to vouch (>= 0.8), not to be explained by a's examples (>= 0.9)
    records += [DecisionRecord(f"known {i}", "a", 0.85, "review", id=f"k{i}") for i in range(6)]

    def gaps(config: InsightsConfig) -> list[set[str]]:
        clusters, summary = _gap_clusters(records, config)
        assert (
            abs(sum(summary[k] for k in ("clustered_share", "explained_share", "noise_share")) - 1)
            < 1e-6
        )
        return [{d[0] for d in c.decision_ids} for c in clusters]

    assert gaps(InsightsConfig()) == [{"n"}]
    assert gaps(InsightsConfig(shed_vouched=False)) == [{"n", "k"}]
    shed, _ = _gap_clusters(records, InsightsConfig())
    assert shed[0].size == 34
    # most of the cluster vouched for, but no labelled example nearby: reported whole
    sure = [DecisionRecord(f"sure {i}", "a", 0.85, "review", id=f"s{i}") for i in range(30)]
    sure += [DecisionRecord(f"new {i}", "b", 0.45, "hold", id=f"n{i}") for i in range(10)]
    whole, _ = _gap_clusters(records[:40] + sure, InsightsConfig())
    assert [c.size for c in whole] == [40]
