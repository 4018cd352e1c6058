"""What the sync and async clients share: a request (:class:`Call`), the retry policy
(:class:`BaseClient`) and the mapping of an error answer to the library's exceptions."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from triaged import errors as _errors

__all__ = [
    "DEFAULT_URL",
    "RETRY_STATUSES",
    "BaseClient",
    "Call",
    "check_filters",
    "raise_for",
    "seg",
    "transport_error",
]

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
R = TypeVar("R")


def seg(value: str) -> str:
    """One path segment: an id or a name escaped whole (``/``, ``?``, ``#``, ``..`` and
    spaces included), so that a value never changes which endpoint a call reaches."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in {".", ".."} else text


def check_filters(method: str, given: Mapping[str, Any], known: frozenset[str]) -> None:
    """A TypeError for a keyword ``method`` does not know, as Python gives for a function's
    own arguments: a misspelt filter (``buckett="auto"``) was sent as a query parameter the
    server ignores, and the call answered unfiltered."""
    unknown = sorted(set(given) - known)
    if unknown:
        raise TypeError(
            f"{method}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(sorted(known))}"
        )


def _api_key(key: str | None) -> str | None:
    """The key without the surrounding whitespace a file read leaves (``open().read()``);
    a key an HTTP header cannot carry is refused here, without showing it (httpx's error
    put the whole key, line break and all, into the message and so into logs)."""
    if key is None:
        return None
    key = key.strip()
    if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
        raise ValueError(
            "the API key (api_key or TRIAGED_API_KEY) holds a character no HTTP header can "
            "carry (a line break, a space or a non-ASCII character); it is not shown here"
        )
    return key


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request of the API."""

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


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for(response: httpx.Response) -> None:
    """Raise the library's exception for an error answer (chosen by its ``code``, else status)."""
    if response.status_code < 400:
        return
    request_id = response.headers.get("request-id")
    try:
        err = response.json()["error"]
        code, message, details = (
            str(err["code"]),
            str(err["message"]),
            dict(err.get("details") or {}),
        )
        request_id = str(err.get("request_id") or "") or request_id
    except (ValueError, KeyError, TypeError):
        code, message, details = "", response.text[:500] or response.reason_phrase, {}
    cls = _error_classes().get(code) or _BY_STATUS.get(response.status_code, _errors.TriagedError)
    exc: _errors.TriagedError
    if issubclass(cls, _errors.RateLimited):
        exc = cls(message, retry_after=retry_after(response) or 0.0, details=details)
    else:
        exc = cls(message, details=details)
    exc.status_code = response.status_code  # details may carry a "status" of their own
    exc.request_id = request_id
    exc.details.setdefault("status", response.status_code)
    raise exc


def transport_error_class(exc: httpx.TransportError) -> type[_errors.TransportError]:
    """Which of the library's exceptions a request that got no HTTP answer raises: no answer
    in time, nothing sent (refused, DNS, TLS), or another transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return _errors.RequestTimeout
    if isinstance(exc, httpx.ConnectError):
        return _errors.ConnectFailed
    return _errors.TransportError


def transport_error(exc: httpx.TransportError, base_url: str, call: Call) -> _errors.TriagedError:
    """The library's exception for a request that got no HTTP answer (raise it ``from exc``)."""
    where = f"{call.method} {base_url}{call.path}"
    details = {"url": base_url + call.path, "reason": type(exc).__name__}
    cls = transport_error_class(exc)
    if cls is _errors.RequestTimeout:
        return _errors.RequestTimeout(f"{where}: no answer in time ({exc})", details=details)
    if cls is _errors.ConnectFailed:
        return _errors.ConnectFailed(
            f"{where}: cannot connect ({exc}); is the server running at {base_url}?",
            details=details,
        )
    return _errors.TransportError(f"{where}: {type(exc).__name__}: {exc}", details=details)


class BaseClient:
    """Settings and the retry policy of both clients."""

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
        key = _api_key(api_key if api_key is not None else os.environ.get("TRIAGED_API_KEY"))
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._headers = {"User-Agent": "triaged-python", **dict(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = retry_after(response)
            if after is not None:
                return min(after, self.max_backoff)
        base: float = min(self.max_backoff, self.backoff * 2.0**attempt)
        return base * (0.5 + random.random() / 2)

    def _retryable(self, call: Call, attempt: int, response: httpx.Response | None) -> bool:
        """Retry 429 (the server did nothing) unless its wait is longer than ``max_backoff``
        (an exhausted monthly quota: raised at once); retry connection errors and 5xx only
        for calls that are safe to repeat (reads, and writes with an idempotency key)."""
        if attempt >= self.max_retries:
            return False
        if response is not None and response.status_code == 429:
            after = retry_after(response)
            return after is None or after <= self.max_backoff
        if not call.repeatable:
            return False
        return response is None or response.status_code in RETRY_STATUSES

    def _final(self, call: Call, attempt: int, response: httpx.Response) -> bool:
        """True when ``response`` is the answer (raised if an error); False: wait and retry."""
        if response.status_code in RETRY_STATUSES and self._retryable(call, attempt, response):
            return False
        raise_for(response)
        return True

    @staticmethod
    def _read(read: Callable[[Any], R], response: httpx.Response) -> R:
        """``read`` applied to the answer's JSON; a body that is not JSON, or JSON of another
        shape (a proxy's page, another service at that URL), is a :class:`TransportError`
        naming the URL, not a ``JSONDecodeError`` or ``KeyError`` from inside the SDK."""
        try:
            return read(response.json() if response.content else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            url = str(response.request.url)
            kind = response.headers.get("content-type", "no content type")
            raise _errors.TransportError(
                f"{response.request.method} {url}: the answer is not triaged's JSON "
                f"(HTTP {response.status_code}, {kind}: {response.text[:120]!r}); is "
                "base_url a triaged server?",
                details={"url": url, "status": response.status_code, "reason": type(exc).__name__},
            ) from exc
