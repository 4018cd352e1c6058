"""A training shows its progress while it runs: the model view (one model, the list, the
taxonomy's ``training``) carries ``progress`` — done and total steps of the fit, the stage,
the share done, an ETA once there is a rate — written by the training (here the service's
background thread) in its own transactions, read over real HTTP from the test's thread
while the fit goes on, and null once the model is ``ready``.  On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servicekit import (
    BACKENDS,
    live_server,
    make_settings,
    pg_database,
    trained_stack,
    unique,
)
from triaged.api.app import create_app
from triaged.client import Client, ModelInfo, TrainingProgress
from triaged.service import Service
from triaged.services.ids import new_id, utcnow
from triaged.services.training_progress import ProgressRecorder, progress_view
from triaged.storage import training_repo, upgrade

LABELS, PER_LABEL = 12, 40  # 480 examples: a fit of a few seconds


def _banking(datasets_dir: Path, name: str) -> dict[str, Any]:
    labels: dict[str, list[str]] = {}
    for line in (datasets_dir / "banking77" / "train.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts = labels.get(row["label"])
        if texts is None and len(labels) < LABELS:
            texts = labels[row["label"]] = []
        if texts is not None and len(texts) < PER_LABEL:
            texts.append(row["text"])
    return {
        "name": name,
        "labels": [
            {"name": label, "description": label.replace("_", " "), "examples": texts}
            for label, texts in labels.items()
        ],
    }


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real app on uvicorn over SQLite or PostgreSQL, training in a background thread:
    its base URL and an admin key."""
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(pg_database())
        else:
            url = f"sqlite:///{tmp_path / 'progress.db'}"
        upgrade(url)
        svc = Service(make_settings(url, migrate_on_start=False, background_train_min_examples=1))
        stack.callback(svc.close)
        key = svc.create_key(unique("ws"), "admin", create_plan="unlimited").key or ""
        srv = stack.enter_context(live_server(create_app(service=svc)))
        yield srv.url, key


def _check_view(progress: dict[str, Any]) -> None:
    assert set(progress) == {"done", "total", "stage", "fraction", "eta_seconds", "updated_at"}
    assert 0 <= progress["done"] <= progress["total"] and progress["total"] > 0
    assert progress["fraction"] == pytest.approx(progress["done"] / progress["total"], abs=1e-4)
    assert progress["stage"] in {"embedding", "final fit", "held-out fits", "calibration"}
    if progress["done"] == 0:
        assert progress["eta_seconds"] is None  # no rate yet
    else:
        assert progress["eta_seconds"] is not None and progress["eta_seconds"] >= 0


def _watch(http: httpx.Client, name: str, model_id: str) -> tuple[dict[str, Any], list[Any]]:
    """Poll the model until it is no longer training: its last view and the progress seen
    (each checked, with the taxonomy's view of its training)."""
    seen: list[dict[str, Any]] = []
    url = f"/v1/taxonomies/{name}/models/{model_id}"
    while (model := http.get(url).json())["status"] == "training":
        if model["progress"] is not None:
            seen.append(model["progress"])
            _check_view(model["progress"])
            training = http.get(f"/v1/taxonomies/{name}").json()["training"]
            if training["status"] == "training":
                assert training["progress"] is not None
                _check_view(training["progress"])
        time.sleep(0.05)
    return model, seen


def test_progress_is_seen_while_training_and_null_once_ready(
    served: tuple[str, str], datasets_dir: Path
) -> None:
    base, key = served
    name = unique("progress")
    calls: list[TrainingProgress] = []
    auth = {"Authorization": f"Bearer {key}"}
    with Client(base, key) as sdk, httpx.Client(base_url=base, headers=auth, timeout=60) as http:
        info = sdk.create_taxonomy(**_banking(datasets_dir, name))
        assert info.training is not None and info.training.status == "training"
        # the SDK waits in another thread, told of the progress at each poll
        with ThreadPoolExecutor(1) as pool:
            waited = pool.submit(
                sdk.wait_until_ready, name, timeout=300, poll=0.05, on_progress=calls.append
            )
            model, seen = _watch(http, name, info.training.id)
            assert waited.result().ready
        assert model["status"] == "ready", model
        assert model["progress"] is None
        listed = http.get(f"/v1/taxonomies/{name}/models").json()["data"]
        assert [m["progress"] for m in listed] == [None]
        tax = http.get(f"/v1/taxonomies/{name}").json()
        assert tax["training"]["progress"] is None and tax["model"]["progress"] is None
        assert sdk.taxonomy(name).training.progress is None  # type: ignore[union-attr]
    assert seen, "no progress seen while training"
    assert len({p["total"] for p in seen}) == 1
    assert [p["done"] for p in seen] == sorted(p["done"] for p in seen)  # never goes back
    assert calls, "the SDK's wait was never told of the progress"
    assert [c.done for c in calls] == sorted(c.done for c in calls)
    assert {c.total for c in calls} == {seen[0]["total"]}
    parsed = ModelInfo.from_dict({**model, "status": "training", "progress": seen[-1]})
    assert parsed.progress == TrainingProgress.from_dict(seen[-1])


def test_the_recorder_writes_the_first_report_then_at_most_one_a_while(tmp_path: Path) -> None:
    """Reports in between are dropped (a write a second at most, never one per step); the
    first (the total) and the last are written, each visible to another connection."""
    trained = trained_stack("sqlite", f"sqlite:///{tmp_path / 'rec.db'}")
    svc = trained.service
    try:
        principal = svc.authenticate(trained.key)
        record = svc.taxonomy_record(principal, "support")
        model_id = new_id("mdl")
        with svc.db.write() as conn:
            training_repo.insert_job(
                conn,
                model_id=model_id,
                taxonomy_id=record.id,
                taxonomy_version=record.current_version,
                n_examples=9,
                created_at=utcnow(),
            )
        recorder = ProgressRecorder(svc.db, model_id, every=3600.0)
        for done in range(500):
            recorder(done, 1000, "embedding")
        assert recorder.writes == 1
        first = svc.model(principal, "support", model_id)["progress"]
        assert (first["done"], first["total"], first["eta_seconds"]) == (0, 1000, None)
        recorder(1000, 1000, "calibration")
        assert recorder.writes == 2
        last = svc.model(principal, "support", model_id)["progress"]
        assert (last["done"], last["fraction"], last["stage"]) == (1000, 1.0, "calibration")
        assert last["eta_seconds"] == 0.0
        with svc.db.write() as conn:  # a finished training shows none
            training_repo.mark_failed(conn, model_id, "stopped", utcnow())
        assert svc.model(principal, "support", model_id)["progress"] is None
    finally:
        svc.close()


def test_the_eta_comes_from_the_rate_so_far() -> None:
    start = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    stored = {
        "done": 10,
        "total": 40,
        "stage": "held-out fits",
        "started_at": start.isoformat(),
        "updated_at": (start + timedelta(seconds=19)).isoformat(),
    }
    view = progress_view(stored, "training", now=start + timedelta(seconds=20))
    assert view == {
        "done": 10,
        "total": 40,
        "stage": "held-out fits",
        "fraction": 0.25,
        "eta_seconds": 60.0,  # 30 steps left at 0.5 a second
        "updated_at": stored["updated_at"],
    }
    assert progress_view({**stored, "done": 0}, "training", now=start)["eta_seconds"] is None  # type: ignore[index]
    assert progress_view(stored, "ready") is None and progress_view(None, "training") is None
