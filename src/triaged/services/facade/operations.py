"""Insights, health metrics, drift, webhooks, secrets and the schema, as the faces call them.

The last part of :class:`triaged.service.Service` (see :mod:`triaged.services.facade`):
each method checks the caller's role, opens the one transaction it needs and calls the
concern's module; no face opens a transaction or touches the database itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from triaged.calibration import reliability_bins
from triaged.db_url import shown_url
from triaged.drift import DriftConfig
from triaged.errors import NotFittedError, NotReady
from triaged.services import insights as insights_log
from triaged.services import keys, secrets_store
from triaged.services.drift_checks import drift_config
from triaged.services.facade.classify import ClassifyMixin
from triaged.services.facade.core import READ_ROLES
from triaged.services.keys import Principal, Role
from triaged.services.taxonomies import TaxonomyRecord
from triaged.storage import decision_repo, migrate
from triaged.webhooks import endpoints
from triaged.webhooks.endpoints import Endpoint

__all__ = ["OperationsMixin"]

log = logging.getLogger(__name__)


class OperationsMixin(ClassifyMixin):
    # ------------------------------------------------------------------ insights
    def taxonomy_insights(
        self,
        principal: Principal,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """Gap clusters, overlapping labels and label health of the taxonomy's decisions."""
        record = self.taxonomy_record(principal, name)
        model = self._insights_model(record)
        with self.db.read() as conn:
            return insights_log.taxonomy_insights(conn, record, since=since, until=until, **model)

    def _insights_model(self, record: TaxonomyRecord) -> dict[str, Any]:
        """The active model's encoder and its training examples' vectors (so insights embed
        only what the model has not), or nothing before the first training."""
        try:
            clf = self.classifiers.get(self.db, record)
        except NotFittedError:
            return {}
        return {"encoder": clf.encoder, "known_vectors": clf.example_vectors()}

    def dashboard(
        self, principal: Principal, name: str, *, since: datetime, interval: str, now: datetime
    ) -> dict[str, Any]:
        """What the dashboard shows of one taxonomy over ``[since, now)``: the insights
        report, bucket series, reliability bins of the reviewed decisions and drift."""
        record = self.taxonomy_record(principal, name)
        ws = principal.workspace_id
        model = self._insights_model(record)
        with self.db.read() as conn:
            report = insights_log.taxonomy_insights(conn, record, since=since, now=now, **model)
            series = insights_log.bucket_metrics(
                conn, ws, taxonomy=record, interval=interval, since=since
            )["series"]
            recs = insights_log.decision_records(conn, ws, record.id, since=since)
            drift_now = insights_log.drift_alerts(
                conn, ws, taxonomy=record, config=drift_config(self.settings), now=now
            )["alerts"]
            recorded = insights_log.stored_drift_alerts(conn, ws, taxonomy=name, limit=10)
        judged = [r for r in recs if r.model_was_right is not None]
        bins = reliability_bins(
            [r.confidence for r in judged], [bool(r.model_was_right) for r in judged], n_bins=10
        )
        return {
            "report": report,
            "series": series,
            "reliability": [
                {"confidence": b.mean_confidence, "accuracy": b.accuracy, "count": b.count}
                for b in bins
            ],
            "n_judged": len(judged),
            "drift_now": drift_now,
            "drift_recorded": recorded,
        }

    def decision_texts(
        self,
        principal: Principal,
        taxonomy: str,
        decision_ids: Sequence[str],
        *,
        proposed_only: bool = False,
    ) -> list[str]:
        """The texts of some of the taxonomy's decisions (unknown ids are skipped);
        ``proposed_only``: those reviewers answered ``new_category``."""
        record = self.taxonomy_record(principal, taxonomy)
        with self.db.read() as conn:
            return decision_repo.decision_texts(
                conn, principal.workspace_id, record.id, decision_ids, proposed_only=proposed_only
            )

    # ------------------------------------------------------------- bucket metrics
    def _metrics_taxonomy(self, principal: Principal, name: str | None) -> TaxonomyRecord | None:
        principal.require(*READ_ROLES)
        return None if name is None else self.taxonomy_record(principal, name)

    def bucket_metrics(
        self,
        principal: Principal,
        *,
        taxonomy: str | None = None,
        interval: str = "day",
        since: datetime | None = None,
        until: datetime | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Decision counts per bucket and period of one taxonomy (or all)."""
        record = self._metrics_taxonomy(principal, taxonomy)
        with self.db.read() as conn:
            return insights_log.bucket_metrics(
                conn,
                principal.workspace_id,
                taxonomy=record,
                interval=interval,
                since=since,
                until=until,
                label=label,
            )

    # ---------------------------------------------------------------------- drift
    def drift_config(self, **given: Any) -> DriftConfig:
        """What counts as drift for a request: its parameters (None: not given), else this
        server's ``TRIAGED_DRIFT_*``."""
        return drift_config(self.settings, **given)

    def drift(
        self, principal: Principal, config: DriftConfig, *, taxonomy: str | None = None
    ) -> dict[str, Any]:
        """Drift of the bucket shares now (nothing recorded)."""
        record = self._metrics_taxonomy(principal, taxonomy)
        with self.db.read() as conn:
            return insights_log.drift_alerts(
                conn, principal.workspace_id, taxonomy=record, config=config
            )

    def record_drift(
        self, principal: Principal, config: DriftConfig, *, taxonomy: str | None = None
    ) -> list[dict[str, Any]]:
        """Run the drift check (admin): new alerts are recorded and sent to the webhooks."""
        principal.require(Role.ADMIN)
        record = self._metrics_taxonomy(principal, taxonomy)
        with self.db.write() as conn:
            return insights_log.record_drift_alerts(
                conn, principal.workspace_id, taxonomy=record, config=config
            )

    def drift_history(
        self,
        principal: Principal,
        *,
        taxonomy: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Recorded drift alerts, newest first."""
        record = self._metrics_taxonomy(principal, taxonomy)
        with self.db.read() as conn:
            return insights_log.stored_drift_alerts(
                conn,
                principal.workspace_id,
                taxonomy=record.name if record else None,
                since=since,
                limit=limit,
            )

    def check_drift(
        self, config: DriftConfig, workspace: str | None = None
    ) -> list[dict[str, Any]]:
        """Operator: the drift check of every taxonomy of ``workspace`` (default: all
        workspaces); each new alert is recorded and sent to the ``alert.drift`` webhooks."""
        found: list[dict[str, Any]] = []
        if workspace is not None:
            with self.db.read() as conn:
                spaces = [keys.get_workspace(conn, workspace)]
        else:
            spaces = self.list_workspaces()
        for ws in spaces:
            with self.db.write() as conn:
                for alert in insights_log.record_drift_alerts(conn, ws["id"], config=config):
                    found.append({**alert, "workspace": ws["name"]})
        return found

    # ------------------------------------------------------------------- webhooks
    def create_webhook(
        self, principal: Principal, url: str, events: list[str], description: str = ""
    ) -> Endpoint:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return endpoints.create_endpoint(
                conn,
                principal.workspace_id,
                url,
                events,
                description,
                limit=self.settings.max_webhooks_per_workspace,
            )

    def list_webhooks(self, principal: Principal) -> list[Endpoint]:
        principal.require(Role.ADMIN)
        with self.db.read() as conn:
            return endpoints.list_endpoints(conn, principal.workspace_id)

    def get_webhook(self, principal: Principal, webhook_id: str) -> Endpoint:
        principal.require(Role.ADMIN)
        with self.db.read() as conn:
            return endpoints.get_endpoint(conn, principal.workspace_id, webhook_id)

    def update_webhook(
        self,
        principal: Principal,
        webhook_id: str,
        *,
        url: str | None = None,
        events: list[str] | None = None,
        description: str | None = None,
    ) -> Endpoint:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return endpoints.update_endpoint(
                conn,
                principal.workspace_id,
                webhook_id,
                url=url,
                events=events,
                description=description,
            )

    def rotate_webhook_secret(
        self, principal: Principal, webhook_id: str, *, overlap_hours: float = 24.0
    ) -> Endpoint:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return endpoints.rotate_secret(
                conn, principal.workspace_id, webhook_id, overlap_hours=overlap_hours
            )

    def test_webhook(self, principal: Principal, webhook_id: str) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return endpoints.send_test(conn, principal.workspace_id, webhook_id)

    def delete_webhook(self, principal: Principal, webhook_id: str) -> None:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            endpoints.delete_endpoint(conn, principal.workspace_id, webhook_id)

    def webhook_deliveries(
        self,
        principal: Principal,
        webhook_id: str,
        *,
        status: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        principal.require(Role.ADMIN)
        with self.db.read() as conn:
            return endpoints.list_deliveries(
                conn, principal.workspace_id, webhook_id, status=status, limit=limit, before=before
            )

    def delivery_attempts(
        self, principal: Principal, webhook_id: str, delivery_id: str
    ) -> list[dict[str, Any]]:
        principal.require(Role.ADMIN)
        with self.db.read() as conn:
            return endpoints.list_attempts(conn, principal.workspace_id, webhook_id, delivery_id)

    def retry_delivery(
        self, principal: Principal, webhook_id: str, delivery_id: str
    ) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return endpoints.retry_delivery(conn, principal.workspace_id, webhook_id, delivery_id)

    # ----------------------------------------------------------------- readiness
    def readiness(self) -> dict[str, str]:
        """Ready to serve: the database answers (``GET /readyz``; 503 ``unavailable``
        when it does not, so a load balancer sends traffic elsewhere)."""
        try:
            self.db.ping()
        except Exception as exc:
            cause = type(exc).__name__
            if self.unready_cause is None:  # once per outage: the probe asks every few seconds
                log.error("not ready: the database cannot be reached (%s)", cause)
            self.unready_cause = cause
            raise NotReady("the database cannot be reached", details={"database": cause}) from None
        if self.unready_cause is not None:
            log.warning("ready again: the database answers")
            self.unready_cause = None
        return {"status": "ready", "database": "ok"}

    # ----------------------------------------------------- metrics token, Prometheus
    def check_metrics_token(self, given: str) -> bool:
        """Whether ``given`` is the token ``GET /metrics`` requires."""
        return secrets_store.check_metrics_token(self.db, self.settings.metrics_token, given)

    def ensure_metrics_token(self) -> str | None:
        """Generate the metrics token if there is none; the new token, or None if one exists."""
        return secrets_store.ensure_metrics_token(self.db)

    def rotate_metrics_token(self) -> str:
        """Replace the generated metrics token; the old one stops working."""
        return secrets_store.rotate_metrics_token(self.db)

    def prometheus_exposition(self) -> bytes:
        """The Prometheus text exposition of the database's counters."""
        from triaged.metrics import exposition

        return exposition(self.db)

    # ---------------------------------------------------------- web UI sessions
    def announce_security(self) -> list[str]:
        """First-start secrets (web session secret, ``/metrics`` token shown once) and the
        development-defaults warning; returns the lines printed."""
        return secrets_store.announce(self.db, self.settings)

    def web_session_secret(self) -> str:
        """The secret that signs the web UI's cookies (configured, or generated once)."""
        return secrets_store.session_secret(self.db, self.settings.session_secret)

    def start_web_session(self, principal: Principal, max_age_s: float) -> str:
        """A server-side session of the web UI for the signed-in key; its id."""
        with self.db.write() as conn:
            return secrets_store.create_web_session(conn, principal.key_id, max_age_s)

    def web_session_principal(self, sid: str) -> Principal | None:
        """The principal of a live web session (None when it ended or never was); a
        revoked key raises :class:`~triaged.errors.Unauthenticated`."""
        with self.db.read() as conn:
            key_id = secrets_store.web_session_key_id(conn, sid)
            return None if key_id is None else keys.authenticate_key_id(conn, key_id)

    def end_web_session(self, sid: str) -> None:
        """Sign out: the session is revoked server-side (a copied cookie stops working)."""
        with self.db.write() as conn:
            secrets_store.revoke_web_session(conn, sid)

    # --------------------------------------------------------------------- schema
    def database_label(self) -> str:
        """The database URL with the password hidden (for a start-up line)."""
        return shown_url(self.db.engine.url)

    @staticmethod
    def upgrade_database(url: str, revision: str = "head") -> str | None:
        """Apply migrations up to ``revision``; returns the revision reached."""
        return migrate.upgrade(url, revision)

    @staticmethod
    def database_revisions(url: str) -> tuple[str | None, str | None]:
        """(the database's schema revision, the newest one available)."""
        return migrate.current_revision(url), migrate.head_revision()
