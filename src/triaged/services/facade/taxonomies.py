"""Taxonomies: definitions, versions, training (in the background past a size) and evaluation.

A part of :class:`triaged.service.Service` (see :mod:`triaged.services.facade`).
"""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from triaged import inputs
from triaged.errors import Conflict, InvalidInput, PayloadTooLarge, ValidationFailed
from triaged.services import quota, routing_policy, training
from triaged.services import taxonomies as taxo
from triaged.services.facade.core import READ_ROLES
from triaged.services.facade.routing import RoutingMixin
from triaged.services.keys import Principal, Role
from triaged.services.routing_policy import Policy
from triaged.services.taxonomies import TaxonomyRecord
from triaged.taxonomy import OOS_LABEL, THRESHOLDS, Example, Taxonomy
from triaged.taxonomy_rules import check_name

__all__ = ["TaxonomyMixin"]


class TaxonomyMixin(RoutingMixin):
    _executor: ThreadPoolExecutor | None
    _executor_lock: threading.Lock
    _jobs: list[Future[Any]]

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
            # what the definition sets (null: not set, the routing policy decides)
            "thresholds": {k: tax.given_thresholds().get(k) for k in THRESHOLDS},
            "routing": _routing_summary(routing_policy.current(conn, record.id), tax, record.name),
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
        self,
        record_id_name: tuple[str, str],
        *,
        include_examples: bool = False,
        version: int | None = None,
    ) -> dict[str, Any]:
        """The taxonomy as the API shows it: its current version, or ``version``."""
        workspace_id, name = record_id_name
        with self.db.read() as conn:
            record = taxo.get_record(conn, workspace_id, name)
            tax = taxo.load_version(conn, record, version)
            out = self._public_taxonomy(conn, record, tax, include_examples=include_examples)
        if version is not None:
            out["version"] = version
        return out

    def create_taxonomy(
        self, principal: Principal, definition: Mapping[str, Any]
    ) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        tax = Taxonomy.from_dict({**definition, "version": 1})
        self._check_size(tax)
        with self.db.write() as conn:
            limit = self.settings.max_taxonomies_per_workspace
            record = taxo.create(
                conn, principal.workspace_id, tax, limit=limit, created_by=principal.key_id
            )
            given = definition.get("thresholds") or {}
            if given:  # set in the definition: a manual policy
                self._pin_thresholds(
                    conn,
                    record.workspace_id,
                    record.id,
                    tax,
                    None,
                    given,
                    created_by=principal.key_id,
                )
            job, created = training.start_job(conn, record, tax)
            self._queue_training(conn, job, created)
        self._launch(job["id"], tax)
        return self._describe((principal.workspace_id, tax.name))

    def _check_size(self, tax: Taxonomy) -> None:
        s = self.settings
        taxo.check_size(
            tax, s.max_labels_per_taxonomy, s.max_examples_per_taxonomy, s.max_text_chars
        )

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
        self,
        principal: Principal,
        name: str,
        change: Any,
        *,
        train: bool = True,
        renames: Callable[[Taxonomy], dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """``change(current)`` as the next version; ``renames(current)``: the labels it
        renames (checked before anything is written)."""
        principal.require(Role.ADMIN)
        job: dict[str, Any] | None = None
        with self.db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, name, for_update=True)
            current = taxo.load_version(conn, record)
            renamed = renames(current) if renames is not None else {}
            changed = change(current)
            self._check_size(changed)
            # nothing changes (an empty PATCH, the same labels again): no version and no
            # training (POST .../train retrains on purpose); an archived one still refuses
            made: int | None = None
            if changed != current or record.archived_at is not None:
                job, tax = self._store_version(
                    conn, record, current, changed, train, renamed, created_by=principal.key_id
                )
                made = tax.version
        if job is not None:
            self._launch(job["id"], tax)
        # the version this edit made: under concurrent edits the latest is another's
        return self._describe((principal.workspace_id, name), version=made)

    def _store_version(
        self,
        conn: Any,
        record: TaxonomyRecord,
        current: Taxonomy,
        changed: Taxonomy,
        train: bool,
        renames: dict[str, str] | None = None,
        *,
        created_by: str | None = None,
    ) -> tuple[dict[str, Any] | None, Taxonomy]:
        """Store ``changed`` as the next version; a training job for it unless ``train``
        is false (the job, and the taxonomy with its reviewed decisions, to launch);
        ``created_by``: the API key id making it (recorded on the version, and on the
        manual routing version of thresholds it sets)."""
        tax = taxo.new_version(conn, record, changed, renames, created_by)
        # set in the definition now, at another value or for the first time: manual
        before = current.given_thresholds()
        given = {k: v for k, v in tax.given_thresholds().items() if before.get(k) != v}
        if given:
            self._pin_thresholds(
                conn, record.workspace_id, record.id, tax, record, given, created_by=created_by
            )
        tax = self.review.with_reviews(conn, record, tax)  # + reviewed decisions
        job, created = training.start_job(conn, record, tax) if train else (None, False)
        if job is not None:
            self._queue_training(conn, job, created)
        return job, tax

    def update_taxonomy(
        self, principal: Principal, name: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        if changes.get("name") not in (None, name):
            raise InvalidInput("a taxonomy cannot be renamed", details={"field": "name"})
        return self._new_version(
            principal,
            name,
            lambda cur: taxo.merge_update(cur, changes),
            renames=lambda cur: taxo.label_renames(cur, changes),
        )

    def rename_label(
        self, principal: Principal, name: str, label: str, new_name: str, description: str | None
    ) -> dict[str, Any]:
        """Rename one label (and optionally describe it anew) as a new version: its
        examples, reviews and decisions continue under the new name."""
        principal.require(Role.ADMIN)  # before the name is looked at: a reviewer gets 403
        check_name(new_name, "name")

        def change(cur: Taxonomy) -> Taxonomy:  # checks the label and the new name
            return taxo.merge_update(
                cur, taxo.rename_changes(cur, name, label, new_name, description)
            )

        return self._new_version(
            principal,
            name,
            change,
            renames=lambda cur: {label: new_name} if new_name != label else {},
        )

    def merge_labels(
        self, principal: Principal, name: str, label: str, into: str
    ) -> dict[str, Any]:
        """Merge ``label`` into ``into`` as a new version: its examples join ``into``'s,
        and its reviews and decisions continue as ``into`` (the insights' ``merge``)."""
        principal.require(Role.ADMIN)
        return self._new_version(
            principal,
            name,
            lambda cur: taxo.merge_update(cur, taxo.merge_changes(cur, name, label, into)),
            renames=lambda cur: {label: into},
        )

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
            self._queue_training(conn, job, created)
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

    def _queue_training(self, conn: Any, job: dict[str, Any], created: bool) -> None:
        """Issue 11: with the job queue, the training job is enqueued in the transaction
        that writes its model row (a `triaged worker` trains it)."""
        if created and self.jobs.queued:
            self.jobs.defer(
                conn, "train", {"model_id": job["id"]}, queueing_lock=f"train:{job['id']}"
            )
        elif created:  # trained by this process (_launch)
            training.record_runner(conn, job["id"])

    def _launch(self, model_id: str, tax: Taxonomy) -> None:
        if self.jobs.queued:  # issue 11: enqueued with its model row (_queue_training)
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
        clf = training.finish(
            self.db,
            model_id,
            tax,
            self.routing_defaults(tax.name),
            self.settings.training_threads,
        )
        if clf is not None:
            self.classifiers.put(model_id, clf)

    def _evaluation_routing(
        self, record: TaxonomyRecord, clf: Any, *, given: bool
    ) -> dict[str, Any] | None:
        """The buckets an evaluation reports are the service's: the active model's by the
        policy classify routes by; a model trained for the evaluation by the thresholds the
        policy pins (manual), else certified with the policy's parameters.  None: no policy
        yet (the defaults).  (It always certified with the defaults until 5 December, so a
        pinned policy's buckets were not the ones the service used.)"""
        from triaged.evaluation import certified_routing

        with self.db.read() as conn:
            policy = routing_policy.current(conn, record.id)
        if policy is None:
            return None
        if given or policy.source == "manual":
            return _policy_routing(policy)
        return certified_routing(
            clf,
            auto_error_target=policy.auto_error_target,
            confidence_level=policy.confidence_level,
            expected_out_of_scope=policy.expected_out_of_scope,
        )

    def _check_test_texts(self, examples: Sequence[Example]) -> None:
        """A given test set's texts follow the rules of a classified text (they were scored
        as sent: an invisible-only text, or one of any length), and there are at most
        ``TRIAGED_MAX_EVALUATE_EXAMPLES`` of them."""
        most = self.settings.max_evaluate_examples
        if len(examples) > most:
            raise PayloadTooLarge(
                f"an evaluation takes at most {most} given examples, got {len(examples)}",
                details={"field": "examples", "limit": most, "got": len(examples)},
            )
        limit = self.settings.max_text_chars
        for i, example in enumerate(examples):
            field = f"examples[{i}].text"
            if len(example.text) > limit:
                raise PayloadTooLarge(
                    f"{field} has {len(example.text)} characters; the limit is {limit}",
                    details={"field": field, "limit": limit, "got": len(example.text)},
                )
            inputs.check_text(example.text, field)
            if inputs.is_blank(example.text):
                raise ValidationFailed(f"{field} is empty", details={"field": field})

    def _count_given(self, principal: Principal, n: int, win: quota.Window) -> None:
        """Count ``n`` given test texts as classified texts (no decision row counts them:
        the usage ledger does), or raise the 429 with nothing counted."""
        plan = self.workspace_plan(principal.plan)
        with self.db.write() as conn:
            quota.consume(
                conn, principal.workspace_id, plan, n, win, principal.key_id, unlogged=True
            )

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
        stratified held-out split of the current examples with a model trained on the rest.

        Given examples are classified texts: each counts once against the plan's monthly
        quota and per-minute rate (checked before the work, counted exactly after it, or
        refused with nothing counted).  The held-out split classifies no text of the
        caller's and counts nothing."""
        from triaged.evaluation import evaluate

        principal.require(Role.ADMIN)
        record = self.taxonomy_record(principal, name)
        win = quota.window()
        if examples:
            self._check_test_texts(examples)
            quota.check(principal, self.workspace_plan(principal.plan), len(examples), win)
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
            clf = training.train(
                train_tax, self.settings.training_threads, scope=principal.workspace_id
            )
            mode = "holdout"
        routing = self._evaluation_routing(record, clf, given=mode == "given")
        report = evaluate(clf, [e.text for e in test], [e.label for e in test], routing=routing)
        if mode == "given":  # no figure is answered unless the texts are counted
            self._count_given(principal, len(test), win)
        report.pop("reliability", None)
        clean: dict[str, Any] = json.loads(json.dumps(report, default=_jsonable))
        clean.update(
            evaluation=mode,
            taxonomy=record.name,
            model_version=clf.model_version,
            taxonomy_version=clf.taxonomy.version,
        )
        return clean


def _policy_routing(policy: Any) -> dict[str, Any]:
    """A routing policy version as :func:`triaged.evaluation.evaluate` routes by it."""
    return {
        "auto_threshold": policy.auto,
        "review_threshold": policy.review,
        "auto_threshold_source": policy.source,
        "review_threshold_source": policy.review_source,
        "auto_lane_open": policy.auto is not None,
        "auto_lane_reason": policy.reason,
        "policy_version": policy.version,
    }


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _split(tax: Taxonomy, holdout: float, seed: int) -> tuple[Taxonomy, list[Example]]:
    """Stratified split: from each label with 2+ examples, hold out ``holdout`` (at least one).
    A repeated example (case and spacing aside) is one: its copies on both sides of the
    split scored it on itself (training counts it once too)."""
    if not 0.0 < holdout < 1.0:
        raise InvalidInput("holdout must be between 0 and 1", details={"holdout": holdout})
    rng = random.Random(seed)
    by_label: dict[str, dict[str, str]] = defaultdict(dict)
    for label, text in [
        *((ex.label, ex.text) for ex in tax.examples()),
        *((OOS_LABEL, t) for t in tax.out_of_scope),
    ]:
        by_label[label].setdefault(" ".join(text.split()).casefold(), text)
    train: list[Example] = []
    test: list[Example] = []
    for label, unique in by_label.items():
        texts = list(unique.values())
        rng.shuffle(texts)
        k = max(1, round(len(texts) * holdout)) if len(texts) >= 2 else 0
        test += [Example(t, label) for t in texts[:k]]
        train += [Example(t, label) for t in texts[k:]]
    return tax.with_examples(train, replace_all=True), test


def _routing_summary(policy: Policy | None, tax: Taxonomy, name: str) -> dict[str, Any]:
    """What classify routes by now (the policy's version and thresholds, and ``url``: GET
    .../routing, with the bound): the definition's ``thresholds`` are what was asked for,
    and a certified lane may sit elsewhere or be closed."""
    url = f"/v1/taxonomies/{name}/routing"
    if policy is None:  # no model yet: nothing is routed, the first model certifies the lane
        return {
            "url": url,
            "version": None,
            "auto": None,
            "review": tax.thresholds.review,
            "auto_lane_open": False,
            "source": "training",
        }
    return {
        "url": url,
        "version": policy.version,
        "auto": policy.auto,
        "review": policy.review,
        "auto_lane_open": policy.auto_lane_open,
        "source": policy.source,
    }
