"""The reviewer workspace as the faces call it: ``service.desk``.

Settings, progress, agreement, reopen, search and bulk answers of
:mod:`triaged.services.review_workspace`, and the audited reliability of
:mod:`triaged.services.review_evidence`, bound to one :class:`~triaged.service.Service`, so
that the API and the web pages go through the service door instead of importing the
service layer's modules (issue 10: faces import only ``triaged.service``, ``errors`` and
``types``).  Each method is the module function with the service filled in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from triaged.services import review_evidence as evidence
from triaged.services import review_workspace as rw
from triaged.services.keys import Principal

if TYPE_CHECKING:
    from triaged.service import Service

__all__ = ["ReviewDesk"]


class ReviewDesk:
    """The reviewer workspace's operations of one service."""

    def __init__(self, service: Service) -> None:
        self._svc = service

    def settings(self, principal: Principal, taxonomy: str) -> dict[str, Any]:
        return rw.get_settings(self._svc, principal, taxonomy)

    def update_settings(
        self, principal: Principal, taxonomy: str, **changes: Any
    ) -> dict[str, Any]:
        return rw.update_settings(self._svc, principal, taxonomy, **changes)

    def progress(self, principal: Principal, *, taxonomy: str | None = None) -> dict[str, Any]:
        return rw.progress(self._svc, principal, taxonomy=taxonomy)

    def agreement(self, principal: Principal, *, taxonomy: str | None = None) -> dict[str, Any]:
        return rw.agreement_stats(self._svc, principal, taxonomy=taxonomy)

    def earlier_answers(self, principal: Principal, item_id: str) -> list[dict[str, Any]]:
        return rw.earlier_answers(self._svc, principal, item_id)

    def reopen(self, principal: Principal, item_id: str) -> dict[str, Any]:
        return rw.reopen(self._svc, principal, item_id)

    def last_reopenable(self, principal: Principal, *, taxonomy: str | None = None) -> str | None:
        return rw.last_reopenable(self._svc, principal, taxonomy=taxonomy)

    def search(self, principal: Principal, **filters: Any) -> dict[str, Any]:
        return rw.search_items(self._svc, principal, **filters)

    def bulk_resolve(
        self, principal: Principal, item_ids: Sequence[str], **answer: Any
    ) -> list[dict[str, Any]]:
        return rw.bulk_resolve(self._svc, principal, item_ids, **answer)

    def audited_reliability(
        self, principal: Principal, taxonomy: str, *, since: datetime
    ) -> dict[str, Any]:
        return evidence.audited_reliability(self._svc, principal, taxonomy, since=since)

    def history_days(self, principal: Principal, taxonomy: str, *, now: datetime) -> float:
        return evidence.history_days(self._svc, principal, taxonomy, now=now)
