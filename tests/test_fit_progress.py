"""A fit reports its real steps (embedding chunks, the final fit, each held-out fit, the
calibration) through ``on_progress(done, total, stage)``: ``total`` fixed from the first
report, ``done`` never going back and ending at ``total``; the model is the same with or
without a listener."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import small_taxonomy
from triaged.classifier import EMBED_STEP, Classifier
from triaged.models import Engine
from triaged.models.fit_progress import FitSteps
from triaged.taxonomy import Taxonomy

Report = tuple[int, int, str]


@pytest.fixture(scope="module")
def tax(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Taxonomy:
    return small_taxonomy(datasets_dir, tmp_path_factory.mktemp("tax"), labels=6, per_label=50)


def _monotone_to_total(reports: list[Report]) -> None:
    assert reports, "no progress reported"
    totals = {t for _, t, _ in reports}
    assert len(totals) == 1, totals
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and done[0] >= 0
    assert done[-1] == reports[-1][1]


@pytest.mark.parametrize("threads", [1, 2])
def test_classifier_fit_reports_every_step_in_order(tax: Taxonomy, threads: int) -> None:
    reports: list[Report] = []
    clf = Classifier.from_taxonomy(tax).fit(
        threads=threads, on_progress=lambda d, t, s: reports.append((d, t, s))
    )
    _monotone_to_total(reports)
    stages = [s for _, _, s in reports]
    n_embed = -(-tax.n_examples // EMBED_STEP)
    assert stages.count("embedding") >= n_embed  # the first (done 0) and one per chunk
    assert stages[-1] == "calibration" and "final fit" in stages
    report = clf.engine.report()
    held_out = int(report["cv_folds"]) + int(report["label_holdout_fits"])
    assert stages.count("held-out fits") == held_out
    assert reports[-1][1] == n_embed + held_out + 2
    plain = Classifier.from_taxonomy(tax).fit(threads=threads)
    mine, theirs = clf._arrays_and_meta()[0], plain._arrays_and_meta()[0]
    assert mine.keys() == theirs.keys()
    for key in mine:  # listening changes nothing
        np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)


def test_engine_alone_counts_its_own_steps(tax: Taxonomy) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.repeat(np.arange(4), 15).astype(np.int64)
    V = X[::15].copy()
    reports: list[Report] = []
    eng = Engine()
    eng.fit(X, y, label_vectors=V, on_progress=lambda d, t, s: reports.append((d, t, s)))
    _monotone_to_total(reports)
    assert reports[-1][1] == eng.fit_steps(y, 4) == len(reports)
    zero: list[Report] = []
    Engine().fit(X[:0], y[:0], label_vectors=V, on_progress=lambda *r: zero.append(r))
    assert zero == [(1, 1, "zero-shot")]


def test_rows_become_steps_without_going_past_them() -> None:
    reports: list[Report] = []
    steps = FitSteps(5, lambda d, t, s: reports.append((d, t, s)))
    advance = steps.rows("embedding", 1000, 4)
    for _ in range(20):
        advance(64)  # 1280 rows in all: a long text's windows count as rows too
    assert [d for d, _, _ in reports] == [1, 2, 3, 4]
    steps.step("calibration", 3)
    assert reports[-1] == (5, 5, "calibration")
