"""The façade that the HTTP API, the CLI and the SDK call; none of them holds business logic.

Usage::

    >>> from triaged.service import Service
    >>> from triaged.settings import Settings
    >>> svc = Service(Settings(data_dir="/tmp/triaged"))      # doctest: +SKIP
    >>> svc.start()                                           # doctest: +SKIP

Every method that acts for a caller takes the caller's :class:`Principal`
(from :meth:`Service.authenticate`) and only ever sees that workspace's rows.

The faces (``api/``, ``web/``, ``cli*``) import this module, never ``storage/``.
:class:`Service` is assembled from one part per concern in :mod:`triaged.services.facade`
(core, routing, taxonomies, classify, operations); this module adds the lifecycle and
the thin doors other features add in blocks marked ``# --- <topic> (issue N)`` at the
end of the class, whose logic lives in a module of their own under ``services/``.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from triaged.errors import Conflict, PayloadTooLarge
from triaged.review import ReviewService
from triaged.services import keys, quota, training
from triaged.services.db_errors import describe_database_error
from triaged.services.decisions import MAX_PAGE as MAX_DECISIONS_PAGE
from triaged.services.decisions import DecisionFilter
from triaged.services.drift_checks import drift_config
from triaged.services.examples_io import detect_format, parse_examples
from triaged.services.facade.classify import ClassifyItem
from triaged.services.facade.core import CLASSIFY_ROLES, READ_ROLES
from triaged.services.facade.desk import ReviewDesk
from triaged.services.facade.operations import OperationsMixin
from triaged.services.ids import utcnow
from triaged.services.jobs_background import start_background
from triaged.services.jobs_bulk import FORMATS as BULK_FORMATS
from triaged.services.jobs_bulk import BulkOptions, csv_result_row, result_columns
from triaged.services.keys import Principal, Role
from triaged.services.microbatch import install as install_microbatching
from triaged.services.pools import stop_pool
from triaged.services.review_evidence import DRIFT_HISTORY_DAYS
from triaged.services.review_rows import MAX_PAGE as MAX_REVIEW_PAGE
from triaged.services.review_workspace import MAX_BULK
from triaged.services.routing_policy import Policy
from triaged.services.taxonomies import TaxonomyRecord
from triaged.settings import Settings
from triaged.storage import workspace_repo
from triaged.storage.db import Database
from triaged.storage.migrate import schema_behind, upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

    from triaged.classifier import Classifier
    from triaged.services.jobs import JobRunner

# The door (issue 10): the faces (api/, web/, cli*) import this module, ``errors`` and
# ``types``, never the service layer's modules; what they need of it besides ``Service``
# is named here.
__all__ = [
    "BULK_FORMATS",
    "CLASSIFY_ROLES",
    "DRIFT_HISTORY_DAYS",
    "MAX_BULK",
    "MAX_DECISIONS_PAGE",
    "MAX_REVIEW_PAGE",
    "QUOTA_OBSERVED",
    "READ_ROLES",
    "BulkOptions",
    "ClassifyItem",
    "DecisionFilter",
    "Principal",
    "ReviewDesk",
    "Role",
    "Service",
    "TaxonomyRecord",
    "csv_result_row",
    "describe_database_error",
    "detect_format",
    "drift_config",
    "install_microbatching",
    "parse_examples",
    "result_columns",
    "run_worker",
    "start_background",
    "worker_jobs_left",
]

#: What one classify request counted (quota.consume fills it in the worker thread; the
#: route turns it into RateLimit headers).
QUOTA_OBSERVED = quota.observed


def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """``triaged worker``: run jobs from the PostgreSQL queue until SIGINT/SIGTERM."""
    from triaged.services.jobs_worker import run_worker as run

    run(settings, concurrency=concurrency)


def worker_jobs_left() -> int:
    """Jobs a stopped worker left running (its database was lost): end with ``os._exit``."""
    from triaged.services.jobs_worker_stop import jobs_left

    return jobs_left()


log = logging.getLogger("triaged.service")

STALE_TRAINING_S = 6 * 3600.0


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
        self.desk = ReviewDesk(self)  # the reviewer workspace (settings, progress, reopen, ...)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._jobs: list[Future[Any]] = []
        self.abandoned_jobs = 0  # threads still running when close(timeout) gave up
        self._started = False
        # routing policy per (taxonomy id, version): (policy, thin evidence, checked at)
        self._policies: dict[tuple[str, int], tuple[Policy, bool, float]] = {}
        self._policies_lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> str | None:
        """Migrate (unless disabled) and create the first admin key; returns it, printed once."""
        if self._started:
            return None
        self._check_config()  # before anything is written or an admin key printed
        if self.settings.migrate_on_start:
            upgrade(self.db.url)
        else:
            self._check_schema()
        self._started = True
        self._warn_unknown_plans()
        with self.db.write() as conn:  # jobs of a process that died mid-training
            training.fail_interrupted(conn, STALE_TRAINING_S)
        if self.settings.bootstrap_admin:
            return self.bootstrap()
        return None

    def _check_config(self) -> None:
        """Settings read elsewhere (the webhook deliverer's), validated at start: a bad
        ``TRIAGED_WEBHOOK_*`` stops the start with its message, not the first delivery."""
        from triaged.webhooks.config import WebhookSettings

        WebhookSettings()

    def _warn_unknown_plans(self) -> None:
        """Workspaces on a plan this server does not define get a 500 on every request
        that reads the plan: say so to the operator at start."""
        with self.db.read() as conn:
            in_use = workspace_repo.plans_in_use(conn)
        known = self.plans()
        for plan, n in sorted(in_use.items()):
            if plan not in known:
                log.error(
                    "%d workspace(s) are on plan %r, which TRIAGED_PLANS does not define: "
                    "their requests fail until it is defined or they are moved "
                    "(triaged workspaces set-plan)",
                    n,
                    plan,
                )

    def _check_schema(self) -> None:
        """With migrations off, a database behind this version is refused with what to
        run, instead of failing later on a missing column."""
        behind = schema_behind(self.db.url)
        if behind is not None:
            current, head = behind
            raise Conflict(
                f"the database schema is at revision {current or 'none (empty database)'} "
                f"and this triaged needs {head}: run `triaged db upgrade` (or start with "
                "TRIAGED_MIGRATE_ON_START=true, or `triaged serve --migrate`)",
                details={"schema": current, "needed": head},
            )

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
        # the key is committed: it is printed whatever becomes of the example (an operator's
        # label or example limit below the example's size failed the start, and the next
        # start, finding the workspace, never showed its key)
        with_example = "no example taxonomy (creating it failed)"
        try:
            self._check_size(example)
            self.create_taxonomy(self.authenticate(info.key), definition)
            with_example = f"the example taxonomy {example.name!r}"
        except PayloadTooLarge as exc:
            with_example = f"no example taxonomy ({exc.message})"
        finally:
            print(
                f"triaged: created workspace {name!r} (plan {self.settings.bootstrap_plan}) "
                f"with {with_example}, and its admin API key; the key is shown only "
                f"once:\n\n    {info.key}\n",
                file=sys.stdout,
                flush=True,
            )
        return info.key

    def wait_for_jobs(self, timeout: float | None = None) -> None:
        for job in list(self._jobs):
            job.result(timeout=timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop: in-process jobs (a bulk job after its chunk in flight), trainings and
        retrains.  ``timeout`` (the server's shutdown): work not started is dropped and a
        running training is waited for that long, then abandoned; its model row resumes
        when a process of this machine next starts (:mod:`triaged.services.pools`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._executor_lock:
            pool, self._executor = self._executor, None
        left = self.jobs.close(deadline)
        left += stop_pool(pool, self._jobs, deadline)
        left += self.review.close(deadline)
        self.abandoned_jobs = left
        if left:
            log.warning(
                "stopping with %d training or job thread(s) still running after %.0f s: "
                "abandoned; a training resumes when triaged next starts on this machine "
                "(or after a minute on another host), a bulk job from its last chunk",
                left,
                timeout,
            )
        self.db.dispose()

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
        followed.  Refused attempts create nothing (one refused for a taken name or email
        counts against the address's limit); a failed email undoes the sign-up."""
        from triaged.services import signup as su

        s = self.settings
        su.check_mode(s, invite)
        req = su.SignupRequest(name, email, client, invite)
        try:
            with self.db.write() as conn:
                res = su.reserve(conn, s, req, utcnow())
        except Conflict:
            # a taken name or an email at its cap: counted against the address's limit (in
            # its own transaction), so names and emails cannot be probed without end
            with self.db.write() as conn:
                su.count_refused(conn, s, client, utcnow())
            raise
        base = (s.public_url or base_url).rstrip("/")
        try:
            example = su.after_reserve(self, res, base)
        except BaseException:
            with self.db.write() as conn:  # the invite was not used after all: usable again
                su.release_invite(conn, res.workspace_id)
            self.delete_workspace(res.workspace)
            raise
        assert res.key.key is not None
        return su.public_result(res, base, example=example)

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
                conn, principal.workspace_id, self.workspace_plan(ws["plan"]), quota.window()
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

    def erase_workspace_decisions(
        self, name: str, *, ids: list[str], external_ids: list[str]
    ) -> dict[str, Any]:
        """Operator: erase decisions of workspace ``name`` as ``POST /v1/decisions/erase``
        does (by id and/or external id; all or nothing)."""
        from triaged.services import erasure

        with self.db.write() as conn:
            ws = keys.get_workspace(conn, name)
            out = erasure.erase_decisions(
                conn, ws["id"], ids=ids, external_ids=external_ids, now=utcnow()
            )
        return {"workspace": ws["name"], **out}

    def set_workspace_plan(self, name: str, plan: str) -> dict[str, Any]:
        from triaged.services import workspace_admin

        with self.db.write() as conn:
            return workspace_admin.set_plan(conn, name, self.plan(plan))

    def delete_workspace(self, name: str) -> dict[str, Any]:
        """Operator: the workspace and every row of it, in every table, in one transaction.

        Its keys are refused first (the workspace is suspended in a transaction of its own):
        on PostgreSQL, requests kept adding review events and decisions between the purge's
        deletes, and under traffic every try failed on a foreign key.  A row written by a
        request already past authentication makes the purge try again; if it fails for good,
        the workspace gets its status back."""
        from sqlalchemy.exc import IntegrityError

        from triaged.services import workspace_admin

        with self.db.write() as conn:
            previous = workspace_admin.set_status(conn, name, "suspended")["previous"]
        tries = 0
        try:
            while True:
                try:
                    with self.db.write() as conn:
                        return workspace_admin.delete_workspace(conn, name)
                except IntegrityError:
                    tries += 1
                    if tries >= 5:
                        raise
                    time.sleep(0.2 * tries)
        except BaseException:
            with self.db.write() as conn:
                workspace_admin.set_status(conn, name, previous)
            raise

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
        plan = self.workspace_plan(principal.plan)

        def fits(conn: Any, rows: int) -> None:  # the quota left, before a row is stored
            quota.check_job(conn, principal.workspace_id, plan, rows, quota.window())

        limits = jobs_bulk.Limits(
            s.max_text_chars,
            s.max_metadata_depth,
            s.max_metadata_bytes,
            fits=None if plan.monthly_quota is None else fits,
        )
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

        return jobs_bulk.get(self.db, principal, job_id, *self._job_view_settings(principal))

    def list_jobs(self, principal: Principal, limit: int = 50) -> list[dict[str, Any]]:
        from triaged.services import jobs_bulk

        return jobs_bulk.list_jobs(self.db, principal, limit, *self._job_view_settings(principal))

    def _job_view_settings(self, principal: Principal) -> tuple[float, int | None]:
        """What a job's view is read with: the stall age, and the per-minute pace of the
        workspace's jobs (their ETA)."""
        pace = quota.for_jobs(self.workspace_plan(principal.plan)).per_minute
        return self.settings.job_stalled_seconds, pace

    def job_results(self, principal: Principal, job_id: str) -> Iterator[dict[str, Any]]:
        from triaged.services import jobs_bulk

        return jobs_bulk.iter_results(self.db, principal, job_id)

    def cancel_job(self, principal: Principal, job_id: str) -> dict[str, Any]:
        from triaged.services import jobs_bulk

        return jobs_bulk.cancel(self.db, principal, job_id)

    def jobs_policy(self, record: TaxonomyRecord, clf: Classifier) -> tuple[Policy, float | None]:
        """The routing policy and audit share a bulk job routes by (as a classify call)."""
        return self._policy(record, clf)
