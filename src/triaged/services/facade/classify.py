"""The request path of ``POST /v1/classify`` and the decision log it writes.

A part of :class:`triaged.service.Service` (see :mod:`triaged.services.facade`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from triaged import inputs
from triaged.errors import Conflict, PayloadTooLarge, ValidationFailed
from triaged.services import decisions as decision_log
from triaged.services import erasure, idempotency, keys, quota
from triaged.services import taxonomies as taxo
from triaged.services.facade.core import CLASSIFY_ROLES, READ_ROLES
from triaged.services.facade.taxonomies import TaxonomyMixin
from triaged.services.ids import utcnow
from triaged.services.keys import Principal, Role
from triaged.services.plans import Plan

if TYPE_CHECKING:
    from triaged.classifier import Classifier


__all__ = ["ClassifyItem", "ClassifyMixin"]


@dataclass(frozen=True, slots=True)
class ClassifyItem:
    text: str
    external_id: str | None = None
    metadata: dict[str, Any] | None = field(default=None)


class ClassifyMixin(TaxonomyMixin):
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
        self._check_items(items, single=route == "classify")
        request_hash = ""
        if idempotency_key is not None:
            idempotency.check_key(idempotency_key)
            request_hash = idempotency.fingerprint(
                route, [taxonomy, [(i.text, i.external_id, i.metadata) for i in items]]
            )
        win = quota.window()
        with self.db.lookup() as conn:
            principal, joined = self._authenticate_for(conn, caller, taxonomy)
            principal.require(*CLASSIFY_ROLES)
            plan = self.workspace_plan(principal.plan)
            if idempotency_key is not None:
                stored = idempotency.lookup(
                    conn, principal.workspace_id, idempotency_key, request_hash
                )
                if stored is not None:  # not counted; the headers say where the plan stands
                    quota.observe(conn, principal.workspace_id, plan, win)
                    return list(stored), True
            quota.check(principal, plan, len(items), win)
            record = (
                taxo.record_in(joined, taxonomy)
                if joined is not None
                else taxo.get_record(conn, principal.workspace_id, taxonomy)
            )
        if record.archived_at is not None:
            raise Conflict(f"taxonomy {taxonomy!r} is archived", details={"taxonomy": taxonomy})
        clf = self.classifiers.get(self.db, record)
        policy, audit_rate = self._policy(record, clf)
        results = [
            replace(r, bucket=policy.route(r.confidence))
            for r in clf.classify_batch([i.text for i in items], threads=1)
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
        return self._log_decisions(
            principal, plan, win, rows, out, now, replay=(idempotency_key, request_hash)
        )

    def _authenticate_for(
        self, conn: Any, caller: Principal | str, taxonomy: str
    ) -> tuple[Principal, Any]:
        """The caller's principal and, when ``caller`` is a key, its row joined with the
        taxonomy's in one statement (None otherwise: read the taxonomy on its own)."""
        if not isinstance(caller, str):
            return caller, None
        if inputs.bad_character(taxonomy) is not None:  # no such name is stored, and
            # PostgreSQL refuses some of those characters
            return keys.authenticate(conn, caller, self.settings.key_pepper), None
        return keys.authenticate_with_taxonomy(conn, caller, self.settings.key_pepper, taxonomy)

    def _log_decisions(
        self,
        principal: Principal,
        plan: Plan,
        win: quota.Window,
        rows: list[dict[str, Any]],
        out: list[dict[str, Any]],
        now: datetime,
        *,
        replay: tuple[str | None, str],
    ) -> tuple[list[dict[str, Any]], bool]:
        """One transaction: log the decisions, queue the ones a person must see, remember
        ``out`` under the idempotency key and count against the quota; returns (out, False),
        or a concurrent duplicate's stored answer and True."""
        key, request_hash = replay  # the idempotency key (or None) and the request's hash
        try:
            with self.db.write() as conn:
                if key is not None:
                    idempotency.remember(conn, principal.workspace_id, key, request_hash, out)
                # the decisions, their review items (hold/review + the audit sample) and the
                # count in one statement on PostgreSQL, last: the counter rows stay locked
                # from there to the commit, and every request of the workspace waits on
                # them; a refusal still undoes it all
                quota.consume(
                    conn,
                    principal.workspace_id,
                    plan,
                    len(rows),
                    win,
                    principal.key_id,
                    tallies=decision_log.tallies(rows),
                    writes=self.review.log_writes(rows, now),
                )
        except IntegrityError:
            if key is None:
                raise
            with self.db.read() as conn:  # a concurrent duplicate won the race: replay its answer
                stored = idempotency.lookup(conn, principal.workspace_id, key, request_hash)
                if stored is not None:
                    quota.observe(conn, principal.workspace_id, plan, win)
            if stored is None:
                raise
            return list(stored), True
        return out, False

    def _check_items(self, items: Sequence[ClassifyItem], *, single: bool = False) -> None:
        """Limits and characters of each item; a single classify's errors name its fields
        (``text``, ``metadata.a``), a batch's the item (``texts[3]``, ``text 3``)."""
        s = self.settings
        if not items:
            raise ValidationFailed("no texts to classify", details={"field": "texts"})
        if len(items) > s.max_batch:
            raise ValidationFailed(
                f"a batch holds at most {s.max_batch} texts, got {len(items)}",
                details={"field": "texts", "limit": s.max_batch, "got": len(items)},
            )
        for i, item in enumerate(items):
            field, name = ("text", "the text") if single else (f"texts[{i}]", f"text {i}")
            at = {"field": field} if single else {"index": i}
            prefix = "" if single else f"{field}."
            if len(item.text) > s.max_text_chars:
                raise PayloadTooLarge(
                    f"{name} has {len(item.text)} characters; the limit is {s.max_text_chars}",
                    details={**at, "limit": s.max_text_chars, "got": len(item.text)},
                )
            inputs.check_text(item.text, field)
            if inputs.is_blank(item.text):  # zero-width characters only count as empty
                raise ValidationFailed(f"{name} is empty", details=at)
            inputs.check_external_id(item.external_id, f"{prefix}external_id")
            inputs.check_metadata(
                item.metadata,
                f"{prefix}metadata",
                max_depth=s.max_metadata_depth,
                max_bytes=s.max_metadata_bytes,
            )

    def classifier(self, principal: Principal, taxonomy: str) -> Classifier:
        """The active classifier of a taxonomy (in-process use, benchmarks)."""
        return self.classifiers.get(self.db, self.taxonomy_record(principal, taxonomy))

    # ---------------------------------------------------------------- decisions
    def decision(self, principal: Principal, decision_id: str) -> dict[str, Any]:
        principal.require(*READ_ROLES)
        with self.db.read() as conn:
            out = decision_log.get_decision(conn, principal.workspace_id, decision_id)
            return decision_log.blind_for(conn, principal, [out])[0]

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
            if flt.taxonomy is not None:  # a 404, as the metrics give (it was an empty page)
                taxo.get_record(conn, principal.workspace_id, flt.taxonomy)
            page, last = decision_log.list_decisions(
                conn, principal.workspace_id, flt, limit=limit, cursor=cursor
            )
            return decision_log.blind_for(conn, principal, page), last

    def erase_decisions(
        self,
        principal: Principal,
        *,
        ids: Sequence[str] | None = None,
        external_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Erase the text and metadata of decisions (admin keys; all or nothing): see
        :func:`triaged.services.erasure.erase_decisions`."""
        principal.require(Role.ADMIN)
        with self.db.write() as conn:
            return erasure.erase_decisions(
                conn, principal.workspace_id, ids=ids, external_ids=external_ids, now=utcnow()
            )
