"""The review screen and its next-item flow; every action calls ``service.review``.

``POST /ui/review/next`` resumes the item the reviewer already holds or claims
the next one (``hold`` first, oldest first) and redirects to it.  Resolving or
skipping redirects straight to the next item, so a reviewer can work through a
queue with the keyboard alone.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from triaged.errors import Conflict, NotFound, TriagedError
from triaged.http.deps import ServiceDep
from triaged.service import Service
from triaged.services.keys import Principal
from triaged.web.deps import WebSession
from triaged.web.pages import NOTICES, QUEUES, see_other, taxonomy_queues
from triaged.web.render import page
from triaged.web.session import check_csrf

__all__ = ["router"]

log = logging.getLogger("triaged.web")

router = APIRouter(include_in_schema=False)

MAX_KEYED_LABELS = 9
Filter = tuple[str | None, str | None]


def _filter(taxonomy: str | None, queue: str | None) -> Filter:
    return (taxonomy or None, queue if queue in QUEUES else None)


def _query(flt: Filter, **extra: str) -> str:
    params = {k: v for k, v in (("taxonomy", flt[0]), ("queue", flt[1])) if v}
    params.update(extra)
    return ("?" + urlencode(params)) if params else ""


def _held(service: Service, principal: Principal, flt: Filter) -> str | None:
    """The id of an item this reviewer already holds (a reload, a restarted browser)."""
    page_ = service.review.items(
        principal,
        taxonomy=flt[0],
        queue=flt[1],
        status="claimed",
        claimed_by=principal.key_id,
        limit=1,
    )
    items: list[dict[str, Any]] = page_["items"]
    return str(items[0]["id"]) if items else None


def _claim(service: Service, principal: Principal, flt: Filter) -> str | None:
    items = service.review.claim(principal, limit=1, taxonomy=flt[0], queue=flt[1])
    return str(items[0]["id"]) if items else None


def _go_next(service: Service, principal: Principal, flt: Filter, notice: str = "") -> Response:
    item_id = _held(service, principal, flt) or _claim(service, principal, flt)
    if item_id is None:
        return see_other("/ui/" + _query(flt, notice="empty"))
    extra = {"notice": notice} if notice else {}
    return see_other(f"/ui/review/{item_id}" + _query(flt, **extra))


@router.post("/ui/review/next")
def review_next(
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf_token)
    return _go_next(service, session.principal, _filter(taxonomy, queue))


def _label_options(item: dict[str, Any], labels: list[str]) -> list[dict[str, Any]]:
    """Model label first, then its alternatives, then the other labels; 1-9 keyed."""
    confidence = {item["label"]: item["confidence"]}
    for alt in item.get("alternatives") or []:
        confidence.setdefault(alt["label"], alt["confidence"])
    ordered = [item["label"], *(a["label"] for a in item.get("alternatives") or [])]
    ordered += [name for name in labels if name not in ordered]
    seen: set[str] = set()
    options: list[dict[str, Any]] = []
    for name in ordered:
        if name in seen or (name not in labels and name != item["label"]):
            continue
        seen.add(name)
        n = len(options) + 1
        options.append(
            {
                "name": name,
                "key": str(n) if n <= MAX_KEYED_LABELS else None,
                "confidence": confidence.get(name),
                "is_model": name == item["label"],
            }
        )
    return options


def _neighbors(service: Service, principal: Principal, item: dict[str, Any]) -> list[Any]:
    """The nearest labelled examples, from the taxonomy's active classifier (if any)."""
    try:
        result = service.classifier(principal, item["taxonomy"]).classify(
            item["text"], explain=True
        )
    except Exception:  # an untrained or unloadable model only loses the hint
        log.debug("no neighbours for %s", item["id"], exc_info=True)
        return []
    return list(result.neighbors)


@router.get("/ui/review/{item_id}", response_class=HTMLResponse)
def review_item(
    item_id: str,
    request: Request,
    session: WebSession,
    service: ServiceDep,
    taxonomy: str | None = None,
    queue: str | None = None,
    notice: str | None = None,
) -> Response:
    principal = session.principal
    flt = _filter(taxonomy, queue)
    try:
        item = service.review.item(principal, item_id)
    except NotFound as exc:
        return page(
            request, "error.html", {"message": exc.message}, status_code=404, session=session
        )
    mine = item["status"] == "claimed" and item["claimed_by"] == principal.key_id
    labels = [lb["name"] for lb in service.get_taxonomy(principal, item["taxonomy"])["labels"]]
    counts = taxonomy_queues(service, principal, item["taxonomy"])
    return page(
        request,
        "review.html",
        {
            "item": item,
            "mine": mine,
            "options": _label_options(item, labels),
            "neighbors": _neighbors(service, principal, item) if mine else [],
            "counts": counts,
            "filter_taxonomy": flt[0] or "",
            "filter_queue": flt[1] or "",
            "notice": NOTICES.get(notice or ""),
        },
        session=session,
    )


@router.post("/ui/review/{item_id}/resolve")
def review_resolve(
    item_id: str,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    new_label: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    """``action``: ``pick`` (with ``label``: confirm or correct), ``confirm``,
    ``new_category`` (with ``new_label``), ``ambiguous`` or ``out_of_scope`` (none of
    the labels fits)."""
    check_csrf(session, csrf_token)
    principal = session.principal
    flt = _filter(taxonomy, queue)
    kwargs: dict[str, Any] = {"action": action}
    if action == "pick":
        model_label = service.review.item(principal, item_id)["label"]
        kwargs = {"action": "confirm"} if label == model_label else {"action": "correct"}
        if label != model_label:
            kwargs["label"] = label
    elif action == "new_category":
        kwargs["new_label"] = new_label.strip()
    try:
        service.review.resolve(principal, item_id, **kwargs)
    except (Conflict, NotFound):
        return _go_next(service, principal, flt, notice="lost")
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        return see_other(f"/ui/review/{item_id}" + _query(flt, notice="invalid"))
    return _go_next(service, principal, flt, notice="saved")


@router.post("/ui/review/{item_id}/skip")
def review_skip(
    item_id: str,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    """Hand the item back and move on: claim the next one first, so it is not this one."""
    check_csrf(session, csrf_token)
    principal = session.principal
    flt = _filter(taxonomy, queue)
    next_id = _claim(service, principal, flt)
    with contextlib.suppress(Conflict, NotFound):  # a lease that ran out: back in the queue
        service.review.release(principal, item_id)
    if next_id is None:
        return see_other("/ui/" + _query(flt, notice="empty"))
    return see_other(f"/ui/review/{next_id}" + _query(flt))
