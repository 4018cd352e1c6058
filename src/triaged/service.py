"""The façade that the HTTP API, the CLI and the SDK call; none of them holds business logic.

Usage::

    >>> from triaged.service import Service
    >>> from triaged.settings import Settings
    >>> svc = Service(Settings(data_dir="/tmp/triaged"))      # doctest: +SKIP
    >>> svc.start()                                           # doctest: +SKIP

Every method that acts for a caller takes the caller's :class:`Principal`
(from :meth:`Service.authenticate`) and only ever sees that workspace's rows.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from triaged import inputs
from triaged.errors import Conflict, InvalidInput, PayloadTooLarge, ValidationFailed
from triaged.review import ReviewService
from triaged.routing import RoutingEvidence
from triaged.services import decisions as decision_log
from triaged.services import idempotency, keys, quota, routing_policy, training
from triaged.services import taxonomies as taxo
from triaged.services.facade.core import CLASSIFY_ROLES, READ_ROLES
from triaged.services.facade.operations import OperationsMixin
from triaged.services.ids import utcnow
from triaged.services.keys import Principal, Role
from triaged.services.routing_policy import Policy
from triaged.services.taxonomies import TaxonomyRecord
from triaged.settings import Settings
from triaged.storage import workspace_repo
from triaged.storage.db import Database
from triaged.storage.migrate import upgrade
from triaged.taxonomy import OOS_LABEL, Example, Taxonomy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

    from triaged.classifier import Classifier
    from triaged.services.jobs import JobRunner
    from triaged.services.jobs_bulk import BulkOptions

__all__ = ["CLASSIFY_ROLES", "READ_ROLES", "ClassifyItem", "Service"]

log = logging.getLogger("triaged.service")

STALE_TRAINING_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class ClassifyItem:
    text: str
    external_id: str | None = None
    metadata: dict[str, Any] | None = field(default=None)


class Service(OperationsMixin):
    """One service instance per process: settings, a database and the classifier cache."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        db: Database | None = None,
        review_rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.db = db or Database(
            self.settings.resolved_database_url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_max_overflow,
            sqlite_synchronous=self.settings.sqlite_synchronous,
        )
        self.classifiers = training.ClassifierCache(self.settings.classifier_cache_size)
        self.review = ReviewService(  # the queue and the learning loop
            db=self.db,
            settings=lambda: self.settings,
            classifiers=self.classifiers,
            routing_defaults=self.routing_defaults,
            check_routing=self.check_routing,
            jobs=lambda: self.jobs,
            rng=review_rng,
        )
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._jobs: list[Future[Any]] = []
        self._started = False
        # routing policy per (taxonomy id, version): (policy, thin evidence, checked at)
        self._policies: dict[tuple[str, int], tuple[Policy, bool, float]] = {}
        self._policies_lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> str | None:
        """Migrate (unless disabled) and create the first admin key; returns it, printed once."""
        if self._started:
            return None
        if self.settings.migrate_on_start:
            upgrade(self.db.url)
        self._started = True
        with self.db.write() as conn:  # jobs of a process that died mid-training
            training.fail_interrupted(conn, STALE_TRAINING_S)
        if self.settings.bootstrap_admin:
            return self.bootstrap()
        return None

    def bootstrap(self) -> str | None:
        with self.db.read() as conn:
            if workspace_repo.count_workspaces(conn):
                return None
        name = self.settings.bootstrap_workspace
        try:
            info = self.create_key(
                name, Role.ADMIN, name="bootstrap admin", create_plan=self.settings.bootstrap_plan
            )
        except Conflict:  # another worker got there first
            return None
        assert info.key is not None
        from triaged.examples import example_taxonomy

        example = example_taxonomy()  # so the README's curl call works on a fresh start
        # no thresholds in the definition: the example's routing is certified, not pinned
        definition = {k: v for k, v in example.to_dict().items() if k != "thresholds"}
        self.create_taxonomy(self.authenticate(info.key), definition)
        print(
            f"triaged: created workspace {name!r} (plan {self.settings.bootstrap_plan}) with the "
            f"example taxonomy {example.name!r}, and its admin API key; the key is shown only "
            f"once:\n\n    {info.key}\n",
            file=sys.stdout,
            flush=True,
        )
        return info.key

    def wait_for_jobs(self, timeout: float | None = None) -> None:
        for job in list(self._jobs):
            job.result(timeout=timeout)

    def close(self) -> None:
        self.jobs.close()  # issue 11: in-process jobs stop after their chunk in flight
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.review.close()
        self.db.dispose()

    def _public_taxonomy(
        self, conn: Any, record: TaxonomyRecord, tax: Taxonomy, *, include_examples: bool = False
    ) -> dict[str, Any]:
        active = (
            training.get_model(conn, record, record.active_model_id)
            if record.active_model_id
            else None
        )
        job = training.latest_job(conn, record)
        labels = [
            {
                "name": lb.name,
                "description": lb.description,
                "n_examples": len(lb.examples),
                **({"examples": list(lb.examples)} if include_examples else {}),
            }
            for lb in tax.labels
        ]
        status = "ready" if active is not None else (job["status"] if job else "untrained")
        return {
            "id": record.id,
            "name": record.name,
            "description": tax.description,
            "version": record.current_version,
            "thresholds": tax.thresholds.to_dict(),
            "labels": labels,
            "n_examples": tax.n_examples,
            "n_out_of_scope": len(tax.out_of_scope),
            "archived": record.archived_at is not None,
            "archived_at": record.archived_at.isoformat() if record.archived_at else None,
            "created_at": record.created_at.isoformat(),
            "updated_at": record.updated_at.isoformat(),
            "ready": active is not None,
            "status": status,
            "model": active,
            "training": job,
        }

    def _describe(
        self, record_id_name: tuple[str, str], *, include_examples: bool = False
    ) -> dict[str, Any]:
        workspace_id, name = record_id_name
        with self.db.read() as conn:
            record = taxo.get_record(conn, workspace_id, name)
            tax = taxo.load_version(conn, record)
            return self._public_taxonomy(conn, record, tax, include_examples=include_examples)

    def create_taxonomy(
        self, principal: Principal, definition: Mapping[str, Any]
    ) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        tax = Taxonomy.from_dict({**definition, "version": 1})
        self._check_size(tax)
        with self.db.write() as conn:
            record = taxo.create(conn, principal.workspace_id, tax)
            given = definition.get("thresholds") or {}
            if given:  # set in the definition: a manual policy
                self._pin_thresholds(conn, record.workspace_id, record.id, tax, None, given)
            job, _ = training.start_job(conn, record, tax)
        self._launch(job["id"], tax)
        return self._describe((principal.workspace_id, tax.name))

    def _check_size(self, tax: Taxonomy) -> None:
        s = self.settings
        taxo.check_size(tax, s.max_labels_per_taxonomy, s.max_examples_per_taxonomy)

    def list_taxonomies(
        self,
        principal: Principal,
        *,
        include_archived: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """The workspace's taxonomies by name (``after``/``limit``: one page)."""
        principal.require(*READ_ROLES)
        with self.db.read() as conn:
            out = []
            for record in taxo.list_records(
                conn,
                principal.workspace_id,
                include_archived=include_archived,
                limit=limit,
                after=after,
            ):
                out.append(self._public_taxonomy(conn, record, taxo.load_version(conn, record)))
            return out

    def get_taxonomy(
        self, principal: Principal, name: str, *, include_examples: bool = False
    ) -> dict[str, Any]:
        principal.require(*READ_ROLES)
        return self._describe((principal.workspace_id, name), include_examples=include_examples)

    def taxonomy_versions(self, principal: Principal, name: str) -> list[dict[str, Any]]:
        record = self.taxonomy_record(principal, name)
        with self.db.read() as conn:
            return taxo.list_versions(conn, record)

    def taxonomy_version(self, principal: Principal, name: str, version: int) -> dict[str, Any]:
        record = self.taxonomy_record(principal, name)
        with self.db.read() as conn:
            return taxo.load_version(conn, record, version).to_dict()

    def _new_version(
        self, principal: Principal, name: str, change: Any, *, train: bool = True
    ) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, name, for_update=True)
            current = taxo.load_version(conn, record)
            changed = change(current)
            self._check_size(changed)
            tax = taxo.new_version(conn, record, changed)
            if tax.thresholds != current.thresholds:  # changed in the definition: manual
                given = {
                    k: v
                    for k, v in tax.thresholds.to_dict().items()
                    if v != current.thresholds.to_dict()[k]
                }
                self._pin_thresholds(conn, record.workspace_id, record.id, tax, record, given)
            tax = self.review.with_reviews(conn, record, tax)  # + reviewed decisions
            job = training.start_job(conn, record, tax)[0] if train else None
        if job is not None:
            self._launch(job["id"], tax)
        return self._describe((principal.workspace_id, name))

    def update_taxonomy(
        self, principal: Principal, name: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        if changes.get("name") not in (None, name):
            raise InvalidInput("a taxonomy cannot be renamed", details={"field": "name"})
        return self._new_version(principal, name, lambda cur: taxo.merge_update(cur, changes))

    def add_examples(
        self, principal: Principal, name: str, examples: Sequence[Example], *, train: bool = True
    ) -> dict[str, Any]:
        return self._new_version(
            principal, name, lambda cur: taxo.add_examples(cur, examples), train=train
        )

    def archive_taxonomy(self, principal: Principal, name: str) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, name, for_update=True)
            taxo.archive(conn, record)
        return self._describe((principal.workspace_id, name))

    def train(self, principal: Principal, name: str) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, name, for_update=True)
            if record.archived_at is not None:
                raise Conflict(f"taxonomy {name!r} is archived", details={"taxonomy": name})
            tax = self.review.with_reviews(conn, record, taxo.load_version(conn, record))
            job, created = training.start_job(conn, record, tax)
        if created:
            self._launch(job["id"], tax)
        return self.model(principal, name, job["id"])

    def model(self, principal: Principal, name: str, model_id: str) -> dict[str, Any]:
        record = self.taxonomy_record(principal, name)
        with self.db.read() as conn:
            return training.get_model(conn, record, model_id)

    def models(self, principal: Principal, name: str) -> list[dict[str, Any]]:
        record = self.taxonomy_record(principal, name)
        with self.db.read() as conn:
            return training.list_models(conn, record)

    def _launch(self, model_id: str, tax: Taxonomy) -> None:
        if self.jobs.queued:  # issue 11: a `triaged worker` trains it
            self.jobs.defer_now("train", {"model_id": model_id}, queueing_lock=f"train:{model_id}")
            return
        n = tax.n_examples + len(tax.out_of_scope)
        if n >= self.settings.background_train_min_examples:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="triaged-train")
                self._jobs = [j for j in self._jobs if not j.done()]
                self._jobs.append(self._executor.submit(self._finish, model_id, tax))
        else:
            self._finish(model_id, tax)

    def _finish(self, model_id: str, tax: Taxonomy) -> None:
        clf = training.finish(self.db, model_id, tax, self.routing_defaults(tax.name))
        if clf is not None:
            self.classifiers.put(model_id, clf)

    def evaluate(
        self,
        principal: Principal,
        name: str,
        examples: Sequence[Example] | None = None,
        *,
        holdout: float = 0.2,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Figures of ``triaged eval``: on ``examples`` with the active model, or on a
        stratified held-out split of the current examples with a model trained on the rest."""
        from triaged.evaluation import evaluate

        principal.require(Role.ADMIN)
        record = self.taxonomy_record(principal, name)
        if examples:
            clf = self.classifiers.get(self.db, record)
            test = list(examples)
            mode = "given"
        else:
            with self.db.read() as conn:
                tax = taxo.load_version(conn, record)
            train_tax, test = _split(tax, holdout, seed)
            if not test:
                raise InvalidInput(
                    "not enough examples to hold some out; add examples or pass a test set",
                    details={"n_examples": tax.n_examples},
                )
            clf = training.train(train_tax)
            mode = "holdout"
        report = evaluate(clf, [e.text for e in test], [e.label for e in test])
        report.pop("reliability", None)
        clean: dict[str, Any] = json.loads(json.dumps(report, default=_jsonable))
        clean.update(
            evaluation=mode,
            taxonomy=record.name,
            model_version=clf.model_version,
            taxonomy_version=clf.taxonomy.version,
        )
        return clean

    # ----------------------------------------------------------------- classify
    def classify(
        self,
        caller: Principal | str,
        taxonomy: str,
        items: Sequence[ClassifyItem],
        *,
        idempotency_key: str | None = None,
        route: str = "classify",
    ) -> tuple[list[dict[str, Any]], bool]:
        """Classify, count and log ``items``; returns (decisions, replayed).

        ``caller`` is a principal, or an API key to authenticate in the same read.
        Limits are checked first, then the quota (pre-check on the counters read
        with the key), then the work; one transaction then counts exactly and writes.
        """
        started = time.perf_counter()
        self._check_items(items)
        request_hash = ""
        if idempotency_key is not None:
            idempotency.check_key(idempotency_key)
            request_hash = idempotency.fingerprint(
                route, [taxonomy, [(i.text, i.external_id, i.metadata) for i in items]]
            )
        win = quota.window()
        with self.db.lookup() as conn:
            if isinstance(caller, str):
                principal = keys.authenticate(conn, caller, self.settings.key_pepper)
            else:
                principal = caller
            principal.require(*CLASSIFY_ROLES)
            plan = self.plan(principal.plan)
            if idempotency_key is not None:
                stored = idempotency.lookup(
                    conn, principal.workspace_id, idempotency_key, request_hash
                )
                if stored is not None:
                    return list(stored), True
            quota.check(principal, plan, len(items), win)
            record = taxo.get_record(conn, principal.workspace_id, taxonomy)
        if record.archived_at is not None:
            raise Conflict(f"taxonomy {taxonomy!r} is archived", details={"taxonomy": taxonomy})
        clf = self.classifiers.get(self.db, record)
        policy, audit_rate = self._policy(record, clf)
        results = [
            replace(r, bucket=policy.route(r.confidence))
            for r in clf.classify_batch([i.text for i in items])
        ]
        now = utcnow()
        latency = (time.perf_counter() - started) * 1000 / max(1, len(items))
        rows = [
            decision_log.build_row(
                workspace_id=principal.workspace_id,
                taxonomy_id=record.id,
                key_id=principal.key_id,
                text=item.text,
                result=res,
                latency_ms=latency,
                created_at=now,
                external_id=item.external_id,
                metadata=item.metadata,
                policy_version=policy.version or None,
                audit_rate=audit_rate,
            )
            for item, res in zip(items, results, strict=True)
        ]
        out = [decision_log.public(r, include_text=False) for r in rows]
        if policy.auto is None:  # say why nothing is automatic
            for o in out:
                if o["bucket"] == "review":
                    o["routing_reason"] = policy.reason
        try:
            with self.db.write() as conn:
                quota.consume(conn, principal.workspace_id, plan, len(items), win)
                decision_log.insert_rows(conn, rows)
                self.review.enqueue(conn, rows, now)  # hold/review + audit sample, same transaction
                if idempotency_key is not None:
                    idempotency.remember(
                        conn, principal.workspace_id, idempotency_key, request_hash, out
                    )
        except IntegrityError:
            if idempotency_key is None:
                raise
            with self.db.read() as conn:  # a concurrent duplicate won the race: replay its answer
                stored = idempotency.lookup(
                    conn, principal.workspace_id, idempotency_key, request_hash
                )
            if stored is None:
                raise
            return list(stored), True
        return out, False

    def _check_items(self, items: Sequence[ClassifyItem]) -> None:
        s = self.settings
        if not items:
            raise ValidationFailed("no texts to classify", details={"field": "texts"})
        if len(items) > s.max_batch:
            raise ValidationFailed(
                f"a batch holds at most {s.max_batch} texts, got {len(items)}",
                details={"field": "texts", "limit": s.max_batch, "got": len(items)},
            )
        for i, item in enumerate(items):
            if len(item.text) > s.max_text_chars:
                raise PayloadTooLarge(
                    f"text {i} has {len(item.text)} characters; the limit is {s.max_text_chars}",
                    details={"index": i, "limit": s.max_text_chars, "got": len(item.text)},
                )
            inputs.check_text(item.text, f"texts[{i}]")
            if inputs.is_blank(item.text):  # zero-width characters only count as empty
                raise ValidationFailed(f"text {i} is empty", details={"index": i})
            inputs.check_external_id(item.external_id, f"texts[{i}].external_id")
            inputs.check_metadata(
                item.metadata,
                f"texts[{i}].metadata",
                max_depth=s.max_metadata_depth,
                max_bytes=s.max_metadata_bytes,
            )

    def classifier(self, principal: Principal, taxonomy: str) -> Classifier:
        """The active classifier of a taxonomy (in-process use, benchmarks)."""
        return self.classifiers.get(self.db, self.taxonomy_record(principal, taxonomy))

    # ------------------------------------------------------------------ routing
    def routing_defaults(self, taxonomy: str) -> routing_policy.Defaults:
        s = self.settings
        return routing_policy.Defaults(
            auto_error_target=s.routing_auto_error_target,
            confidence_level=s.routing_confidence_level,
            expected_out_of_scope=s.routing_expected_out_of_scope,
        )

    def _live_config(self) -> routing_policy.LiveConfig:
        return routing_policy.LiveConfig(
            min_audits=self.settings.routing_live_min_audits,
            thin_audit_rate=self.settings.routing_thin_audit_rate,
        )

    def _pin_thresholds(
        self,
        conn: Any,
        workspace_id: str,
        taxonomy_id: str,
        tax: Taxonomy,
        record: TaxonomyRecord | None,
        given: Mapping[str, Any],
    ) -> None:
        """Thresholds set in a taxonomy definition: a manual policy version (``auto`` pinned
        only when given; ``review`` alone keeps a certified auto threshold)."""
        base = routing_policy.current(conn, taxonomy_id)
        if base is None:
            d = self.routing_defaults(tax.name)
            base = routing_policy.legacy(taxonomy_id, tax.thresholds)
            base = replace(
                base,
                source="training",
                auto_error_target=d.auto_error_target,
                confidence_level=d.confidence_level,
                expected_out_of_scope=d.expected_out_of_scope,
            )
        model_id = record.active_model_id if record is not None else None
        evidence = (
            routing_policy.evidence_of_model(conn, model_id)
            if model_id
            else RoutingEvidence.empty()
        )
        routing_policy.set_manual(
            conn,
            workspace_id=workspace_id,
            taxonomy_id=taxonomy_id,
            model_id=model_id,
            evidence=evidence,
            changes={
                "review": tax.thresholds.review,
                **({"auto": tax.thresholds.auto} if "auto" in given else {}),
            },
            base=base,
        )

    def _policy(self, record: TaxonomyRecord, clf: Classifier) -> tuple[Policy, float | None]:
        """The policy a classify call routes by and the audit share of its ``auto`` decisions.

        Cached per (taxonomy, version): the version comes with the taxonomy record the call
        reads anyway, so a new version is seen at once; whether evidence is still thin (a
        higher audit share) is re-read every ``routing_refresh_seconds``.
        """
        version = record.routing_version
        if version is None:
            policy = routing_policy.legacy(record.id, clf.taxonomy.thresholds)
            return policy, self._audit_rates(policy, record.name, thin=False)[1]
        key = (record.id, version)
        now = time.monotonic()
        with self._policies_lock:
            cached = self._policies.get(key)
        if cached is None or now - cached[2] > self.settings.routing_refresh_seconds:
            with self.db.read() as conn:
                found = (
                    cached[0]
                    if cached is not None
                    else routing_policy.get_version(conn, record.id, version)
                )
                if found is None:  # cannot happen: the version is written with the row
                    found = routing_policy.legacy(record.id, clf.taxonomy.thresholds)
                thin = (
                    routing_policy.reviewed_audits_since(conn, found)
                    < self.settings.routing_live_min_audits
                )
            cached = (found, thin, now)
            with self._policies_lock:
                if len(self._policies) > 4096:
                    self._policies.clear()
                self._policies[key] = cached
        policy, thin, _ = cached
        return policy, self._audit_rates(policy, record.name, thin=thin)[1]

    def _audit_rates(self, policy: Policy, taxonomy: str, *, thin: bool) -> tuple[float, float]:
        """(configured, effective) audit share of ``auto`` decisions: the policy's or the
        settings'; while evidence is thin, at least ``routing_thin_audit_rate`` (0 stays 0:
        audits switched off)."""
        configured = (
            policy.audit_rate if policy.audit_rate is not None else self.review.audit_rate(taxonomy)
        )
        if thin and configured > 0:
            return configured, max(configured, self.settings.routing_thin_audit_rate)
        return configured, configured

    def _routing_state(self, conn: Any, record: TaxonomyRecord) -> dict[str, Any]:
        policy = routing_policy.current(conn, record.id)
        cfg = self._live_config()
        if policy is None:
            tax = taxo.load_version(conn, record)
            policy = routing_policy.legacy(record.id, tax.thresholds)
            rate, effective = self._audit_rates(policy, record.name, thin=False)
            return routing_policy.public(
                policy,
                record.name,
                status=None,
                cfg=cfg,
                audit_rate=rate,
                effective_audit_rate=effective,
            )
        rate = self._audit_rates(policy, record.name, thin=False)[0]
        status = routing_policy.live_status(conn, policy, default_rate=rate)
        effective = self._audit_rates(policy, record.name, thin=status.n < cfg.min_audits)[1]
        return routing_policy.public(
            policy,
            record.name,
            status=status,
            cfg=cfg,
            audit_rate=rate,
            effective_audit_rate=effective,
        )

    def routing(self, principal: Principal, name: str) -> dict[str, Any]:
        """The taxonomy's current routing policy and the bound it rests on."""
        record = self.taxonomy_record(principal, name)
        with self.db.read() as conn:
            return self._routing_state(conn, record)

    def set_routing(
        self, principal: Principal, name: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A new policy version (admin); never retrains.  ``auto: None`` re-certifies."""
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, name, for_update=True)
            base = routing_policy.current(conn, record.id)
            if base is None:
                tax = taxo.load_version(conn, record)
                d = self.routing_defaults(name)
                base = replace(
                    routing_policy.legacy(record.id, tax.thresholds),
                    source="training",
                    auto_error_target=d.auto_error_target,
                    confidence_level=d.confidence_level,
                    expected_out_of_scope=d.expected_out_of_scope,
                )
            evidence = (
                routing_policy.evidence_of(self.classifiers.get(self.db, record))
                if record.active_model_id
                else RoutingEvidence.empty()
            )
            routing_policy.set_manual(
                conn,
                workspace_id=principal.workspace_id,
                taxonomy_id=record.id,
                model_id=record.active_model_id,
                evidence=evidence,
                changes=changes,
                base=base,
            )
            record = taxo.get_record(conn, principal.workspace_id, name)
            return self._routing_state(conn, record)

    def what_if(
        self,
        principal: Principal,
        name: str,
        *,
        auto: float | None,
        review: float | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """Shares and auto error had other thresholds routed the window's decisions."""
        record = self.taxonomy_record(principal, name)
        start, end = routing_policy.parse_window(since, until, utcnow())
        with self.db.read() as conn:
            policy = routing_policy.current(conn, record.id)
            if policy is None:
                tax = taxo.load_version(conn, record)
                policy = routing_policy.legacy(record.id, tax.thresholds)
            review_t = policy.review if review is None else review
            routing_policy.check_thresholds(auto, review_t)
            return routing_policy.what_if(
                conn,
                taxonomy_id=record.id,
                auto=auto,
                review=review_t,
                since=start,
                until=end,
                confidence_level=policy.confidence_level,
                default_rate=self._audit_rates(policy, name, thin=False)[0],
            )

    def check_routing(
        self, workspace_id: str, taxonomy_id: str, *, lowering: bool = True
    ) -> Policy | None:
        """The live guarantee of one taxonomy: a new ``live`` version when the audits say
        so (after a review, and periodically).  Reads first; writes only on a change.
        ``lowering=False``: only whether the current lane fails (cheap: its own audits)."""
        cfg = self._live_config()
        with self.db.read() as conn:
            record = taxo.get_record_by_id(conn, workspace_id, taxonomy_id)
            rate = self.review.audit_rate(record.name)
            if record.active_model_id is None:
                return None
            if record.routing_version is None:  # a model from before policies: certify
                pass
            elif not routing_policy.live_check(
                conn,
                workspace_id=workspace_id,
                taxonomy_id=taxonomy_id,
                taxonomy=record.name,
                active_model_id=record.active_model_id,
                cfg=cfg,
                write=False,
                default_rate=rate,
                lowering=lowering,
            ):
                return None
        with self.db.write() as conn:
            if record.routing_version is None:
                clf = self.classifiers.get(self.db, record)
                tax = clf.taxonomy
                return routing_policy.for_model(
                    conn,
                    workspace_id=workspace_id,
                    taxonomy_id=taxonomy_id,
                    model_id=record.active_model_id,
                    evidence=routing_policy.evidence_of(clf),
                    thresholds=tax.thresholds,
                    defaults=self.routing_defaults(record.name),
                )
            new = routing_policy.live_check(
                conn,
                workspace_id=workspace_id,
                taxonomy_id=taxonomy_id,
                taxonomy=record.name,
                active_model_id=record.active_model_id,
                cfg=cfg,
                write=True,
                default_rate=rate,
                lowering=lowering,
            )
        return new if isinstance(new, Policy) else None

    # ---------------------------------------------------------------- decisions
    def decision(self, principal: Principal, decision_id: str) -> dict[str, Any]:
        principal.require(*READ_ROLES)
        with self.db.read() as conn:
            return decision_log.get_decision(conn, principal.workspace_id, decision_id)

    def decisions(
        self,
        principal: Principal,
        flt: decision_log.DecisionFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        principal.require(*READ_ROLES)
        with self.db.read() as conn:
            return decision_log.list_decisions(
                conn, principal.workspace_id, flt, limit=limit, cursor=cursor
            )

    # --- sign-up (issue 14)
    # Thin doors to triaged.services.signup (sign-up, invites, verification) and
    # triaged.services.workspace_admin (operator commands, the usage page).
    def signup(
        self,
        name: str,
        email: str,
        *,
        client: str,
        base_url: str,
        invite: str | None = None,
    ) -> dict[str, Any]:
        """Create a workspace on the sign-up plan with an admin key (shown once) and the
        example taxonomy; with a mail server it stays pending until the emailed link is
        followed.  Refused attempts write nothing; a failed email undoes the sign-up."""
        from triaged.services import signup as su

        s = self.settings
        su.check_mode(s, invite)
        req = su.SignupRequest(name, email, client, invite)
        with self.db.write() as conn:
            res = su.reserve(conn, s, req, utcnow())
        base = (s.public_url or base_url).rstrip("/")
        try:
            su.after_reserve(self, res, base)
        except BaseException:
            self.delete_workspace(res.workspace)
            raise
        assert res.key.key is not None
        return su.public_result(res, base)

    def verify_signup(self, token: str) -> dict[str, Any]:
        """Follow an emailed verification link: the workspace becomes active."""
        from triaged.services import signup as su

        with self.db.write() as conn:
            return su.verify(conn, token, utcnow())

    def create_invite(
        self, principal: Principal, *, base_url: str, note: str = "", hours: float | None = None
    ) -> dict[str, Any]:
        """A single-use sign-up invite (admin); its link is in this answer only."""
        from triaged.services import signup as su

        hours = self.settings.signup_invite_hours if hours is None else hours
        with self.db.write() as conn:
            out, token = su.create_invite(conn, principal, note, hours, utcnow())
        base = (self.settings.public_url or base_url).rstrip("/")
        return {**out, "token": token, "url": f"{base}/ui/signup?invite={token}"}

    def operator_invite(
        self, workspace: str, *, base_url: str, note: str = "", hours: float | None = None
    ) -> dict[str, Any]:
        """Operator (CLI): an invite handed out in the name of ``workspace``."""
        from triaged.services import signup as su

        hours = self.settings.signup_invite_hours if hours is None else hours
        with self.db.write() as conn:
            ws = keys.get_workspace(conn, workspace)
            out, token = su.invite_for(conn, ws["id"], None, note, hours, utcnow())
        base = (self.settings.public_url or base_url).rstrip("/")
        return {**out, "token": token, "url": f"{base}/ui/signup?invite={token}"}

    def list_invites(self, principal: Principal) -> list[dict[str, Any]]:
        from triaged.services import signup as su

        with self.db.read() as conn:
            return su.list_invites(conn, principal)

    def usage_report(self, principal: Principal) -> dict[str, Any]:
        """The usage page (admin): month against quota, per day, per key, reset, the limit."""
        from triaged.services import workspace_admin

        principal.require(Role.ADMIN)
        with self.db.read() as conn:
            ws = keys.get_workspace(conn, principal.workspace)
            return workspace_admin.usage_report(
                conn, principal.workspace_id, self.plan(ws["plan"]), quota.window()
            )

    def workspaces_overview(self) -> list[dict[str, Any]]:
        """Operator: every workspace with status, contact, keys and this month's count."""
        from triaged.services import workspace_admin

        with self.db.read() as conn:
            return workspace_admin.overview(conn, quota.window())

    def set_workspace_status(self, name: str, status: str) -> dict[str, Any]:
        """Operator: suspend (keys refused) or re-activate a workspace."""
        from triaged.services import workspace_admin

        with self.db.write() as conn:
            return workspace_admin.set_status(conn, name, status)

    def set_workspace_plan(self, name: str, plan: str) -> dict[str, Any]:
        from triaged.services import workspace_admin

        with self.db.write() as conn:
            return workspace_admin.set_plan(conn, name, self.plan(plan))

    def delete_workspace(self, name: str) -> dict[str, Any]:
        """Operator: the workspace and every row of it, in every table, in one transaction."""
        from triaged.services import workspace_admin

        with self.db.write() as conn:
            return workspace_admin.delete_workspace(conn, name)

    # --- jobs (issue 11): bulk jobs and the job runner (logic in services/jobs*.py)
    @property
    def jobs(self) -> JobRunner:
        runner: JobRunner | None = getattr(self, "_job_runner", None)
        if runner is None:
            from triaged.services.jobs import JobRunner

            runner = self._job_runner = JobRunner(self)
        return runner

    def submit_job(
        self,
        principal: Principal,
        taxonomy: str,
        stream: IO[bytes],
        fmt: str,
        options: BulkOptions,
    ) -> dict[str, Any]:
        from triaged.services import jobs_bulk

        s = self.settings
        limits = jobs_bulk.Limits(s.max_text_chars, s.max_metadata_depth, s.max_metadata_bytes)
        return jobs_bulk.create(
            self.db,
            principal,
            taxonomy,
            stream,
            fmt,
            options,
            limits,
            lambda conn, job_id: self.jobs.defer(conn, "bulk", {"job_id": job_id}),
        )

    def job(self, principal: Principal, job_id: str) -> dict[str, Any]:
        from triaged.services import jobs_bulk

        return jobs_bulk.get(self.db, principal, job_id)

    def list_jobs(self, principal: Principal, limit: int = 50) -> list[dict[str, Any]]:
        from triaged.services import jobs_bulk

        return jobs_bulk.list_jobs(self.db, principal, limit)

    def job_results(self, principal: Principal, job_id: str) -> Iterator[dict[str, Any]]:
        from triaged.services import jobs_bulk

        return jobs_bulk.iter_results(self.db, principal, job_id)

    def cancel_job(self, principal: Principal, job_id: str) -> dict[str, Any]:
        from triaged.services import jobs_bulk

        return jobs_bulk.cancel(self.db, principal, job_id)

    def jobs_policy(self, record: TaxonomyRecord, clf: Classifier) -> tuple[Policy, float | None]:
        """The routing policy and audit share a bulk job routes by (as a classify call)."""
        return self._policy(record, clf)


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _split(tax: Taxonomy, holdout: float, seed: int) -> tuple[Taxonomy, list[Example]]:
    """Stratified split: from each label with 2+ examples, hold out ``holdout`` (at least one)."""
    if not 0.0 < holdout < 1.0:
        raise InvalidInput("holdout must be between 0 and 1", details={"holdout": holdout})
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = defaultdict(list)
    for ex in tax.examples():
        by_label[ex.label].append(ex.text)
    by_label[OOS_LABEL] = list(tax.out_of_scope)
    train: list[Example] = []
    test: list[Example] = []
    for label, texts in by_label.items():
        texts = texts[:]
        rng.shuffle(texts)
        k = max(1, round(len(texts) * holdout)) if len(texts) >= 2 else 0
        test += [Example(t, label) for t in texts[:k]]
        train += [Example(t, label) for t in texts[k:]]
    return tax.with_examples(train, replace_all=True), test
