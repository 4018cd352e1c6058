"""The items view: search and filter review items, select many, resolve them with one
answer in one request (each still its own review event and webhook event).

``/ui/items?taxonomy=&queue=&status=&q=&label=&confidence_min=&confidence_max=&since=
&until=&decision_ids=`` (comma-separated; what a gap cluster on the dashboard links to).
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from triaged.errors import InvalidInput, TriagedError
from triaged.http.deps import ServiceDep
from triaged.service import Principal, Role, Service
from triaged.web import form_memory
from triaged.web.deps import WebSession
from triaged.web.pages import QUEUES, see_other
from triaged.web.render import add_nav_link, page
from triaged.web.session import check_csrf, message_params, read_message
from triaged.wording import plural

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
add_nav_link("Items", "/ui/items")

FILTERS = (
    "taxonomy",
    "queue",
    "status",
    "q",
    "label",
    "confidence_min",
    "confidence_max",
    "since",
    "until",
    "decision_ids",
)
STATUSES = ("pending", "claimed", "resolved")
PAGE = 100


def _not_selectable(item: dict[str, Any], principal: Principal) -> str | None:
    """Why ``principal`` cannot take ``item`` into a bulk answer (None: it can); one such
    item would make the service refuse the whole bulk."""
    if item["status"] == "resolved":
        return "already resolved"
    if item["status"] == "claimed" and item.get("claimed_by") != principal.key_id:
        return "held by another reviewer"
    if item.get("review_round") == 2 and item.get("first_by") == principal.key_id:
        return "you gave the first answer; it waits for a second opinion"
    if item.get("review_round") == 3 and principal.role is not Role.ADMIN:
        return "reviewers disagree; an admin settles it"
    return None


#: The position a page link carries: the id of the last item of the page before
ITEM_ID = re.compile(r"rvi_[0-9a-f]{32}")


def _confidence(params: dict[str, str], field: str) -> float | None:
    """A confidence filter as a number from 0 to 1 (None: not given); a value the API would
    answer 422 for is said on the page (it was dropped, or matched nothing, silently)."""
    raw = params[field]
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInput(
            f"{field} must be a number from 0 to 1, not {raw[:40]!r}", details={"field": field}
        )
    return value


def _confidences(params: dict[str, str]) -> tuple[float | None, float | None]:
    low = _confidence(params, "confidence_min")
    high = _confidence(params, "confidence_max")
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"confidence_min ({low:g}) is above confidence_max ({high:g}): no item can match",
            details={"field": "confidence_min"},
        )
    return low, high


#: a date without a time, as the page's date inputs send it
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _until(value: str) -> str | None:
    """The form's "through" date includes that whole day: a date-only ``until`` is the next
    day's start (the API's ``until`` stays exclusive); a date and time is passed as is."""
    if not DATE_ONLY.fullmatch(value):
        return value or None
    try:
        return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
    except ValueError:  # not a real day: the service says so
        return value


def _search(
    service: Service,
    principal: Principal,
    params: dict[str, str],
    ids: list[str],
    cursor: str | None,
) -> dict[str, Any]:
    """One page of the items the filters in ``params`` select."""
    for name, known in (("queue", QUEUES), ("status", STATUSES)):
        if params[name] and params[name] not in known:  # it listed everything, unfiltered
            raise InvalidInput(
                f"{name} {params[name][:40]!r} is not one of {', '.join(known)}",
                details={"field": name},
            )
    low, high = _confidences(params)
    return service.desk.search(
        principal,
        taxonomy=params["taxonomy"] or None,
        queue=params["queue"] or None,
        status=params["status"] or None,
        text=params["q"] or None,
        label=params["label"] or None,
        confidence_min=low,
        confidence_max=high,
        since=params["since"] or None,
        until=_until(params["until"]),
        decision_ids=ids or None,
        limit=PAGE,
        cursor=cursor,
    )


def _back(query: str, cursor: str | None) -> str:
    """Where a bulk answer returns to: this page (its cursor too), not the first page."""
    if cursor is None or not ITEM_ID.fullmatch(cursor):
        return query
    return query + ("&" if query else "") + urlencode({"cursor": cursor})


@router.get("/ui/items", response_class=HTMLResponse)
def items_view(request: Request, session: WebSession, service: ServiceDep) -> Response:
    principal = session.principal
    params = {k: (request.query_params.get(k) or "").strip() for k in FILTERS}
    cursor = request.query_params.get("cursor") or None
    taxonomies = [t["name"] for t in service.list_taxonomies(principal)]
    ids = [d for d in params["decision_ids"].split(",") if d]
    error = None
    result: dict[str, Any] = {"items": [], "next_cursor": None}
    if cursor is not None and not ITEM_ID.fullmatch(cursor):  # it listed the first page
        error = "That page link is not one this server made; start again from the first page."
    else:
        try:
            result = _search(service, principal, params, ids, cursor)
        except TriagedError as exc:
            if exc.status >= 500:
                raise
            error = exc.message
    labels: list[str] = []
    if params["taxonomy"] and params["taxonomy"] in taxonomies:
        tax = service.get_taxonomy(principal, params["taxonomy"])
        labels = sorted(lb["name"] for lb in tax["labels"])
    query = urlencode({k: v for k, v in params.items() if v})
    items: list[dict[str, Any]] = result["items"]
    notice = request.query_params.get("notice")
    response = page(
        request,
        "review_items.html",
        {
            "f": params,
            "taxonomies": taxonomies,
            "queues": QUEUES,
            "statuses": STATUSES,
            "items": items,
            "blocked": {it["id"]: _not_selectable(it, principal) for it in items},
            "next_cursor": result.get("next_cursor"),
            "first_page": ("/ui/items" + ("?" + query if query else "")) if cursor else None,
            "labels": labels,
            "query": query,
            # where a bulk answer returns to: this page (its cursor too), not the first
            "back": _back(query, cursor),
            "error": error or read_message(session, request.query_params),
            "notice": (
                f"Resolved {plural(int(notice), 'item')}." if notice and notice.isdigit() else None
            ),
            "cluster": len(ids),
            "kept": _kept(form_memory.recall(request, session)),
        },
        session=session,
    )
    form_memory.forget(request, response, "/ui/items")
    return response


def _kept(values: dict[str, Any]) -> dict[str, Any]:
    """What a refused bulk answer carried back: the items ticked, the answer, the label
    and the comment (they were all cleared until 6 December)."""
    ids = values.get("item_ids")
    return {
        "ids": {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else set(),
        "action": form_memory.text(values, "action", 20),
        "label": form_memory.text(values, "label", 100),
        "note": form_memory.text(values, "note", 2000),
    }


@router.post("/ui/items/bulk")
def items_bulk(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    item_ids: Annotated[list[str] | None, Form()] = None,
    action: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Resolve the selected items with one answer: ``correct`` with a label (confirm when it
    is each item's model label is not implied: the label is set as given), ``new_category``
    with a name, ``confirm``, ``ambiguous`` or ``out_of_scope``."""
    check_csrf(session, csrf_token)
    target = "/ui/items" + ("?" + back if back else "")
    sep = "&" if back else "?"
    kwargs: dict[str, Any] = {"action": action}
    if action == "correct":
        kwargs["label"] = label.strip()
    elif action == "new_category":
        kwargs["new_label"] = label.strip()
    try:
        done = service.desk.bulk_resolve(
            session.principal, item_ids or [], note=note.strip() or None, **kwargs
        )
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        response = see_other(target + sep + urlencode(message_params(session, exc.message)))
        typed = {
            "item_ids": [i for i in item_ids or [] if ITEM_ID.fullmatch(i)][:PAGE],
            "action": action[:20],
            "label": label[:100],
            "note": note[:2000],
        }
        form_memory.keep(request, response, session, "/ui/items", typed)
        return response
    return see_other(target + sep + f"notice={len(done)}")
