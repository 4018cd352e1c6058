"""The reviewer workspace's service layer on SQLite and PostgreSQL: overlap rounds
(every item twice at rate 1), disagreements to an admin, reopen, bulk resolve, search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from tests.servicekit import TINY_TAXONOMY, pg_database
from tests.web.seed import TEXTS
from triaged.errors import Conflict, Forbidden, NotFound
from triaged.service import ClassifyItem, Service
from triaged.services import review_workspace as rw
from triaged.services.decisions import DecisionFilter
from triaged.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    stack = ExitStack()
    url = stack.enter_context(pg_database()) if request.param == "postgres" else None
    extra = {"database_url": url} if url else {}
    settings = Settings(
        data_dir=tmp_path,
        bootstrap_admin=False,
        review_audit_rate=1.0,
        review_retrain_after=0,
        **extra,
    )
    svc = Service(settings)
    svc.start()
    keys = {
        "admin": svc.create_key("acme", "admin", create_plan="unlimited", name="boss"),
        "alice": svc.create_key("acme", "reviewer", name="alice"),
        "bob": svc.create_key("acme", "reviewer", name="bob"),
        "client": svc.create_key("acme", "client"),
    }
    p = {k: svc.authenticate(v.key) for k, v in keys.items()}
    svc.create_taxonomy(p["admin"], TINY_TAXONOMY)
    svc.wait_for_jobs(timeout=600)
    svc.classify(p["client"], "support", [ClassifyItem(t) for t in TEXTS * 2])
    try:
        yield {"svc": svc, **p}
    finally:
        svc.close()
        stack.close()


def _all(svc: Service, who: Any) -> list[dict[str, Any]]:
    out = []
    while items := svc.review.claim(who, limit=1, taxonomy="support"):
        out.append(items[0])
    return out


def test_overlap_rounds_kappa_disagreements_and_reopen(env):
    svc, admin, alice, bob = env["svc"], env["admin"], env["alice"], env["bob"]
    rw.update_settings(svc, admin, "support", overlap_rate=1.0)
    labels = ["billing", "bug", "account"]
    first = {}
    for n, it in enumerate(_all(svc, alice)):
        first[it["id"]] = labels[n % 3]
        svc.review.resolve(alice, it["id"], action="correct", label=first[it["id"]])
    assert _all(svc, alice) == []  # a second opinion never goes back to the first reviewer
    some = next(iter(first))
    assert svc.review.item(alice, some)["final_label"] == first[some]  # her own answer
    second = {}
    for n, it in enumerate(_all(svc, bob)):
        assert it["review_round"] == 2
        # answered blind: the first answer is withheld from the item, whatever the face
        assert all(it[f] is None for f in ("final_label", "action", "resolved_label", "note"))
        assert svc.review.item(bob, it["id"])["final_label"] is None
        assert svc.review.item(admin, it["id"])["final_label"] == first[it["id"]]
        second[it["id"]] = first[it["id"]] if n % 4 else labels[(n + 1) % 3]
        svc.review.resolve(bob, it["id"], action="correct", label=second[it["id"]])
    assert set(second) == set(first)
    agreed = next(i for i in second if first[i] == second[i])
    assert svc.review.item(alice, agreed)["final_label"] == first[agreed]  # shown again
    stats = rw.agreement_stats(svc, alice, taxonomy="support")
    a = [first[i] for i in second]
    b = [second[i] for i in second]
    assert stats["kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    disputed = {i for i in second if first[i] != second[i]}
    assert stats["open_disagreements"] == len(disputed)
    assert _all(svc, bob) == []
    settled = _all(svc, admin)
    assert {it["id"] for it in settled} == disputed
    one = settled[0]
    svc.review.resolve(admin, one["id"], action="correct", label=second[one["id"]])
    assert svc.review.item(admin, one["id"])["final_label"] == second[one["id"]]
    # the admin takes it back: the first reviewer's label is final again
    back = rw.reopen(svc, admin, one["id"])
    assert back["status"] == "claimed" and back["final_label"] == first[one["id"]]
    with pytest.raises(Conflict):
        rw.reopen(svc, bob, one["id"])


def test_the_first_answer_is_hidden_from_other_reviewers_on_every_path(env):
    """While an item waits for a second opinion its decision's final label is the first
    answer: the decision API, the label search and the item's history must not show it (or
    who gave it) to another reviewer (until 5 December they did); the client's workflow,
    and the first reviewer, still see it."""
    svc, admin, alice, bob = env["svc"], env["admin"], env["alice"], env["bob"]
    client = env["client"]
    rw.update_settings(svc, admin, "support", overlap_rate=1.0)
    [it] = svc.review.claim(alice, limit=1, taxonomy="support")
    answer = next(lb for lb in ("billing", "bug", "account") if lb != it["label"])
    svc.review.resolve(alice, it["id"], action="correct", label=answer, note="sure")
    dec = it["decision_id"]
    assert svc.decision(client, dec)["final_label"] == answer  # the workflow's view
    assert svc.decision(alice, dec)["final_label"] == answer  # her own answer
    seen = svc.decision(bob, dec)
    assert seen["final_label"] is None and seen["final_source"] is None
    listed, _ = svc.decisions(bob, DecisionFilter(taxonomy="support"), limit=500)
    assert next(d for d in listed if d["id"] == dec)["final_label"] is None
    # searching by the first answer finds it for alice only (by the model's label: anyone)
    found = rw.search_items(svc, bob, taxonomy="support", label=answer, limit=500)["items"]
    assert it["id"] not in {x["id"] for x in found}
    mine = rw.search_items(svc, alice, taxonomy="support", label=answer, limit=500)["items"]
    assert it["id"] in {x["id"] for x in mine}
    by_model = rw.search_items(svc, bob, taxonomy="support", label=it["label"], limit=500)
    assert it["id"] in {x["id"] for x in by_model["items"]}
    item = svc.review.item(bob, it["id"])
    assert item["first_by"] is None
    resolved = [h for h in item["history"] if h["event"] == "resolved"]
    assert resolved and all(h["actor"] is None and h["details"] == {} for h in resolved)
    # once bob has answered, the round is over: everyone sees the final label again
    assert it["id"] in {x["id"] for x in _all(svc, bob)}
    svc.review.resolve(bob, it["id"], action="correct", label=answer)
    assert svc.decision(bob, dec)["final_label"] == answer


def test_the_second_reviewer_cannot_tell_who_claimed_or_answered_first(env):
    """The history of an item waiting for a blind second opinion showed its reviewer the
    first reviewer's ``claimed`` event (their key id) right before the anonymous
    ``resolved`` one (until 7 December); nothing in it names them now, nor a withdrawn
    first answer.  The first reviewer and admin keys see it all."""
    svc, admin, alice, bob = env["svc"], env["admin"], env["alice"], env["bob"]
    rw.update_settings(svc, admin, "support", overlap_rate=1.0)
    [it] = svc.review.claim(alice, limit=1, taxonomy="support")
    answer = next(lb for lb in ("billing", "bug", "account") if lb != it["label"])
    svc.review.resolve(alice, it["id"], action="confirm")
    rw.reopen(svc, alice, it["id"])  # her first answer taken back, then a new one
    svc.review.resolve(alice, it["id"], action="correct", label=answer, note="sure")
    seen = svc.review.item(bob, it["id"])
    assert alice.key_id not in json.dumps(seen)
    assert answer not in json.dumps(seen["history"])
    assert [h["event"] for h in seen["history"]][:2] == ["created", "claimed"]
    assert all(h["actor"] is None for h in seen["history"] if h["event"] != "created")
    for who in (alice, admin):
        full = svc.review.item(who, it["id"])
        assert ("claimed", alice.key_id) in [(h["event"], h["actor"]) for h in full["history"]]
        assert full["first_by"] == alice.key_id


def test_admin_keys_see_the_final_label_of_an_item_in_a_blind_round(env):
    """While an item waits for a second opinion an admin key saw ``final_label`` null on the
    item and in the list, and the label search missed it, though the decision API showed it
    (until 7 December); reviewer keys other than the first stay blind."""
    svc, admin, alice, bob = env["svc"], env["admin"], env["alice"], env["bob"]
    rw.update_settings(svc, admin, "support", overlap_rate=1.0)
    [it] = svc.review.claim(alice, limit=1, taxonomy="support")
    answer = next(lb for lb in ("billing", "bug", "account") if lb != it["label"])
    svc.review.resolve(alice, it["id"], action="correct", label=answer)
    assert svc.decision(admin, it["decision_id"])["final_label"] == answer
    assert svc.review.item(admin, it["id"])["final_label"] == answer
    listed = svc.review.items(admin, taxonomy="support", limit=500)["items"]
    assert next(x for x in listed if x["id"] == it["id"])["final_label"] == answer
    found = rw.search_items(svc, admin, taxonomy="support", label=answer, limit=500)["items"]
    assert next(x for x in found if x["id"] == it["id"])["final_label"] == answer
    assert svc.review.item(bob, it["id"])["final_label"] is None
    hidden = rw.search_items(svc, bob, taxonomy="support", label=answer, limit=500)["items"]
    assert it["id"] not in {x["id"] for x in hidden}


def test_bulk_resolve_is_all_or_nothing_and_search_filters(env):
    svc, alice, bob = env["svc"], env["alice"], env["bob"]
    held = svc.review.claim(bob, limit=1, taxonomy="support")[0]
    pending = [i["id"] for i in svc.review.items(alice, status="pending", limit=100)["items"]]
    with pytest.raises(Conflict):
        rw.bulk_resolve(svc, alice, [*pending, held["id"]], action="ambiguous")
    assert len(svc.review.items(alice, status="resolved", limit=100)["items"]) == 0
    done = rw.bulk_resolve(svc, alice, pending, action="new_category", new_label="misc")
    assert {d["final_label"] for d in done} == {"misc"} and len(done) == len(pending)
    found = rw.search_items(svc, alice, text="REFUND", limit=50)["items"]
    assert found and all("refund" in it["text"].lower() for it in found)
    assert rw.search_items(svc, alice, label="misc", limit=100)["items"]
    hi = rw.search_items(svc, alice, confidence_min=0.99, confidence_max=1.0, limit=100)["items"]
    assert all(it["confidence"] >= 0.99 for it in hi)
    p = rw.progress(svc, alice, taxonomy="support")
    assert p["done_today"] == len(pending) and p["remaining"] == 1


def test_stats_and_progress_count_the_answers_that_stand(env):
    """Resolve, reopen, resolve again: one answer stands.  Progress said 1, while the review
    stats counted the withdrawn answer too (2 decisions, until 7 December)."""
    svc, alice = env["svc"], env["alice"]
    items = svc.review.claim(alice, limit=2, taxonomy="support")
    svc.review.resolve(alice, items[0]["id"], action="confirm")
    rw.reopen(svc, alice, items[0]["id"])
    svc.review.resolve(alice, items[0]["id"], action="out_of_scope")
    svc.review.resolve(alice, items[1]["id"], action="confirm")
    rw.reopen(svc, alice, items[1]["id"])  # taken back, not answered again (yet)
    assert rw.progress(svc, alice, taxonomy="support")["done_today"] == 1
    rows = svc.review.stats(alice, taxonomy="support")["reviewers"]
    assert [(r["reviewer"], r["decisions"]) for r in rows] == [(alice.key_id, 1)]
    svc.review.resolve(alice, items[1]["id"], action="confirm")
    assert rw.progress(svc, alice, taxonomy="support")["done_today"] == 2
    rows = svc.review.stats(alice, taxonomy="support")["reviewers"]
    assert sum(r["decisions"] for r in rows) == 2


def test_review_settings_are_for_review_roles(env):
    """A client key read the guidelines (200) while every other review route is 403 to it."""
    svc = env["svc"]
    assert rw.get_settings(svc, env["alice"], "support")["taxonomy"] == "support"
    with pytest.raises(Forbidden):
        rw.get_settings(svc, env["client"], "support")


def test_progress_and_the_item_list_are_per_taxonomy(env):
    """``taxonomy`` on /review/progress counted every taxonomy's answers and took unknown
    names (200); the item list took them too while its search said 404."""
    svc, admin, alice = env["svc"], env["admin"], env["alice"]
    svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "other"})
    svc.wait_for_jobs(timeout=600)
    [it] = svc.review.claim(alice, limit=1, taxonomy="support")
    svc.review.resolve(alice, it["id"], action="confirm")
    assert rw.progress(svc, alice, taxonomy="support")["done_today"] == 1
    assert rw.progress(svc, alice)["done_today"] == 1
    assert rw.progress(svc, alice, taxonomy="other")["done_today"] == 0
    with pytest.raises(NotFound):
        rw.progress(svc, alice, taxonomy="nope")
    with pytest.raises(NotFound):
        svc.review.items(alice, taxonomy="nope")


def test_reopen_after_a_second_opinion_says_why(env):
    """The first reviewer, after a second reviewer agreed, got 409 "no answer of yours"."""
    svc, admin, alice, bob = env["svc"], env["admin"], env["alice"], env["bob"]
    rw.update_settings(svc, admin, "support", overlap_rate=1.0)
    [it] = svc.review.claim(alice, limit=1, taxonomy="support")
    svc.review.resolve(alice, it["id"], action="confirm")
    assert it["id"] in {x["id"] for x in _all(svc, bob)}
    svc.review.resolve(bob, it["id"], action="confirm")
    with pytest.raises(Conflict) as refused:
        rw.reopen(svc, alice, it["id"])
    assert refused.value.details["reason"] == "answered_since"
    assert "another reviewer answered it after you" in refused.value.message


def test_a_second_opinion_after_a_rename_agrees_under_the_new_name(env):
    """A first answer "bug", then "bug" renamed "defect", then a second answer "defect":
    the two agree (the item went to an admin as a disagreement)."""
    svc, admin, alice, bob = env["svc"], env["admin"], env["alice"], env["bob"]
    rw.update_settings(svc, admin, "support", overlap_rate=1.0)
    [it] = svc.review.claim(alice, limit=1, taxonomy="support")
    svc.review.resolve(alice, it["id"], action="correct", label="bug")
    svc.rename_label(admin, "support", "bug", "defect", None)
    [again] = [x for x in _all(svc, bob) if x["id"] == it["id"]]
    assert again["review_round"] == 2
    svc.review.resolve(bob, it["id"], action="correct", label="defect")
    assert svc.review.item(admin, it["id"])["status"] == "resolved"
    assert rw.agreement_stats(svc, admin, taxonomy="support")["open_disagreements"] == 0
    assert it["id"] not in {x["id"] for x in _all(svc, admin)}
