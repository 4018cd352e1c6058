"""The versioned routing policy as a classify call, the API and the live check use it.

A part of :class:`triaged.service.Service` (see :mod:`triaged.services.facade`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from triaged.errors import Conflict
from triaged.routing import RoutingEvidence
from triaged.services import routing_policy
from triaged.services import taxonomies as taxo
from triaged.services.facade.core import ServiceCore
from triaged.services.ids import utcnow
from triaged.services.keys import Principal, Role
from triaged.services.routing_policy import Policy
from triaged.services.taxonomies import TaxonomyRecord
from triaged.taxonomy import Taxonomy

if TYPE_CHECKING:
    from triaged.classifier import Classifier


__all__ = ["RoutingMixin"]


class RoutingMixin(ServiceCore):
    # routing policy per (taxonomy id, version): (policy, thin evidence, checked at)
    _policies: dict[tuple[str, int], tuple[Policy, bool, float]]
    _policies_lock: threading.Lock

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
        *,
        created_by: str | None = None,
    ) -> None:
        """Thresholds set in a taxonomy definition: a manual policy version (each of ``auto``
        and ``review`` pinned only when given; ``review`` alone keeps a certified auto
        threshold, ``auto`` alone a hold threshold chosen from the evidence), recorded as
        made by ``created_by`` (the API key id that set them)."""
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
                **({"review": tax.thresholds.review} if "review" in given else {}),
                **({"auto": tax.thresholds.auto} if "auto" in given else {}),
            },
            base=base,
            created_by=created_by,
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
            # no policy yet: nothing is routed before the first model, whose held-out
            # evidence certifies the lane (this said "auto 0.85, open, manual" until 5 Dec)
            tax = taxo.load_version(conn, record)
            policy = replace(
                routing_policy.legacy(record.id, tax.thresholds),
                auto=None,
                source="training",
                reason="no model is ready yet: the auto threshold is certified from the first "
                "model's held-out evidence when it is (classify answers 409 until then)",
            )
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

    def routing_versions(
        self, principal: Principal, name: str, *, before: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The taxonomy's routing-policy versions, newest first (below version ``before``,
        at most ``limit``): who made each (an API key id, or None for the service itself)."""
        record = self.taxonomy_record(principal, name)
        with self.db.read() as conn:
            return routing_policy.history(conn, record.id, before=before, limit=limit)

    def set_routing(
        self, principal: Principal, name: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A new policy version (admin); never retrains.  ``auto: None`` re-certifies."""
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            record = taxo.get_record(conn, principal.workspace_id, name, for_update=True)
            if record.archived_at is not None:  # frozen, as PATCH, examples and train are
                raise Conflict(f"taxonomy {name!r} is archived", details={"taxonomy": name})
            if not changes:  # nothing to change: no new version (it made one)
                return self._routing_state(conn, record)
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
                created_by=principal.key_id,
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
