"""The review screen and its next-item flow; every action calls ``service.review``.

``POST /ui/review/next`` resumes the item the reviewer already holds or claims
the next one (``hold`` first, oldest first) and redirects to it.  Resolving or
skipping redirects straight to the next item, so a reviewer can work through a
queue with the keyboard alone.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from triaged.errors import Conflict, NotFound, TriagedError
from triaged.http.deps import ServiceDep
from triaged.service import Principal, Service
from triaged.web import form_memory
from triaged.web.deps import WebSession
from triaged.web.pages import NOTICES, QUEUES, REFUSALS, see_other, taxonomy_queues
from triaged.web.render import error_page, page
from triaged.web.session import check_csrf, read_signed, signed_params

__all__ = ["router"]

log = logging.getLogger("triaged.web")

router = APIRouter(include_in_schema=False)

TOP_KEYS = 5  # keys 1-5: the model's top labels; nothing else is bound to a digit
REVIEW_NOTICES = {
    **NOTICES,
    "reopened": "Reopened: your earlier answer is taken back; answer again.",
    "nothing_to_undo": "Nothing to undo: no answer of yours inside the reopen window.",
    "reopen_refused": "That answer can no longer be reopened.",
    "label_gone": (
        "The model's label is no longer in the taxonomy, so it cannot be confirmed: "
        "pick another label, None fits, or propose a new category."
    ),
}
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
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf_token)
    try:
        return _go_next(service, session.principal, _filter(taxonomy, queue))
    except TriagedError as exc:  # an unknown or archived taxonomy: a page, not API JSON
        if exc.status >= 500:
            raise
        return error_page(request, exc.message, status_code=exc.status, session=session)


def _named_now(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as the reviewer reads it: its label and runner-ups under the names the
    taxonomy gives them now (``label_was``: the name the decision was made under, when it
    was renamed or merged since); a label removed since keeps its name."""
    label = item.get("label_now") or item["label"]
    alternatives = [
        {**a, "label": a.get("label_now") or a["label"]} for a in item.get("alternatives") or []
    ]
    was = item["label"] if label != item["label"] else None
    return {**item, "label": label, "alternatives": alternatives, "label_was": was}


def _top_labels(
    item: dict[str, Any], labels: dict[str, str], n: int = TOP_KEYS
) -> list[dict[str, Any]]:
    """The model's label and its next alternatives, keyed 1..n (only labels that exist)."""
    confidence = {item["label"]: item["confidence"]}
    for alt in item.get("alternatives") or []:
        confidence.setdefault(alt["label"], alt["confidence"])
    ordered = [item["label"], *(a["label"] for a in item.get("alternatives") or [])]
    top: list[dict[str, Any]] = []
    for name in dict.fromkeys(ordered):
        if name not in labels or len(top) >= n:
            continue
        top.append(
            {
                "name": name,
                "key": str(len(top) + 1),
                "confidence": confidence.get(name),
                "description": labels[name],
                "is_model": name == item["label"],
            }
        )
    return top


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
        item = _named_now(service.review.item(principal, item_id))
    except NotFound as exc:
        return page(
            request, "error.html", {"message": exc.message}, status_code=404, session=session
        )
    mine = item["status"] == "claimed" and item["claimed_by"] == principal.key_id
    tax = service.get_taxonomy(principal, item["taxonomy"])
    labels = {lb["name"]: lb.get("description") or "" for lb in tax["labels"]}
    # blind review: an answer shows only once the item is resolved (or to whoever gave it)
    resolved = item["status"] == "resolved"
    yours = (
        not resolved
        and item.get("resolved_by") == principal.key_id
        and item.get("review_round") in (2, 3)
    )
    settings = service.desk.settings(principal, item["taxonomy"])
    kept = form_memory.recall(request, session)  # what a refused answer carried back
    response = page(
        request,
        "review.html",
        {
            "item": item,
            "mine": mine,
            "resolved": resolved,
            "your_answer": yours,
            "label_gone": item["label"] not in labels,
            "top": _top_labels(item, labels),
            "all_labels": [{"name": k, "description": v} for k, v in sorted(labels.items())],
            "guidelines": settings["guidelines"],
            "earlier": (
                service.desk.earlier_answers(principal, item_id)
                if mine and item.get("review_round") == 3
                else []
            ),
            "can_reopen": not mine and _can_reopen(item, principal, settings),
            "progress": service.desk.progress(principal, taxonomy=item["taxonomy"]),
            "neighbors": _neighbors(service, principal, item) if mine else [],
            "counts": taxonomy_queues(service, principal, item["taxonomy"]),
            "filter_taxonomy": flt[0] or "",
            "filter_queue": flt[1] or "",
            "notice": _notice(notice, read_signed(session, request.query_params, "error")),
            "notice_failed": notice in REFUSALS,
            "note": form_memory.text(kept, "note", 2000),
            "new_label": form_memory.text(kept, "new_label", 100),
        },
        session=session,
    )
    form_memory.forget(request, response, _path(item_id))
    return response


def _path(item_id: str) -> str:
    """The review page of ``item_id`` (the path its kept form values are scoped to)."""
    return f"/ui/review/{quote(item_id, safe='')}"


def _notice(code: str | None, error: str | None) -> str | None:
    """The line above the item: a known notice, or why an answer was refused."""
    if code == "invalid" and error:
        return f"That answer was not saved: {error}"
    return REVIEW_NOTICES.get(code or "")


def _can_reopen(item: dict[str, Any], principal: Principal, settings: dict[str, Any]) -> bool:
    """Whether the reopen button makes sense: your answer, inside the window (the API
    has the last word)."""
    if item.get("resolved_by") != principal.key_id or not item.get("resolved_at"):
        return False
    then = datetime.fromisoformat(item["resolved_at"])
    age = (datetime.now(UTC) - then).total_seconds()
    return age <= float(settings["reopen_window_seconds"])


def _answer(choice: str, model_label: str, new_label: str) -> dict[str, Any]:
    """The resolve arguments of a button's ``choice``: ``label:NAME`` (confirm when it is
    the model's label, else correct), ``confirm``, ``ambiguous``, ``out_of_scope`` or
    ``new_category`` (with ``new_label``)."""
    if choice.startswith("label:"):
        name = choice.removeprefix("label:")
        return (
            {"action": "confirm"} if name == model_label else {"action": "correct", "label": name}
        )
    if choice == "new_category":
        return {"action": "new_category", "new_label": new_label.strip()}
    return {"action": choice}


@router.post("/ui/review/{item_id}/resolve")
def review_resolve(
    item_id: str,
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    choice: Annotated[str, Form()] = "",
    new_label: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    """One form for every answer (so the comment goes with any of them)."""
    check_csrf(session, csrf_token)
    principal = session.principal
    flt = _filter(taxonomy, queue)
    kwargs: dict[str, Any] = {}
    try:
        model_label = _named_now(service.review.item(principal, item_id))["label"]
        kwargs = _answer(choice, model_label, new_label)
        service.review.resolve(principal, item_id, note=note.strip() or None, **kwargs)
    except (Conflict, NotFound):
        return _go_next(service, principal, flt, notice="lost")
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        notice = "invalid"
        if kwargs.get("action") == "confirm" and _label_gone(service, principal, item_id):
            notice = "label_gone"
        # what was wrong (signed for this session, so that no link can put words on the
        # page), and the comment typed, in a cookie of this page: not in the address
        said = signed_params(session, error=exc.message[:300])
        response = see_other(_path(item_id) + _query(flt, notice=notice, **said))
        typed = {"note": note[:2000], "new_label": new_label[:100]}
        if choice != "new_category":  # a name typed but not proposed is not kept
            typed.pop("new_label")
        form_memory.keep(request, response, session, _path(item_id), typed)
        return response
    return _go_next(service, principal, flt, notice="saved")


def _label_gone(service: Service, principal: Principal, item_id: str) -> bool:
    """Whether the model's label of the item was removed from its taxonomy since."""
    return service.review.item(principal, item_id).get("label_now", "") is None


@router.post("/ui/review/undo")
def review_undo(
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    current: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    """``u``: reopen your most recent answer (the item you are on stays yours)."""
    check_csrf(session, csrf_token)
    principal = session.principal
    flt = _filter(taxonomy, queue)
    item_id = service.desk.last_reopenable(principal, taxonomy=flt[0])
    back = f"/ui/review/{current}" if current else "/ui/"
    if item_id is None:
        return see_other(back + _query(flt, notice="nothing_to_undo"))
    try:
        service.desk.reopen(principal, item_id)
    except (Conflict, NotFound):
        return see_other(back + _query(flt, notice="reopen_refused"))
    return see_other(f"/ui/review/{item_id}" + _query(flt, notice="reopened"))


@router.post("/ui/review/{item_id}/reopen")
def review_reopen(
    item_id: str,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    queue: Annotated[str, Form()] = "",
) -> Response:
    """Reopen this item (your answer, inside the window) and answer it again."""
    check_csrf(session, csrf_token)
    flt = _filter(taxonomy, queue)
    try:
        service.desk.reopen(session.principal, item_id)
    except (Conflict, NotFound):
        return see_other(f"/ui/review/{item_id}" + _query(flt, notice="reopen_refused"))
    return see_other(f"/ui/review/{item_id}" + _query(flt, notice="reopened"))


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
    released = False
    with contextlib.suppress(Conflict, NotFound):  # a lease that ran out: back in the queue
        service.review.release(principal, item_id)
        released = True
    if next_id is None:
        # nothing else to claim: the item just handed back is all that is left
        return see_other("/ui/" + _query(flt, notice="skipped_last" if released else "empty"))
    return see_other(f"/ui/review/{next_id}" + _query(flt))
