"""A process fits one taxonomy definition once (``services/fit_memo.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.servicekit import TINY_TAXONOMY
from triaged.classifier import Classifier
from triaged.examples import example_taxonomy
from triaged.service import Service
from triaged.services import fit_memo
from triaged.services.training import trained
from triaged.settings import Settings
from triaged.storage import upgrade
from triaged.taxonomy import Taxonomy

TEXTS = ["I was charged twice", "the app crashes on start", "change my email", "hello there"]


@pytest.fixture(autouse=True)
def _empty() -> Any:
    fit_memo.clear()
    yield
    fit_memo.clear()


def _probs(clf: Classifier) -> list[tuple[str, float]]:
    return [(r.label, r.confidence) for r in clf.classify_batch(TEXTS)]


def test_the_same_definition_is_fitted_once_and_gives_the_fitted_model() -> None:
    tax = Taxonomy.from_dict(TINY_TAXONOMY)
    fresh = Classifier.from_taxonomy(tax).fit()  # no memo: what a fit gives
    first, blob = trained(tax, scope="ws1")
    steps: list[tuple[int, int, str]] = []
    again, blob_again = trained(
        Taxonomy.from_dict(TINY_TAXONOMY), on_progress=lambda *a: steps.append(a), scope="ws1"
    )
    assert steps == [(1, 1, "reused")]  # no fit ran: one step says so
    assert blob_again == blob
    assert again is not first  # a classifier of its own, loaded from the kept bytes
    assert again.model_version == first.model_version == fresh.model_version
    assert _probs(again) == _probs(fresh)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: dataclasses.replace(t, version=2),
        lambda t: dataclasses.replace(t, name="support2"),
        lambda t: dataclasses.replace(
            t, not_evidence=frozenset({"I was charged twice this month"})
        ),
        lambda t: dataclasses.replace(t, out_of_scope=("what is the weather",)),
        lambda t: dataclasses.replace(
            t,
            labels=(
                dataclasses.replace(t.labels[0], examples=(*t.labels[0].examples, "refund")),
                *t.labels[1:],
            ),
        ),
        lambda t: dataclasses.replace(
            t, labels=(dataclasses.replace(t.labels[0], description="Money"), *t.labels[1:])
        ),
    ],
    ids=["version", "name", "not-evidence", "out-of-scope", "an-example", "a-description"],
)
def test_any_change_to_what_the_fit_reads_fits_again(change: Any) -> None:
    tax = Taxonomy.from_dict(TINY_TAXONOMY)
    trained(tax, scope="ws1")
    calls: list[int] = []

    def fit() -> Classifier:
        calls.append(1)
        return Classifier.from_taxonomy(changed).fit()

    changed = change(tax)
    assert fit_memo.definition_key(changed) != fit_memo.definition_key(tax)
    fit_memo.fitted(changed, fit, scope="ws1")
    assert calls == [1]
    fit_memo.fitted(changed, fit, scope="ws1")
    assert calls == [1]


def test_a_large_blob_is_not_kept_and_the_oldest_goes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tax = Taxonomy.from_dict(TINY_TAXONOMY)
    monkeypatch.setattr(fit_memo, "MAX_BLOB", 10)  # every real blob is larger
    calls: list[int] = []

    def fit() -> Classifier:
        calls.append(1)
        return Classifier.from_taxonomy(tax).fit()

    fit_memo.fitted(tax, fit, scope="ws1")
    fit_memo.fitted(tax, fit, scope="ws1")
    assert len(calls) == 2
    monkeypatch.undo()
    monkeypatch.setattr(fit_memo, "ENTRIES", 2)
    clf, _ = fit_memo.fitted(tax, fit, scope="ws1")
    versions = [dataclasses.replace(tax, version=v) for v in (2, 3)]
    for v in versions:  # two newer definitions push the first one out
        fit_memo.fitted(v, lambda v=v: Classifier.from_taxonomy(v).fit(), scope="ws1")  # type: ignore[misc]
    fit_memo.fitted(tax, fit, scope="ws1")
    assert len(calls) == 4
    assert np.isfinite(clf.classify("refund please").confidence)


def test_a_fit_is_kept_for_its_workspace_and_the_bundled_example_for_all() -> None:
    """A hit is visible (its speed, its progress step): one workspace must not learn that
    another trained exactly the definition it guessed.  The example is public."""
    calls: list[str] = []

    def fit_of(t: Taxonomy) -> Any:
        return lambda: calls.append(t.name) or Classifier.from_taxonomy(t).fit()

    tiny = Taxonomy.from_dict(TINY_TAXONOMY)
    fit_memo.fitted(tiny, fit_of(tiny), scope="ws1")
    fit_memo.fitted(tiny, fit_of(tiny), scope="ws2")
    assert calls == ["support", "support"]
    data = {k: v for k, v in example_taxonomy().to_dict().items() if k != "thresholds"}
    example = Taxonomy.from_dict(data)
    assert fit_memo.definition_key(example) in fit_memo.shared_keys()
    calls.clear()
    fit_memo.fitted(example, fit_of(example), scope="ws1")
    fit_memo.fitted(example, fit_of(example), scope="ws2")
    assert calls == [example.name]


def test_the_example_is_fitted_once_for_all_workspaces_any_other_once_for_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[str] = []
    real_fit = Classifier.fit

    def counting(self: Classifier, *args: Any, **kwargs: Any) -> Classifier:
        fits.append(self.taxonomy.name)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Classifier, "fit", counting)
    url = f"sqlite:///{tmp_path / 'memo.db'}"
    upgrade(url)
    svc = Service(Settings(database_url=url))
    try:
        for ws in ("acme", "globex"):
            admin = svc.authenticate(svc.create_key(ws, "admin", create_plan="free").key or "")
            data = {k: v for k, v in example_taxonomy().to_dict().items() if k != "thresholds"}
            svc.create_taxonomy(admin, data)
            svc.create_taxonomy(admin, {**TINY_TAXONOMY, "name": "tiny"})
            assert svc.get_taxonomy(admin, data["name"])["model"]["model_version"]
        assert fits == [data["name"], "tiny", "tiny"]
    finally:
        svc.close()


def test_a_training_whose_row_is_gone_fits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its taxonomy or workspace was deleted before it trained: no fit, nothing stored
    (it used to fit, then fail reading the row it would store on)."""
    from triaged.services import training

    url = f"sqlite:///{tmp_path / 'gone.db'}"
    upgrade(url)
    svc = Service(Settings(database_url=url))
    fits: list[int] = []
    monkeypatch.setattr(Classifier, "fit", lambda *a, **k: fits.append(1))
    try:
        tax = Taxonomy.from_dict(TINY_TAXONOMY)
        assert training.finish(svc.db, "mdl_gone", tax) is None
        assert fits == []
    finally:
        svc.close()
