"""Dependencies as ``Annotated`` aliases, so route signatures read as plain English.

Resources named in the path are resolved here, before the body is validated,
so a key of another workspace gets 404 on every route whatever it sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from triaged.errors import TriagedError, Unauthenticated, ValidationFailed
from triaged.http.deps import (
    ServiceDep,
    auth_subjects,
    auth_throttle,
    client_subject,
    get_service,
)
from triaged.service import Principal, TaxonomyRecord

__all__ = [
    "KEY_CHECKED_IN_SERVICE",
    "ApiKey",
    "IdempotencyKey",
    "Instant",
    "PageCursor",
    "PageLimit",
    "PrincipalDep",
    "ServiceDep",
    "TaxonomyDep",
    "auth_throttle",
    "client_subject",
    "get_service",
    "key_refused",
    "paginate",
]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tri_...`")


async def get_api_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer key, unchecked (401 when there is none)."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated(
            "missing API key; send the header 'Authorization: Bearer <key>'",
            details={"reason": "missing_key"},
        )
    return credentials.credentials


ApiKey = Annotated[str, Depends(get_api_key)]


def get_principal(request: Request, service: ServiceDep, key: ApiKey) -> Principal:
    """The key's principal; repeated failures from one address or key prefix get 429."""
    throttle = auth_throttle(request)
    subjects = auth_subjects(request, key)
    throttle.check(subjects[:1])  # the client: see auth_subjects
    try:
        return service.authenticate(key)
    except Unauthenticated:
        throttle.fail(subjects)
        raise


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _instant(value: datetime) -> datetime:
    """A time both databases compare alike: naive is UTC, and its UTC reading must exist
    (``0001-01-01T00:00+14:00`` is before year 1 in UTC: SQLite answered 200 for it and
    PostgreSQL refused it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("no such time in UTC (before year 1 or after year 9999)") from None


#: A query parameter's time (``since``/``until``): ISO 8601, read in UTC.
Instant = Annotated[datetime, AfterValidator(_instant)]

#: Routes that take the raw key and authenticate inside the service call (the classify hot
#: path, one thread hop): their body is validated before the key is looked up.
KEY_CHECKED_IN_SERVICE = frozenset({"/v1/classify", "/v1/classify/batch"})


async def key_refused(request: Request) -> TriagedError | None:
    """For a request to a :data:`KEY_CHECKED_IN_SERVICE` route whose body failed
    validation: why its bearer key is refused (as :func:`get_principal` checks and
    throttles it), or None.  A wrong key is a 401 whatever the body, as on every other
    route, and does not learn what a valid body looks like."""
    if request.url.path not in KEY_CHECKED_IN_SERVICE:
        return None
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None  # no key: the ApiKey dependency has answered 401 already
    service = request.app.state.service
    try:
        await run_in_threadpool(get_principal, request, service, key.strip())
    except TriagedError as exc:
        return exc
    return None


def taxonomy_in_path(name: str, principal: PrincipalDep, service: ServiceDep) -> TaxonomyRecord:
    return service.taxonomy_record(principal, name)


TaxonomyDep = Annotated[TaxonomyRecord, Depends(taxonomy_in_path)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        description="Makes a retried request return the first result instead of counting twice."
    ),
]


T = TypeVar("T")
PageLimit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
PageCursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


def paginate(
    items: Sequence[T], key: Callable[[T], Any], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """One page of ``items`` (in their order) after the item whose key is ``cursor``."""
    start = 0
    if cursor is not None:
        keys = [str(key(item)) for item in items]
        if cursor not in keys:
            raise ValidationFailed(
                "unknown cursor; start again without one", details={"field": "cursor"}
            )
        start = keys.index(cursor) + 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, (str(key(page[-1])) if more and page else None)
