"""Python SDK for a triaged server, on httpx (sync :class:`Client`, async :class:`AsyncClient`).

Usage::

    >>> from triaged.client import Client
    >>> with Client("http://127.0.0.1:8000", api_key="tri_...") as client:   # doctest: +SKIP
    ...     res = client.classify("I was charged twice", taxonomy="support")
    ...     res.label, res.confidence, res.bucket
    ('billing', 0.93, <Bucket.AUTO: 'auto'>)
    ...     client.route("I was charged twice", "support",
    ...                  on_auto=act, on_review=act_and_flag, on_hold=ask_a_human)

Results are typed (:class:`Classification`, :class:`Decision`, :class:`Usage`,
:class:`Routing` and :class:`WhatIf` for a taxonomy's routing policy);
errors are the library's own (:mod:`triaged.errors`), chosen by the error code
the server sends.  Requests that get 429 or 5xx (or a connection error) are
retried with exponential backoff, honouring ``Retry-After``; every classify
carries an ``Idempotency-Key`` (generated unless given), so a retry never makes
a second decision or a second count.  Pass ``transport=`` (for example
``httpx.ASGITransport(app)``) to talk to an app in-process.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx

from triaged import errors as _errors
from triaged.signing import verify_signature
from triaged.types import Alternative, Bucket

__all__ = [
    "AsyncClient",
    "AutoErrorEstimate",
    "BucketShares",
    "Classification",
    "Client",
    "Decision",
    "DecisionPage",
    "ReviewItem",
    "Routing",
    "RoutingBound",
    "TaxonomyInfo",
    "Usage",
    "WhatIf",
    "verify_signature",
]


DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")


# ------------------------------------------------------------------ results
@dataclass(frozen=True, slots=True)
class Classification:
    """One classification, as logged by the server under ``id``."""

    id: str
    label: str
    confidence: float
    bucket: Bucket
    alternatives: list[Alternative]
    scores: dict[str, float]
    taxonomy: str
    taxonomy_version: int
    model_version: str
    latency_ms: float
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        return cls(**_classification_fields(data))


@dataclass(frozen=True, slots=True)
class Decision:
    """A logged decision, with the reviewer's final label once set."""

    id: str
    label: str
    confidence: float
    bucket: Bucket
    alternatives: list[Alternative]
    scores: dict[str, float]
    taxonomy: str
    taxonomy_version: int
    model_version: str
    latency_ms: float
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: str = ""
    text: str = ""
    final_label: str | None = None
    final_source: str | None = None
    resolved_at: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            **_classification_fields(data),
            text=data.get("text", ""),
            final_label=data.get("final_label"),
            final_source=data.get("final_source"),
            resolved_at=data.get("resolved_at"),
        )


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A queued decision waiting for (or claimed by) a human reviewer."""

    id: str
    decision_id: str
    queue: str
    status: str
    taxonomy: str
    text: str
    label: str
    confidence: float
    alternatives: list[Alternative]
    lease_expires_at: str | None = None
    extra: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewItem:
        known = {
            "id",
            "decision_id",
            "queue",
            "status",
            "taxonomy",
            "text",
            "label",
            "confidence",
            "alternatives",
            "lease_expires_at",
        }
        return cls(
            id=data["id"],
            decision_id=data["decision_id"],
            queue=data["queue"],
            status=data.get("status", ""),
            taxonomy=data.get("taxonomy", ""),
            text=data["text"],
            label=data["label"],
            confidence=float(data["confidence"]),
            alternatives=[
                Alternative(a["label"], float(a["confidence"]))
                for a in data.get("alternatives", [])
            ],
            lease_expires_at=data.get("lease_expires_at"),
            extra={k: v for k, v in data.items() if k not in known} or None,
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class RoutingBound:
    """The evidence behind the auto threshold: an upper confidence bound of the auto lane's
    error (``None`` while there is none), its point estimate, and the ``n`` items (``errors``
    of them wrong) it rests on, collected ``since``; ``basis``: ``training`` | ``live``."""

    upper: float | None
    estimate: float | None
    n: int
    errors: int
    since: str | None
    basis: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingBound:
        return cls(
            upper=_opt_float(data.get("upper")),
            estimate=_opt_float(data.get("estimate")),
            n=int(data.get("n") or 0),
            errors=int(data.get("errors") or 0),
            since=data.get("since"),
            basis=str(data.get("basis") or ""),
        )


@dataclass(frozen=True, slots=True)
class Routing:
    """A taxonomy's routing policy (one version): thresholds, the error target and the bound.

    ``auto`` is ``None`` while the auto lane is closed (everything acts through ``review``);
    ``reason`` says why, in words."""

    taxonomy: str
    version: int
    auto: float | None
    review: float
    audit_rate: float
    auto_error_target: float
    confidence_level: float
    expected_out_of_scope: float
    source: str
    reason: str
    auto_lane_open: bool
    bound: RoutingBound
    created_at: str
    raw: dict[str, Any] = field(repr=False)
    effective_audit_rate: float | None = None  # higher while live evidence is thin

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Routing:
        return cls(
            taxonomy=data["taxonomy"],
            version=int(data["version"]),
            auto=_opt_float(data.get("auto")),
            review=float(data["review"]),
            audit_rate=float(data["audit_rate"]),
            auto_error_target=float(data["auto_error_target"]),
            confidence_level=float(data["confidence_level"]),
            expected_out_of_scope=float(data["expected_out_of_scope"]),
            source=str(data.get("source") or ""),
            reason=str(data.get("reason") or ""),
            auto_lane_open=bool(data.get("auto_lane_open")),
            bound=RoutingBound.from_dict(data.get("bound") or {}),
            created_at=str(data.get("created_at") or ""),
            raw=dict(data),
            effective_audit_rate=_opt_float(data.get("effective_audit_rate")),
        )


@dataclass(frozen=True, slots=True)
class BucketShares:
    """Shares of decisions per bucket (they sum to 1; ``None`` when the window had none)."""

    auto: float | None
    review: float | None
    hold: float | None


@dataclass(frozen=True, slots=True)
class AutoErrorEstimate:
    """The auto lane's error at the what-if thresholds, from the reviewed decisions (audits
    importance-weighted): point estimate and interval (``None`` without evidence)."""

    estimate: float | None
    lower: float | None
    upper: float | None
    n_reviewed: int
    effective_n: float
    confidence_level: float | None = None


@dataclass(frozen=True, slots=True)
class WhatIf:
    """What the logged decisions of a window would have done under other thresholds."""

    auto: float | None
    review: float | None
    n_decisions: int
    shares: BucketShares
    auto_error: AutoErrorEstimate
    since: str | None
    until: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WhatIf:
        shares = data.get("shares") or {}
        err = data.get("auto_error") or {}
        window = data.get("window") or {}
        return cls(
            auto=_opt_float(data.get("auto")),
            review=_opt_float(data.get("review")),
            n_decisions=int(data.get("n_decisions") or 0),
            shares=BucketShares(
                auto=_opt_float(shares.get("auto")),
                review=_opt_float(shares.get("review")),
                hold=_opt_float(shares.get("hold")),
            ),
            auto_error=AutoErrorEstimate(
                estimate=_opt_float(err.get("estimate")),
                lower=_opt_float(err.get("lower")),
                upper=_opt_float(err.get("upper")),
                n_reviewed=int(err.get("n_reviewed") or 0),
                effective_n=float(err.get("effective_n") or 0.0),
                confidence_level=_opt_float(err.get("confidence_level")),
            ),
            since=window.get("since"),
            until=window.get("until"),
            raw=dict(data),
        )


def _routing_call(taxonomy: str) -> _Call:
    return _Call("GET", f"/v1/taxonomies/{taxonomy}/routing")


def _set_routing_call(taxonomy: str, fields: Mapping[str, Any]) -> _Call:
    return _Call("PUT", f"/v1/taxonomies/{taxonomy}/routing", json=dict(fields))


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _what_if_call(
    taxonomy: str,
    auto: float | None,
    review: float | None,
    since: datetime | str | None,
    until: datetime | str | None,
) -> _Call:
    params = {
        k: v
        for k, v in (
            ("auto", auto),
            ("review", review),
            ("since", _when(since)),
            ("until", _when(until)),
        )
        if v is not None
    }
    return _Call("GET", f"/v1/taxonomies/{taxonomy}/what-if", params=params)


def _claim_call(taxonomy: str | None, queue: str | None, limit: int) -> _Call:
    body: dict[str, Any] = {"limit": limit}
    if taxonomy is not None:
        body["taxonomy"] = taxonomy
    if queue is not None:
        body["queue"] = queue
    return _Call("POST", "/v1/review/claim", json=body)


def _resolve_call(
    item_id: str, action: str, label: str | None, new_label: str | None, note: str | None
) -> _Call:
    body: dict[str, Any] = {"action": action}
    if label is not None:
        body["label"] = label
    if new_label is not None:
        body["new_label"] = new_label
    if note is not None:
        body["note"] = note
    return _Call("POST", f"/v1/review/items/{item_id}/resolve", json=body)


def _classification_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": data["id"],
        "label": data["label"],
        "confidence": float(data["confidence"]),
        "bucket": Bucket(data["bucket"]),
        "alternatives": [
            Alternative(a["label"], float(a["confidence"])) for a in data["alternatives"]
        ],
        "scores": dict(data.get("scores") or {}),
        "taxonomy": data["taxonomy"],
        "taxonomy_version": int(data["taxonomy_version"]),
        "model_version": data["model_version"],
        "latency_ms": float(data.get("latency_ms") or 0.0),
        "external_id": data.get("external_id"),
        "metadata": data.get("metadata"),
        "created_at": data.get("created_at", ""),
    }


@dataclass(frozen=True, slots=True)
class DecisionPage:
    decisions: list[Decision]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Usage:
    plan: str
    period: str
    used: int
    limit: int | None
    remaining: int | None
    reset: str
    per_minute_limit: int | None
    per_minute_used: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        minute = data.get("per_minute") or {}
        return cls(
            plan=data["plan"],
            period=data["period"],
            used=int(data["used"]),
            limit=data.get("limit"),
            remaining=data.get("remaining"),
            reset=data["reset"],
            per_minute_limit=minute.get("limit"),
            per_minute_used=int(minute.get("used", 0)),
        )


@dataclass(frozen=True, slots=True)
class TaxonomyInfo:
    name: str
    version: int
    ready: bool
    status: str
    labels: list[str]
    thresholds: dict[str, float]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaxonomyInfo:
        return cls(
            name=data["name"],
            version=int(data["version"]),
            ready=bool(data.get("ready")),
            status=str(data.get("status", "")),
            labels=[lb["name"] for lb in data.get("labels", [])],
            thresholds=dict(data.get("thresholds") or {}),
            raw=dict(data),
        )


# ------------------------------------------------------------------- errors
def _error_classes() -> dict[str, type[_errors.TriagedError]]:
    out: dict[str, type[_errors.TriagedError]] = {}
    todo: list[type[_errors.TriagedError]] = [_errors.TriagedError]
    while todo:
        cls = todo.pop()
        out.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return out


_BY_STATUS: dict[int, type[_errors.TriagedError]] = {
    400: _errors.InvalidInput,
    401: _errors.Unauthenticated,
    403: _errors.Forbidden,
    404: _errors.NotFound,
    409: _errors.Conflict,
    413: _errors.PayloadTooLarge,
    422: _errors.ValidationFailed,
    429: _errors.RateLimited,
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        err = response.json()["error"]
        code, message, details = (
            str(err["code"]),
            str(err["message"]),
            dict(err.get("details") or {}),
        )
    except (ValueError, KeyError, TypeError):
        code, message, details = "", response.text[:500] or response.reason_phrase, {}
    cls = _error_classes().get(code) or _BY_STATUS.get(response.status_code, _errors.TriagedError)
    exc: _errors.TriagedError
    if issubclass(cls, _errors.RateLimited):
        exc = cls(message, retry_after=_retry_after(response) or 0.0, details=details)
    else:
        exc = cls(message, details=details)
    exc.details.setdefault("status", response.status_code)
    raise exc


# ------------------------------------------------------------------ requests
@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    content: bytes | None = None

    @property
    def repeatable(self) -> bool:
        """Safe to send again after a lost response: a read, or a write with an idempotency key."""
        return self.method in {"GET", "HEAD", "DELETE"} or "Idempotency-Key" in (self.headers or {})


def _classify_call(
    text: str,
    taxonomy: str,
    external_id: str | None,
    metadata: Mapping[str, Any] | None,
    idempotency_key: str | None,
) -> _Call:
    body: dict[str, Any] = {"taxonomy": taxonomy, "text": text}
    if external_id is not None:
        body["external_id"] = external_id
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return _Call(
        "POST",
        "/v1/classify",
        json=body,
        headers={"Idempotency-Key": idempotency_key or uuid.uuid4().hex},
    )


def _batch_call(texts: Sequence[str | Mapping[str, Any]], taxonomy: str, key: str | None) -> _Call:
    items = [t if isinstance(t, str) else dict(t) for t in texts]
    return _Call(
        "POST",
        "/v1/classify/batch",
        json={"taxonomy": taxonomy, "texts": items},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def _taxonomy_body(
    name: str,
    labels: Sequence[str | Mapping[str, Any]],
    thresholds: Mapping[str, float] | None,
    description: str,
    examples: Sequence[Mapping[str, str]] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "labels": [{"name": lb} if isinstance(lb, str) else dict(lb) for lb in labels],
    }
    if thresholds is not None:
        body["thresholds"] = dict(thresholds)
    if examples:
        body["examples"] = [dict(e) for e in examples]
    return body


def _decisions_params(cursor: str | None, limit: int, filters: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: v for k, v in filters.items() if v is not None}
    params["limit"] = limit
    if cursor:
        params["cursor"] = cursor
    return params


def _page(data: Mapping[str, Any]) -> DecisionPage:
    return DecisionPage([Decision.from_dict(d) for d in data["decisions"]], data.get("next_cursor"))


def _pick(
    res: Classification,
    on_auto: Callable[[Classification], T] | None,
    on_review: Callable[[Classification], T] | None,
    on_hold: Callable[[Classification], T] | None,
) -> Callable[[Classification], T] | None:
    return {Bucket.AUTO: on_auto, Bucket.REVIEW: on_review, Bucket.HOLD: on_hold}[res.bucket]


class _Base:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("TRIAGED_URL") or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("TRIAGED_API_KEY")
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._headers = {"User-Agent": "triaged-python", **dict(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = _retry_after(response)
            if after is not None:
                return min(after, self.max_backoff)
        base: float = min(self.max_backoff, self.backoff * 2.0**attempt)
        return base * (0.5 + random.random() / 2)

    def _retryable(self, call: _Call, attempt: int, response: httpx.Response | None) -> bool:
        """Retry 429 (the server did nothing) unless its wait is longer than ``max_backoff``
        (an exhausted monthly quota: raised at once); retry connection errors and 5xx only
        for calls that are safe to repeat (reads, and writes with an idempotency key)."""
        if attempt >= self.max_retries:
            return False
        if response is not None and response.status_code == 429:
            after = _retry_after(response)
            return after is None or after <= self.max_backoff
        if not call.repeatable:
            return False
        return response is None or response.status_code in RETRY_STATUSES


class Client(_Base):
    """Synchronous client.  ``transport`` is any ``httpx.BaseTransport``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_key, **options)
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers, timeout=self.timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: _Call) -> Any:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.TransportError:
                if not self._retryable(call, attempt, None):
                    raise
            if response is not None and not (
                response.status_code in RETRY_STATUSES and self._retryable(call, attempt, response)
            ):
                _raise_for(response)
                return response.json() if response.content else None
            time.sleep(self._delay(attempt, response))
            attempt += 1

    # classify
    def classify(
        self,
        text: str,
        taxonomy: str,
        *,
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Classification:
        """Classify one text; the server logs the decision before answering."""
        data = self._send(_classify_call(text, taxonomy, external_id, metadata, idempotency_key))
        return Classification.from_dict(data)

    def classify_batch(
        self,
        texts: Sequence[str | Mapping[str, Any]],
        taxonomy: str,
        *,
        idempotency_key: str | None = None,
    ) -> list[Classification]:
        """Classify up to 100 texts; results in input order."""
        data = self._send(_batch_call(texts, taxonomy, idempotency_key))
        return [Classification.from_dict(d) for d in data["results"]]

    def route(
        self,
        text: str,
        taxonomy: str,
        *,
        on_auto: Callable[[Classification], T] | None = None,
        on_review: Callable[[Classification], T] | None = None,
        on_hold: Callable[[Classification], T] | None = None,
        **kwargs: Any,
    ) -> T | Classification:
        """Classify, then call the handler for the bucket (or return the result if none)."""
        res = self.classify(text, taxonomy, **kwargs)
        handler = _pick(res, on_auto, on_review, on_hold)
        return handler(res) if handler is not None else res

    # decisions and usage
    def decision(self, decision_id: str) -> Decision:
        return Decision.from_dict(self._send(_Call("GET", f"/v1/decisions/{decision_id}")))

    def decisions(
        self, *, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> DecisionPage:
        """One page; filters: taxonomy, bucket, label, external_id, since, until."""
        params = _decisions_params(cursor, limit, filters)
        return _page(self._send(_Call("GET", "/v1/decisions", params=params)))

    def iter_decisions(self, *, limit: int = 100, **filters: Any) -> Iterator[Decision]:
        cursor: str | None = None
        while True:
            page = self.decisions(cursor=cursor, limit=limit, **filters)
            yield from page.decisions
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def usage(self) -> Usage:
        return Usage.from_dict(self._send(_Call("GET", "/v1/usage")))

    # taxonomies
    def create_taxonomy(
        self,
        name: str,
        labels: Sequence[str | Mapping[str, Any]],
        *,
        thresholds: Mapping[str, float] | None = None,
        description: str = "",
        examples: Sequence[Mapping[str, str]] | None = None,
    ) -> TaxonomyInfo:
        body = _taxonomy_body(name, labels, thresholds, description, examples)
        return TaxonomyInfo.from_dict(self._send(_Call("POST", "/v1/taxonomies", json=body)))

    def taxonomy(self, name: str) -> TaxonomyInfo:
        return TaxonomyInfo.from_dict(self._send(_Call("GET", f"/v1/taxonomies/{name}")))

    def taxonomies(self) -> list[TaxonomyInfo]:
        """Every taxonomy of the workspace (all pages)."""
        out: list[TaxonomyInfo] = []
        params: dict[str, Any] = {"limit": 200}
        while True:
            data = self._send(_Call("GET", "/v1/taxonomies", params=dict(params)))
            out.extend(TaxonomyInfo.from_dict(t) for t in data["taxonomies"])
            if not data.get("next_cursor"):
                return out
            params["cursor"] = data["next_cursor"]

    def update_taxonomy(self, name: str, **changes: Any) -> TaxonomyInfo:
        return TaxonomyInfo.from_dict(
            self._send(_Call("PATCH", f"/v1/taxonomies/{name}", json=changes))
        )

    def archive_taxonomy(self, name: str) -> TaxonomyInfo:
        return TaxonomyInfo.from_dict(self._send(_Call("POST", f"/v1/taxonomies/{name}/archive")))

    def add_examples(
        self, name: str, examples: Sequence[Mapping[str, str]], *, train: bool = True
    ) -> TaxonomyInfo:
        call = _Call(
            "POST",
            f"/v1/taxonomies/{name}/examples",
            json={"examples": [dict(e) for e in examples]},
            params={"train": str(train).lower()},
        )
        return TaxonomyInfo.from_dict(self._send(call))

    def train(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = self._send(_Call("POST", f"/v1/taxonomies/{name}/train"))
        return data

    def wait_until_ready(
        self, name: str, *, timeout: float = 300.0, poll: float = 0.5
    ) -> TaxonomyInfo:
        """Poll until the taxonomy's newest training job has finished."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.taxonomy(name)
            job = info.raw.get("training") or {}
            if info.ready and job.get("status") != "training":
                return info
            if job.get("status") == "failed" and not info.ready:
                raise _errors.ModelError(f"training failed: {job.get('error')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"taxonomy {name!r} not ready after {timeout}s")
            time.sleep(poll)

    def evaluate(
        self, name: str, examples: Sequence[Mapping[str, str]] | None = None
    ) -> dict[str, Any]:
        body = {"examples": [dict(e) for e in examples]} if examples else {}
        data: dict[str, Any] = self._send(
            _Call("POST", f"/v1/taxonomies/{name}/evaluate", json=body)
        )
        return data

    # routing policy (thresholds applied at classify time; changing them never retrains)
    def routing(self, taxonomy: str) -> Routing:
        """The taxonomy's current routing policy, with the bound and the evidence behind it."""
        return Routing.from_dict(self._send(_routing_call(taxonomy)))

    def set_routing(self, taxonomy: str, **fields: float | None) -> Routing:
        """A new policy version from any of ``auto``, ``review``, ``audit_rate``,
        ``auto_error_target``, ``confidence_level``, ``expected_out_of_scope``
        (``auto=None``: recompute the threshold from the evidence).  Never retrains."""
        return Routing.from_dict(self._send(_set_routing_call(taxonomy, fields)))

    def what_if(
        self,
        taxonomy: str,
        *,
        auto: float | None = None,
        review: float | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> WhatIf:
        """Predicted bucket shares and auto error (with its interval) for other thresholds,
        from the logged and reviewed decisions of ``[since, until)``."""
        return WhatIf.from_dict(self._send(_what_if_call(taxonomy, auto, review, since, until)))

    # keys
    def create_key(self, role: str, name: str = "") -> dict[str, Any]:
        data: dict[str, Any] = self._send(
            _Call("POST", "/v1/keys", json={"role": role, "name": name})
        )
        return data

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._send(_Call("DELETE", f"/v1/keys/{key_id}"))
        return data

    # review queue (reviewer or admin keys)
    def claim(
        self, *, taxonomy: str | None = None, queue: str | None = None, limit: int = 1
    ) -> list[ReviewItem]:
        """Claim up to ``limit`` items under a lease (hold first, then review, then audit)."""
        data = self._send(_claim_call(taxonomy, queue, limit))
        return [ReviewItem.from_dict(item) for item in data["items"]]

    def resolve(
        self,
        item_id: str,
        action: str,
        *,
        label: str | None = None,
        new_label: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """``confirm`` | ``correct`` (with ``label``) | ``new_category`` (with ``new_label``) |
        ``ambiguous`` | ``out_of_scope`` (none of the labels fits: the final label becomes
        ``oos``; no ``label``); a held decision is then released to your webhook."""
        data: dict[str, Any] = self._send(_resolve_call(item_id, action, label, new_label, note))
        return data

    def release(self, item_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._send(_Call("POST", f"/v1/review/items/{item_id}/release"))
        return data

    def review_stats(self, **params: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._send(_Call("GET", "/v1/review/stats", params=params or None))
        return data

    def lane_error(self, **params: Any) -> dict[str, Any]:
        """Measured error of each lane with 95% Clopper-Pearson intervals."""
        data: dict[str, Any] = self._send(
            _Call("GET", "/v1/review/lane-error", params=params or None)
        )
        return data

    # webhooks (admin); check deliveries with triaged.verify_signature
    def create_webhook(self, url: str, events: Sequence[str]) -> dict[str, Any]:
        """Register ``url``; the result's ``secret`` (shown once) signs every delivery."""
        data: dict[str, Any] = self._send(
            _Call("POST", "/v1/webhooks", json={"url": url, "events": list(events)})
        )
        return data

    def webhooks(self) -> list[dict[str, Any]]:
        data: dict[str, Any] = self._send(_Call("GET", "/v1/webhooks"))
        return list(data["webhooks"])

    def delete_webhook(self, webhook_id: str) -> None:
        self._send(_Call("DELETE", f"/v1/webhooks/{webhook_id}"))


class AsyncClient(_Base):
    """Asynchronous client with the same methods (awaitable).  ``transport`` is any
    ``httpx.AsyncBaseTransport``, e.g. ``httpx.ASGITransport(app)``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, api_key, **options)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=self.timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: _Call) -> Any:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    json=call.json,
                    params=call.params,
                    headers=call.headers,
                    content=call.content,
                )
            except httpx.TransportError:
                if not self._retryable(call, attempt, None):
                    raise
            if response is not None and not (
                response.status_code in RETRY_STATUSES and self._retryable(call, attempt, response)
            ):
                _raise_for(response)
                return response.json() if response.content else None
            await asyncio.sleep(self._delay(attempt, response))
            attempt += 1

    async def classify(
        self,
        text: str,
        taxonomy: str,
        *,
        external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Classification:
        data = await self._send(
            _classify_call(text, taxonomy, external_id, metadata, idempotency_key)
        )
        return Classification.from_dict(data)

    async def classify_batch(
        self,
        texts: Sequence[str | Mapping[str, Any]],
        taxonomy: str,
        *,
        idempotency_key: str | None = None,
    ) -> list[Classification]:
        data = await self._send(_batch_call(texts, taxonomy, idempotency_key))
        return [Classification.from_dict(d) for d in data["results"]]

    async def route(
        self,
        text: str,
        taxonomy: str,
        *,
        on_auto: Callable[[Classification], T] | None = None,
        on_review: Callable[[Classification], T] | None = None,
        on_hold: Callable[[Classification], T] | None = None,
        **kwargs: Any,
    ) -> T | Classification:
        """Classify, then call the handler for the bucket (awaiting it if it is a coroutine)."""
        res = await self.classify(text, taxonomy, **kwargs)
        handler = _pick(res, on_auto, on_review, on_hold)
        if handler is None:
            return res
        out = handler(res)
        if asyncio.iscoroutine(out):
            awaited: T = await out
            return awaited
        return out

    async def decision(self, decision_id: str) -> Decision:
        return Decision.from_dict(await self._send(_Call("GET", f"/v1/decisions/{decision_id}")))

    async def decisions(
        self, *, cursor: str | None = None, limit: int = 50, **filters: Any
    ) -> DecisionPage:
        params = _decisions_params(cursor, limit, filters)
        return _page(await self._send(_Call("GET", "/v1/decisions", params=params)))

    async def iter_decisions(self, *, limit: int = 100, **filters: Any) -> AsyncIterator[Decision]:
        cursor: str | None = None
        while True:
            page = await self.decisions(cursor=cursor, limit=limit, **filters)
            for d in page.decisions:
                yield d
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def usage(self) -> Usage:
        return Usage.from_dict(await self._send(_Call("GET", "/v1/usage")))

    async def create_taxonomy(
        self,
        name: str,
        labels: Sequence[str | Mapping[str, Any]],
        *,
        thresholds: Mapping[str, float] | None = None,
        description: str = "",
        examples: Sequence[Mapping[str, str]] | None = None,
    ) -> TaxonomyInfo:
        body = _taxonomy_body(name, labels, thresholds, description, examples)
        return TaxonomyInfo.from_dict(await self._send(_Call("POST", "/v1/taxonomies", json=body)))

    async def taxonomy(self, name: str) -> TaxonomyInfo:
        return TaxonomyInfo.from_dict(await self._send(_Call("GET", f"/v1/taxonomies/{name}")))

    async def train(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._send(_Call("POST", f"/v1/taxonomies/{name}/train"))
        return data

    # routing policy
    async def routing(self, taxonomy: str) -> Routing:
        return Routing.from_dict(await self._send(_routing_call(taxonomy)))

    async def set_routing(self, taxonomy: str, **fields: float | None) -> Routing:
        return Routing.from_dict(await self._send(_set_routing_call(taxonomy, fields)))

    async def what_if(
        self,
        taxonomy: str,
        *,
        auto: float | None = None,
        review: float | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> WhatIf:
        return WhatIf.from_dict(
            await self._send(_what_if_call(taxonomy, auto, review, since, until))
        )

    # review queue (reviewer or admin keys)
    async def claim(
        self, *, taxonomy: str | None = None, queue: str | None = None, limit: int = 1
    ) -> list[ReviewItem]:
        data = await self._send(_claim_call(taxonomy, queue, limit))
        return [ReviewItem.from_dict(item) for item in data["items"]]

    async def resolve(
        self,
        item_id: str,
        action: str,
        *,
        label: str | None = None,
        new_label: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """``confirm`` | ``correct`` | ``new_category`` | ``ambiguous`` | ``out_of_scope``."""
        data: dict[str, Any] = await self._send(
            _resolve_call(item_id, action, label, new_label, note)
        )
        return data

    async def release(self, item_id: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._send(
            _Call("POST", f"/v1/review/items/{item_id}/release")
        )
        return data

    async def review_stats(self, **params: Any) -> dict[str, Any]:
        data: dict[str, Any] = await self._send(
            _Call("GET", "/v1/review/stats", params=params or None)
        )
        return data

    # webhooks (admin)
    async def create_webhook(self, url: str, events: Sequence[str]) -> dict[str, Any]:
        data: dict[str, Any] = await self._send(
            _Call("POST", "/v1/webhooks", json={"url": url, "events": list(events)})
        )
        return data

    async def webhooks(self) -> list[dict[str, Any]]:
        data: dict[str, Any] = await self._send(_Call("GET", "/v1/webhooks"))
        return list(data["webhooks"])

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._send(_Call("DELETE", f"/v1/webhooks/{webhook_id}"))
