"""The review queue and the learning loop, as the API, the web UI and the CLI call them.

Usage::

    >>> svc = Service(Settings(data_dir="/tmp/triaged")); svc.start()   # doctest: +SKIP
    >>> items = svc.review.claim(reviewer, limit=5)                      # doctest: +SKIP
    >>> svc.review.resolve(reviewer, items[0]["id"], action="confirm")   # doctest: +SKIP

Routing puts ``hold`` and ``review`` decisions, and a random ``audit`` share of
``auto`` ones, into the queue in the same transaction as the decision itself
(:meth:`ReviewService.enqueue`).  Reviewers (``reviewer`` and ``admin`` keys)
claim items with a lease and resolve them (``confirm``, ``correct``,
``new_category``, ``ambiguous``, or ``out_of_scope``: none of the labels fits, the
final label becomes ``oos``); resolving sets the decision's final label and writes
a webhook event in the same transaction.  Every
``review_retrain_after`` new reviews of a taxonomy start a retrain in the
background (never on the request path): a new model version trained and
calibrated on the taxonomy's examples plus the reviewed ones, evaluated on the
held-out reviewed ones.  The SQL lives in :mod:`triaged.services.review_queue`,
:mod:`triaged.services.review_stats` and :mod:`triaged.services.learning`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from triaged.errors import Conflict, NotFound
from triaged.services import decisions as decision_log
from triaged.services import learning, review_queue, review_stats, routing_policy, training
from triaged.services import taxonomies as taxo
from triaged.services.ids import utcnow
from triaged.services.keys import Principal, Role
from triaged.services.pools import stop_pool
from triaged.services.review_items import item_page
from triaged.services.review_queue import Action, ItemFilter, Queue
from triaged.services.review_rows import parse_status
from triaged.services.review_workspace import resolution_payload
from triaged.services.taxonomies import TaxonomyRecord
from triaged.storage import review_repo, taxonomy_repo
from triaged.storage.log_repo import LogWrites

if TYPE_CHECKING:
    from triaged.classifier import Classifier
    from triaged.services.jobs import JobRunner
    from triaged.services.training import ClassifierCache
    from triaged.settings import Settings
    from triaged.storage.db import Database
    from triaged.taxonomy import Taxonomy

__all__ = ["REVIEW_ROLES", "ReviewService"]

log = logging.getLogger("triaged.review")

REVIEW_ROLES = (Role.ADMIN, Role.REVIEWER)
LOWER_CHECK_EVERY = 25  # reviews between checks whether live evidence allows a lower threshold
# ``train`` with ``wait`` while a training of the same version runs: how long it waits for it
WAIT_FOR_RUNNING_S = 900.0


class ReviewService:
    """The queue, its metrics and the learning loop of one :class:`~triaged.service.Service`."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Callable[[], Settings],
        classifiers: ClassifierCache,
        routing_defaults: Callable[[str], routing_policy.Defaults],
        check_routing: Callable[..., object],
        jobs: Callable[[], JobRunner],
        rng: random.Random | None = None,
    ) -> None:
        """Collaborators injected by the service that owns this one: its database, its
        settings (read on each use: they can be swapped), its classifier cache, the routing
        defaults of a taxonomy, the live routing check (after a review) and its job runner
        (made on first use).  No reference back to the service itself."""
        self._db = db
        self._settings = settings
        self._classifiers = classifiers
        self._routing_defaults = routing_defaults
        self._live_check = check_routing
        self._runner = jobs
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._jobs: list[Future[Any]] = []
        self._scheduled: set[str] = set()  # taxonomy ids with a retrain queued here
        self._label_cache: dict[tuple[str, int], list[str]] = {}
        self._since_lowering: dict[str, int] = {}  # reviews since the last lowering check

    @property
    def settings(self) -> Settings:
        return self._settings()

    # ---------------------------------------------------------------- routing
    def audit_rate(self, taxonomy: str) -> float:
        rates = self.settings.review_audit_rates
        return float(rates.get(taxonomy, self.settings.review_audit_rate))

    def log_writes(self, rows: Sequence[dict[str, Any]], now: datetime) -> LogWrites:
        """What logging decision ``rows`` writes: the rows, and the review items (and their
        ``created`` events) of those a person must see or the audit sample drew."""
        items = review_queue.items_for(*self._picks(rows), now)
        return LogWrites(
            decisions=decision_log.stored(rows),
            review_items=items,
            review_events=review_repo.event_rows(
                review_queue.created_events_of(items), "created", None, now
            ),
        )

    def _picks(self, rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Queue]]:
        """The rows to queue for review (hold, review, audit drawn) and their queues."""
        picked: list[dict[str, Any]] = []
        queues: list[Queue] = []
        with self._rng_lock:
            draws = [self._rng.random() for _ in rows]
        for row, draw in zip(rows, draws, strict=True):
            rate = row.get("audit_rate")  # set by the routing policy (thin evidence: higher)
            if rate is None:
                rate = self.audit_rate(row["taxonomy"])
            audited = row["bucket"] == "auto" and draw < rate
            queue = review_queue.queue_for(row["bucket"], audited)
            if queue is not None:
                picked.append(row)
                queues.append(queue)
        return picked, queues

    # ------------------------------------------------------------------ queue
    def claim(
        self,
        principal: Principal,
        *,
        limit: int = 1,
        taxonomy: str | None = None,
        queue: str | None = None,
        lease_seconds: float | None = None,
    ) -> list[dict[str, Any]]:
        """Claim up to ``limit`` items for the caller with a lease (default from settings)."""
        principal.require(*REVIEW_ROLES)
        q = review_queue.parse(Queue, queue, "queue")
        lease = self.settings.review_lease_seconds if lease_seconds is None else lease_seconds
        with self._db.write() as conn:
            if taxonomy is not None:
                taxo.get_record(conn, principal.workspace_id, taxonomy)
            return review_queue.claim(
                conn,
                workspace_id=principal.workspace_id,
                key_id=principal.key_id,
                limit=limit,
                lease_seconds=lease,
                now=utcnow(),
                taxonomy=taxonomy,
                queue=q,
                viewer=review_queue.viewer_of(principal),
            )

    def resolve(
        self,
        principal: Principal,
        item_id: str,
        *,
        action: str,
        label: str | None = None,
        new_label: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Resolve an item the caller holds; 409 if it does not hold it or it is resolved."""
        from triaged.webhooks import enqueue_event

        principal.require(*REVIEW_ROLES)
        act = review_queue.parse(Action, action, "action")
        with self._db.write() as conn:
            record = self._item_taxonomy(conn, principal.workspace_id, item_id)
            labels = self._labels(conn, record)
            res = review_queue.resolve(
                conn,
                workspace_id=principal.workspace_id,
                key_id=principal.key_id,
                item_id=item_id,
                action=act,
                labels=labels,
                now=utcnow(),
                label=label,
                new_label=new_label,
                note=note,
                viewer=review_queue.viewer_of(principal),
            )
            if res.event_type is not None:
                enqueue_event(
                    conn,
                    workspace_id=principal.workspace_id,
                    event_type=res.event_type,
                    data=resolution_payload(res.item),
                )
        self._check_routing(principal.workspace_id, record.id, res.item["queue"])
        self.maybe_retrain(principal.workspace_id, record.id, record.name)
        return res.item

    def _check_routing(self, workspace_id: str, taxonomy_id: str, queue: str) -> None:
        """The live guarantee after a review (never fails the review that triggered it):
        every audit is checked against the current lane; every ``LOWER_CHECK_EVERY``-th
        review (per process) also asks whether the reviews certify a lower threshold."""
        with self._lock:
            n = self._since_lowering.get(taxonomy_id, 0) + 1
            lowering = n >= LOWER_CHECK_EVERY
            self._since_lowering[taxonomy_id] = 0 if lowering else n
        if queue != Queue.AUDIT.value and not lowering:
            return
        try:
            self._live_check(workspace_id, taxonomy_id, lowering=lowering)
        except Exception:  # the periodic check tries again
            log.exception("live routing check of %s failed", taxonomy_id)

    def release(self, principal: Principal, item_id: str) -> dict[str, Any]:
        principal.require(*REVIEW_ROLES)
        with self._db.write() as conn:
            return review_queue.release(
                conn,
                workspace_id=principal.workspace_id,
                key_id=principal.key_id,
                item_id=item_id,
                now=utcnow(),
                viewer=review_queue.viewer_of(principal),
                admin=principal.role == Role.ADMIN,
            )

    def item(self, principal: Principal, item_id: str) -> dict[str, Any]:
        """One item with its decision and full history."""
        principal.require(*REVIEW_ROLES)
        with self._db.read() as conn:
            return review_queue.get_item(
                conn,
                principal.workspace_id,
                item_id,
                now=utcnow(),
                viewer=review_queue.viewer_of(principal),
            )

    def items(
        self,
        principal: Principal,
        *,
        taxonomy: str | None = None,
        queue: str | None = None,
        status: str | None = None,
        claimed_by: str | None = None,
        decision_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """A page of items (oldest first) plus counts per queue for the same taxonomy."""
        principal.require(*REVIEW_ROLES)
        flt = ItemFilter(
            taxonomy=taxonomy,
            queue=review_queue.parse(Queue, queue, "queue"),
            status=parse_status(status),
            claimed_by=claimed_by,
            decision_id=decision_id,
        )
        now = utcnow()
        with self._db.read() as conn:
            if taxonomy:  # 404 for an unknown taxonomy, as the search answers
                taxo.get_record(conn, principal.workspace_id, taxonomy)
            return item_page(
                conn,
                principal.workspace_id,
                flt,
                now=now,
                limit=limit,
                cursor=cursor,
                viewer=review_queue.viewer_of(principal),
                taxonomy=taxonomy,
            )

    # ---------------------------------------------------------------- metrics
    def stats(
        self, principal: Principal, *, taxonomy: str | None = None, days: int = 30
    ) -> dict[str, Any]:
        principal.require(*REVIEW_ROLES)
        with self._db.read() as conn:
            if taxonomy is not None:  # 404 for a name this workspace does not have
                taxo.get_record(conn, principal.workspace_id, taxonomy)
            out = review_stats.review_stats(
                conn, principal.workspace_id, now=utcnow(), taxonomy=taxonomy, days=days
            )
        out["audit_rate"] = (
            self.audit_rate(taxonomy) if taxonomy else self.settings.review_audit_rate
        )
        return out

    def lane_error(
        self, principal: Principal, *, taxonomy: str | None = None, since: datetime | None = None
    ) -> dict[str, Any]:
        principal.require(*REVIEW_ROLES)
        with self._db.read() as conn:
            if taxonomy is not None:
                taxo.get_record(conn, principal.workspace_id, taxonomy)
            lanes = review_stats.lane_error(
                conn, principal.workspace_id, taxonomy=taxonomy, since=since
            )
        return {"taxonomy": taxonomy, "lanes": lanes}

    # --------------------------------------------------------------- learning
    def examples(self, principal: Principal, taxonomy: str) -> list[dict[str, Any]]:
        """The reviewed examples of a taxonomy (source ``review``), with their split."""
        principal.require(*REVIEW_ROLES)
        with self._db.read() as conn:
            record = taxo.get_record(conn, principal.workspace_id, taxonomy)
            tax = taxo.load_version(conn, record)
            rows = learning.reviewed_examples(
                conn, record.id, tax.label_names, self.settings.review_holdout_fraction
            )
        return [r.to_dict() for r in rows]

    def retrain(
        self, principal: Principal, taxonomy: str, *, wait: bool = False, trigger: str = "api"
    ) -> dict[str, Any]:
        """Train and calibrate a new model version on examples plus reviews (admin, reviewer)."""
        principal.require(*REVIEW_ROLES)
        return self._retrain(principal.workspace_id, taxonomy, trigger=trigger, wait=wait)

    def versions(self, principal: Principal, taxonomy: str) -> list[dict[str, Any]]:
        principal.require(*REVIEW_ROLES)
        with self._db.read() as conn:
            record = taxo.get_record(conn, principal.workspace_id, taxonomy)
            return learning.list_versions(conn, record)

    def rollback(self, principal: Principal, taxonomy: str, model_id: str) -> dict[str, Any]:
        """Make an earlier ready model version active (admin only)."""
        principal.require(Role.ADMIN)
        with self._db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, taxonomy, for_update=True)
            learning.rollback(conn, record, model_id)
            routing_policy.for_model(  # thresholds certified for the model made active
                conn,
                workspace_id=principal.workspace_id,
                taxonomy_id=record.id,
                model_id=model_id,
                evidence=routing_policy.evidence_of_model(conn, model_id),
                thresholds=taxo.load_version(conn, record).thresholds,
                defaults=self._routing_defaults(taxonomy),
            )
            versions = learning.list_versions(conn, record)
        return next(v for v in versions if v["id"] == model_id)

    def maybe_retrain(self, workspace_id: str, taxonomy_id: str, taxonomy: str) -> bool:
        """Start a background retrain once enough new reviews came in; True if one started."""
        every = int(self.settings.review_retrain_after)
        if every <= 0:
            return False
        if self._runner().queued:  # issue 11: one queued retrain per taxonomy, all processes
            with self._db.read() as conn:
                if learning.resolved_since_last_model(conn, taxonomy_id) < every:
                    return False
            args = {"workspace_id": workspace_id, "taxonomy_id": taxonomy_id, "taxonomy": taxonomy}
            self._runner().defer_now("retrain", args, queueing_lock=f"retrain:{taxonomy_id}")
            return True
        with self._lock:
            if taxonomy_id in self._scheduled:
                return False
        with self._db.read() as conn:
            if learning.resolved_since_last_model(conn, taxonomy_id) < every:
                return False
        with self._lock:
            if taxonomy_id in self._scheduled:
                return False
            self._scheduled.add(taxonomy_id)
            self._jobs = [j for j in self._jobs if not j.done()]
            self._jobs.append(self._pool().submit(self._auto, workspace_id, taxonomy_id, taxonomy))
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the retrains started here are done (tests, CLI, shutdown)."""
        for job in list(self._jobs):
            job.result(timeout=timeout)

    def close(self, deadline: float | None = None) -> int:
        """Stop the retrain thread (see :func:`~triaged.services.pools.stop_pool`); how many
        retrains still run at ``deadline`` (abandoned)."""
        with self._lock:
            pool, self._executor = self._executor, None
            jobs = list(self._jobs)
        return stop_pool(pool, jobs, deadline)

    # -------------------------------------------------------------- internals
    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="triaged-retrain")
        return self._executor

    def _auto(self, workspace_id: str, taxonomy_id: str, taxonomy: str) -> None:
        """An automatic retrain; when it ends, the reviews that came in while it ran (they
        found it scheduled and started nothing) start the next one if they reach the
        trigger already (until 7 December they waited for one more review)."""
        done = False
        try:
            self._retrain(workspace_id, taxonomy, trigger="auto", wait=True, here=True)
            done = True
        except Exception:  # logged; the next review schedules another try
            log.exception("automatic retrain of %s failed", taxonomy)
        finally:
            with self._lock:
                self._scheduled.discard(taxonomy_id)
                closed = self._executor is None
        if done and not closed:  # counted since the newest model: one retrain per trigger
            self.maybe_retrain(workspace_id, taxonomy_id, taxonomy)

    def _retrain(
        self, workspace_id: str, taxonomy: str, *, trigger: str, wait: bool, here: bool = False
    ) -> dict[str, Any]:
        """Start a retrain (or join the one running for this version).  With the job queue a
        worker trains it, waited for when ``wait``; ``here``: this process trains it itself
        (a worker's ``retrain`` job, or inline mode)."""
        with self._db.write() as conn:
            record = taxo.get_record(conn, workspace_id, taxonomy, for_update=True)
            if record.archived_at is not None:
                raise Conflict(f"taxonomy {taxonomy!r} is archived", details={"taxonomy": taxonomy})
            tax = taxo.load_version(conn, record)
            train_tax, reviewed, added = self._training_set(conn, record, tax)
            job, created = training.start_job(conn, record, train_tax)
            queued = created and not here and self._runner().queued
            if queued:  # issue 11: a worker trains it; enqueued with the model row
                self._runner().defer(conn, "train", {"model_id": job["id"], "trigger": trigger})
            elif created:  # trained by this process
                training.record_runner(conn, job["id"], trigger)
        if not created or (queued and wait):  # until 6 December an API process trained it
            return self._await(record, job) if wait else job
        if wait:
            self._train(record, job["id"], train_tax, reviewed, added, trigger)
        elif not queued:
            with self._lock:
                self._jobs = [j for j in self._jobs if not j.done()]
                self._jobs.append(
                    self._pool().submit(
                        self._train, record, job["id"], train_tax, reviewed, added, trigger
                    )
                )
        with self._db.read() as conn:
            return next(v for v in learning.list_versions(conn, record) if v["id"] == job["id"])

    def _await(self, record: TaxonomyRecord, job: dict[str, Any]) -> dict[str, Any]:
        """``job`` (a training already running, in this process or a worker) once it is no
        longer training, or as it stands after :data:`WAIT_FOR_RUNNING_S`."""
        deadline = time.monotonic() + WAIT_FOR_RUNNING_S
        while True:
            with self._db.read() as conn:
                now = next(
                    (v for v in learning.list_versions(conn, record) if v["id"] == job["id"]), job
                )
            if now.get("status") != "training" or time.monotonic() >= deadline:
                return now
            time.sleep(0.25)

    def with_reviews(self, conn: Connection, record: TaxonomyRecord, tax: Taxonomy) -> Taxonomy:
        """``tax`` plus what reviews taught (for every training of a served taxonomy)."""
        return self._training_set(conn, record, tax)[0]

    def _training_set(
        self, conn: Connection, record: TaxonomyRecord, tax: Taxonomy
    ) -> tuple[Taxonomy, list[learning.ReviewedExample], dict[str, int]]:
        holdout = self.settings.review_holdout_fraction
        reviewed = learning.reviewed_examples(conn, record.id, tax.label_names, holdout)
        auto: list[Any] = []
        if any(not r.holdout for r in reviewed):  # auto ones only balance reviewed ones
            auto = list(
                learning.auto_examples(
                    conn, record.id, tax.label_names, self.settings.review_auto_examples
                )
            )
        train_tax, added = learning.training_taxonomy(tax, reviewed, auto)
        return train_tax, reviewed, added

    def _train(
        self,
        record: TaxonomyRecord,
        model_id: str,
        train_tax: Taxonomy,
        reviewed: Sequence[learning.ReviewedExample],
        added: dict[str, int],
        trigger: str,
    ) -> None:
        db = self._db
        clf = training.finish(
            db,
            model_id,
            train_tax,
            self._routing_defaults(record.name),
            self.settings.training_threads,
        )
        if clf is None:
            return
        self._classifiers.put(model_id, clf)
        held = [r for r in reviewed if r.holdout]
        evaluation = learning.evaluate_on(clf, held)
        previous = self._previous(record)
        if previous is not None and held:
            evaluation["previous"] = {
                "model_version": previous.model_version,
                **learning.evaluate_on(previous, held),
            }
        evaluation["n_auto_examples"] = added["auto"]
        with db.write() as conn:
            learning.record_evaluation(
                conn,
                model_id=model_id,
                taxonomy_id=record.id,
                trigger=trigger,
                n_examples=train_tax.n_examples + len(train_tax.out_of_scope),
                n_review_examples=added["review"],
                evaluation=evaluation,
                now=utcnow(),
            )
        log.info("retrained %s (%s): %s", record.name, trigger, evaluation)

    def _previous(self, record: TaxonomyRecord) -> Classifier | None:
        if record.active_model_id is None:
            return None
        try:
            return self._classifiers.get(self._db, record)
        except Exception:  # an unloadable old model only loses the comparison
            return None

    def _labels(self, conn: Connection, record: TaxonomyRecord) -> list[str]:
        """Label names of the taxonomy's current version (versions never change: cached)."""
        key = (record.id, record.current_version)
        labels = self._label_cache.get(key)
        if labels is None:
            labels = taxo.load_version(conn, record).label_names
            with self._lock:
                if len(self._label_cache) > 1000:
                    self._label_cache.clear()
                self._label_cache[key] = labels
        return labels

    @staticmethod
    def _item_taxonomy(conn: Connection, workspace_id: str, item_id: str) -> TaxonomyRecord:
        row = taxonomy_repo.taxonomy_of_review_item(conn, workspace_id, item_id)
        if row is None:
            raise NotFound(f"no review item {item_id!r}", details={"item_id": item_id})
        return TaxonomyRecord.from_row(row)
