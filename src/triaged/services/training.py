"""Model versions: training jobs stored as rows, trained models as blobs in the database.

Several API workers on PostgreSQL share the blobs; each keeps the classifiers it
has loaded in a small LRU cache keyed by model id.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from triaged.errors import ModelError, NotFittedError, NotFound
from triaged.services import fit_memo, routing_policy
from triaged.services.ids import as_utc, new_id, utcnow
from triaged.services.jobs import notify_model
from triaged.services.taxonomies import TaxonomyRecord
from triaged.services.training_progress import ProgressRecorder, progress_view
from triaged.storage import training_repo

if TYPE_CHECKING:
    from triaged.classifier import Classifier
    from triaged.storage.db import Database
    from triaged.taxonomy import Taxonomy

__all__ = [
    "HEARTBEAT_S",
    "SILENT_S",
    "ClassifierCache",
    "beat_mine",
    "fail_interrupted",
    "finish",
    "get_model",
    "heartbeat",
    "latest_job",
    "model_public",
    "record_runner",
    "start_job",
    "take_over_dead",
]

log = logging.getLogger("triaged.training")

#: how often a process training a model beats on its row, and how long a silent row is
#: taken for one whose process stopped (the queue's sweep and the inline take-over)
HEARTBEAT_S = 10.0
SILENT_S = 60.0


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def model_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "taxonomy_version": row.taxonomy_version,
        "model_version": row.model_version,
        "mode": row.mode,
        "n_examples": row.n_examples,
        "error": row.error,
        "created_at": _iso(row.created_at),
        "finished_at": _iso(row.finished_at),
        "progress": progress_view(row.progress, row.status),
    }


def get_model(conn: Connection, record: TaxonomyRecord, model_id: str) -> dict[str, Any]:
    """One model, with ``active`` as the list gives it (it read null until 5 December)."""
    row = training_repo.model_row(conn, record.id, model_id)
    if row is None:
        raise NotFound(
            f"no model {model_id!r} for taxonomy {record.name!r}", details={"model_id": model_id}
        )
    return {**model_public(row), "active": bool(row.active)}  # read with the row


def list_models(conn: Connection, record: TaxonomyRecord) -> list[dict[str, Any]]:
    return [model_public(r) for r in training_repo.model_rows(conn, record.id)]


def latest_job(conn: Connection, record: TaxonomyRecord) -> dict[str, Any] | None:
    row = training_repo.latest_model_row(conn, record.id)
    return model_public(row) if row is not None else None


def start_job(
    conn: Connection, record: TaxonomyRecord, tax: Taxonomy
) -> tuple[dict[str, Any], bool]:
    """A ``training`` row for this taxonomy version; reuses one already running (False)."""
    running = training_repo.running_job_row(conn, record.id, tax.version)
    if running is not None:
        return model_public(running), False
    mid = new_id("mdl")
    training_repo.insert_job(
        conn,
        model_id=mid,
        taxonomy_id=record.id,
        taxonomy_version=tax.version,
        n_examples=tax.n_examples + len(tax.out_of_scope),
        created_at=utcnow(),
    )
    return get_model(conn, record, mid), True


def fail_interrupted(conn: Connection, older_than_s: float) -> int:
    """Mark training jobs left ``training`` by a process that died as ``failed``."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    return training_repo.fail_stale_jobs(
        conn, cutoff, "interrupted (the server stopped while training)", utcnow()
    )


def record_runner(conn: Connection, model_id: str, trigger: str | None = None) -> None:
    """This process trains ``model_id`` itself (inline mode, or a retrain waited for):
    recorded on its row, so that if the process is killed mid-training another one on
    this machine trains it again (:func:`take_over_dead`) instead of leaving it
    ``training`` for hours."""
    from triaged.services.runner_id import this_runner

    training_repo.set_runner(conn, model_id, this_runner(), trigger)


@contextmanager
def heartbeat(db: Database, model_id: str, every: float = HEARTBEAT_S) -> Iterator[None]:
    """While the block trains ``model_id``, beat on its row every ``every`` seconds from a
    thread (training holds this one), so a training whose process stopped is told from a
    slow one (:data:`SILENT_S`)."""
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                with db.write() as conn:
                    if not training_repo.beat(conn, model_id, utcnow()):
                        return  # no longer training: nothing to keep alive
            except Exception:  # the database may be briefly unavailable: beat again later
                log.warning("heartbeat of model %s failed", model_id, exc_info=True)
            if stop.wait(every):
                return

    beater = threading.Thread(target=run, name=f"triaged-train-beat-{model_id}", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join(timeout=5)


def beat_mine(db: Database) -> int:
    """One heartbeat on every ``training`` row recorded as this process's (see
    :func:`record_runner`), queued or running; how many."""
    from triaged.services.runner_id import this_runner

    with db.write() as conn:
        return training_repo.beat_runner(conn, this_runner(), utcnow())


def take_over_dead(db: Database) -> list[tuple[str, str | None]]:
    """The ``training`` rows of another process that ran on this machine and is gone, or
    (any host) has not beaten for :data:`SILENT_S`, moved to this process (one process
    wins each row): their (model id, trigger), for the caller to train again."""
    from triaged.services.runner_id import known_dead, this_runner

    me = this_runner()
    silent = utcnow() - timedelta(seconds=SILENT_S)
    with db.read() as conn:
        dead = [
            r
            for r in training_repo.inline_training_rows(conn)
            if r.runner != me and (known_dead(r.runner) or as_utc(r.silent_since) < silent)
        ]
    taken: list[tuple[str, str | None]] = []
    for row in dead:
        with db.write() as conn:
            if training_repo.take_training(conn, row.id, row.runner, me):
                taken.append((row.id, row.trigger))
    return taken


def train(
    tax: Taxonomy,
    threads: int = 0,
    on_progress: Callable[[int, int, str], None] | None = None,
    *,
    scope: str,
) -> Classifier:
    """A classifier trained on ``tax`` for workspace ``scope`` (``threads``:
    ``TRIAGED_TRAINING_THREADS``), telling ``on_progress(done, total, stage)`` of each step
    of the fit."""
    return trained(tax, threads, on_progress, scope=scope)[0]


def trained(
    tax: Taxonomy,
    threads: int = 0,
    on_progress: Callable[[int, int, str], None] | None = None,
    *,
    scope: str,
) -> tuple[Classifier, bytes]:
    """:func:`train` and the model's blob; a definition this process has fitted for the
    workspace before is loaded from that fit's blob (:mod:`triaged.services.fit_memo`)."""
    from triaged.classifier import Classifier

    return fit_memo.fitted(
        tax,
        lambda: Classifier.from_taxonomy(tax).fit(
            progress=False, threads=threads, on_progress=on_progress
        ),
        on_progress,
        scope=scope,
    )


def finish(
    db: Database,
    model_id: str,
    tax: Taxonomy,
    routing_defaults: routing_policy.Defaults | None = None,
    threads: int = 0,
) -> Classifier | None:
    """Train ``tax`` and store the result on the job row; make it active if it is the newest
    (and certify a new routing-policy version for it in the same transaction).  Its
    progress is on the row while it trains (:class:`ProgressRecorder`)."""
    with db.read() as conn:
        target = training_repo.training_target(conn, model_id)
    if target is None:  # deleted (its taxonomy or workspace) before it trained
        log.info("model %s is gone: not trained", model_id)
        return None
    workspace_id, taxonomy_id = str(target.workspace_id), str(target.taxonomy_id)
    try:
        with heartbeat(db, model_id):
            clf, blob = trained(tax, threads, ProgressRecorder(db, model_id), scope=workspace_id)
    except Exception as exc:  # the job records any failure; the caller polls for it
        with db.write() as conn:
            training_repo.mark_failed(
                conn, model_id, f"{type(exc).__name__}: {exc}"[:2000], utcnow()
            )
        return None
    with db.write() as conn:
        stored = training_repo.mark_ready(
            conn,
            model_id,
            blob=blob,
            model_version=clf.model_version,
            mode=clf.mode,
            finished_at=utcnow(),
        )
        if not stored:  # another run of it finished first (or it was failed or deleted)
            log.warning("model %s was no longer training: this run's result is dropped", model_id)
            return None
        active_id = training_repo.lock_active_model_id(conn, taxonomy_id)
        active_version = -1
        if active_id is not None:
            active_version = training_repo.model_taxonomy_version(conn, active_id)
        if tax.version >= active_version:
            training_repo.set_active_model(conn, taxonomy_id, model_id)
            routing_policy.for_model(
                conn,
                workspace_id=workspace_id,
                taxonomy_id=taxonomy_id,
                model_id=model_id,
                evidence=routing_policy.evidence_of(clf),
                thresholds=tax.thresholds,
                defaults=routing_defaults or routing_policy.Defaults(),
            )
            notify_model(conn, workspace_id, taxonomy_id, model_id)  # every API process
    return clf


class ClassifierCache:
    """Loaded classifiers by model id (LRU); loads each blob once even under concurrency."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[str, Classifier] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, db: Database, record: TaxonomyRecord) -> Classifier:
        model_id = record.active_model_id
        if model_id is None:
            raise NotFittedError(
                f"taxonomy {record.name!r} has no trained model yet; poll GET "
                f"/v1/taxonomies/{record.name} until it is ready",
                details={"taxonomy": record.name},
            )
        with self._lock:
            clf = self._items.get(model_id)
            if clf is not None:
                self._items.move_to_end(model_id)
                return clf
            loading = self._loading.setdefault(model_id, threading.Lock())
        with loading:
            with self._lock:
                if model_id in self._items:
                    return self._items[model_id]
            clf = self._load(db, model_id)
            with self._lock:
                self._items[model_id] = clf
                self._loading.pop(model_id, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return clf

    def put(self, model_id: str, clf: Classifier) -> None:
        with self._lock:
            self._items[model_id] = clf

    @staticmethod
    def _load(db: Database, model_id: str) -> Classifier:
        from triaged.classifier import Classifier

        with db.read() as conn:
            blob = training_repo.model_blob(conn, model_id)
        if blob is None:
            raise ModelError(
                f"model {model_id} has no stored weights", details={"model_id": model_id}
            )
        return Classifier.from_bytes(bytes(blob))
