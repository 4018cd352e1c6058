"""The dashboard: routing policy, bucket shares over time, reliability, label health,
insight cards, drift.

``/ui/dashboard?taxonomy=NAME&days=30`` renders from the decision log through the same
service methods as the API (``service.dashboard``); the charts are
server-rendered SVG (:mod:`triaged.web.charts`).  An admin can turn a gap cluster into
a label with one click: a new taxonomy version whose new label takes the cluster's
texts as examples (and retrains).

The routing panel shows the taxonomy's routing policy (``service.routing``: thresholds,
target, whether the auto lane is open and why, the bound and the evidence behind it)
and a what-if for other thresholds (``service.what_if``: predicted bucket shares and
the auto error with its interval over the dashboard's window), and its last policy
versions (``service.routing_versions``: how the lane moved, and who moved it).  The
what-if form works without script (``?auto=&review=``); ``static/dashboard.js`` updates
it live as the sliders move, from ``GET /ui/dashboard/what-if`` (JSON, signed-in session only).

The model panel (:mod:`triaged.web.model_panel`) shows the active model version, a
training in progress and the last versions; an admin retrains from it
(``POST /ui/dashboard/train``).  While a training runs, ``static/model_panel.js``
refreshes the panel from ``GET /ui/dashboard/model`` (the panel alone, as HTML).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from triaged.errors import TriagedError, Unauthenticated
from triaged.http.deps import ServiceDep
from triaged.service import Principal, Role, Service
from triaged.web import form_memory, model_panel, review_honesty
from triaged.web.charts import BUCKET_COLOURS, bucket_share_chart, reliability_chart
from triaged.web.deps import WebSession, web_session
from triaged.web.render import SECURITY_HEADERS, add_nav_link, error_page, page, redirect
from triaged.web.session import (
    Session,
    SignInRequired,
    check_csrf,
    message_params,
    read_message,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
add_nav_link("Dashboard", "/ui/dashboard")

MAX_DAYS = 365
HISTORY_ROWS = 5  # routing-policy versions the routing panel lists
NOTICES = {
    "label_created": "Label created: a new taxonomy version is training with its examples.",
    "labels_merged": "Labels merged: a new taxonomy version is training; the merged label's "
    "examples, reviews and decisions now count as the label it went into.",
    "label_renamed": "Label renamed: a new taxonomy version is training; its examples, reviews "
    "and decisions follow the new name.",
    "forbidden": "Only an admin can change the taxonomy.",
    **model_panel.NOTICES,
}


BACK = ("/ui/dashboard", "Back to the dashboard")


class BadParameter(ValueError):
    """A query parameter of the dashboard that cannot be read (shown on the error page)."""


def _days(raw: str | None) -> int:
    """``days``: a whole number from 1 to MAX_DAYS (default 30); any other is refused, as
    ``days=abc`` is (0 and 10**8 were quietly read as 1 and 365)."""
    if raw is None or not raw.strip():
        return 30
    try:
        days = int(raw.strip())
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise BadParameter(f"days must be a whole number from 1 to {MAX_DAYS}")
    return days


def _threshold(name: str, raw: str | None) -> float | None:
    """``auto`` / ``review``: a number from 0 to 1, or nothing (the policy's own)."""
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise BadParameter(f"{name} must be a number from 0 to 1")
    return value


def _what_if(
    service: Service,
    principal: Principal,
    taxonomy: str,
    *,
    auto: float,
    review: float,
    since: datetime,
) -> dict[str, Any]:
    """The service's what-if over ``[since, now)`` (review never above auto)."""
    review = min(review, auto)
    out: dict[str, Any] = service.what_if(
        principal, taxonomy, auto=auto, review=review, since=since
    )
    return out


def _routing_panel(
    service: Service,
    principal: Principal,
    taxonomy: str,
    *,
    since: datetime,
    auto: float | None,
    review: float | None,
) -> dict[str, Any]:
    """The routing policy and a what-if at ``auto``/``review`` (default: the policy's own)."""
    try:
        routing: dict[str, Any] = service.routing(principal, taxonomy)
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        return {"error": exc.message}
    # the last few policy versions, newest first (the same read as /routing: the roles match)
    routing["history"] = service.routing_versions(principal, taxonomy, limit=HISTORY_ROWS)
    current_auto = routing.get("auto")
    wi_auto = auto if auto is not None else (1.0 if current_auto is None else current_auto)
    wi_review = review if review is not None else float(routing["review"])
    try:
        what_if = _what_if(
            service, principal, taxonomy, auto=wi_auto, review=wi_review, since=since
        )
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        return {"routing": routing, "error": exc.message}
    return {"routing": routing, "what_if": what_if, "colours": BUCKET_COLOURS}


@router.get("/ui/dashboard/what-if")
def what_if(
    request: Request,
    service: ServiceDep,
    taxonomy: str,
    auto: Annotated[float, Query(ge=0.0, le=1.0)],
    review: Annotated[float, Query(ge=0.0, le=1.0)],
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30,
) -> JSONResponse:
    """The what-if of the routing panel as JSON, for the signed-in session (no API key)."""
    try:
        principal = web_session(request).principal
    except SignInRequired:
        return JSONResponse(
            Unauthenticated("sign in first").to_dict(),
            status_code=401,
            headers=SECURITY_HEADERS,
        )
    since = datetime.now(UTC) - timedelta(days=days)
    try:
        out = _what_if(service, principal, taxonomy, auto=auto, review=review, since=since)
    except TriagedError as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=SECURITY_HEADERS)
    return JSONResponse(out, headers=SECURITY_HEADERS)


@router.get("/ui/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    taxonomy: str | None = None,
    days: str | None = None,
    notice: str | None = None,
    auto: str | None = None,
    review: str | None = None,
) -> Response:
    """Query parameters are read here, not by FastAPI, so a bad one gets the error page."""
    try:
        n_days = _days(days)
        wi_auto, wi_review = _threshold("auto", auto), _threshold("review", review)
    except BadParameter as exc:
        return error_page(request, str(exc), status_code=400, session=session, back=BACK)
    return _dashboard(request, session, service, taxonomy, n_days, notice, wi_auto, wi_review)


def _dashboard(
    request: Request,
    session: Session,
    service: Service,
    taxonomy: str | None,
    days: int,
    notice: str | None,
    auto: float | None,
    review: float | None,
) -> Response:
    principal = session.principal
    names = [t["name"] for t in service.list_taxonomies(principal)]
    # a known notice, or a failure's message signed for this session (never text from a link)
    failed = read_message(session, request.query_params)
    message = NOTICES.get(notice or "") or (f"That did not work: {failed}" if failed else None)
    ctx: dict[str, Any] = {"taxonomies": names, "selected": None, "days": days, "notice": message}
    ctx["notice_failed"] = notice == "forbidden" or bool(failed and not NOTICES.get(notice or ""))
    if not names and not taxonomy:
        return page(request, "dashboard.html", ctx, session=session)
    if taxonomy and taxonomy not in names:  # a stale or mistyped link: say so (in an empty
        # workspace too, which showed "No taxonomies yet" as if the name were fine)
        return error_page(
            request,
            f"No taxonomy {taxonomy[:100]!r} in this workspace.",
            status_code=404,
            session=session,
            back=BACK,
        )
    name: str = taxonomy or names[0]
    now = datetime.now(UTC)
    since = now - timedelta(days=days)
    interval = "hour" if days <= 3 else "day" if days <= 90 else "week"
    data = service.dashboard(principal, name, since=since, interval=interval, now=now)
    ctx.update(
        selected=name,
        days=days,
        interval=interval,
        report=data["report"],
        series=data["series"],
        bucket_chart=bucket_share_chart(data["series"], interval=interval),
        has_decisions=any(int(p.get("total") or 0) for p in data["series"]),
        reliability=reliability_chart(data["reliability"]),
        n_judged=data["n_judged"],
        drift_now=data["drift_now"],
        drift_recorded=data["drift_recorded"],
        can_edit=principal.role is Role.ADMIN,
        label_names=_label_names(service, principal, name),
        panel=_routing_panel(service, principal, name, since=since, auto=auto, review=review),
        model=model_panel.model_panel(service, principal, name),
        **review_honesty.dashboard_context(
            service, principal, name, since=since, now=now, report=data["report"]
        ),
    )
    ctx["kept"] = form_memory.recall(request, session) if ctx["notice_failed"] else {}
    response = page(request, "dashboard.html", ctx, session=session)
    form_memory.forget(request, response, "/ui/dashboard")
    return response


@router.post("/ui/dashboard/labels")
def create_label(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    decision_ids: Annotated[str, Form()] = "",
) -> Response:
    """Add a label made from a gap cluster.  Its examples are the cluster's reviewed texts
    (inputs reviewers answered ``new_category``) when it has any: held inputs nobody has
    read may be off-topic.  A cluster of unreviewed inputs only gives all its texts."""
    check_csrf(session, csrf_token)  # first: a form without its token is refused (403)
    principal = session.principal
    ids = [d for d in decision_ids.split(",") if d][:500]
    try:
        principal.require(Role.ADMIN)  # a 403 page, as the other label forms give
        texts = service.decision_texts(principal, taxonomy, ids, proposed_only=True)
        texts = texts or service.decision_texts(principal, taxonomy, ids)
        current = service.get_taxonomy(principal, taxonomy)
    except TriagedError as exc:  # not an admin, an unknown taxonomy: the error page
        if exc.status >= 500:
            raise
        return error_page(request, exc.message, status_code=exc.status, session=session, back=BACK)
    if not texts:  # no (known) decision ids: a label with no example cannot be trained
        failure = "none of the given inputs were found; pick the cluster's inputs again"
        return _back(session, taxonomy, failure=failure)
    labels = [{"name": lb["name"], "description": lb["description"]} for lb in current["labels"]]
    labels.append(
        {"name": label.strip(), "description": description.strip(), "examples": sorted(set(texts))}
    )
    try:
        service.update_taxonomy(principal, taxonomy, {"labels": labels})
    except TriagedError as exc:
        kept = {"form": "gap", "cluster": ids[0], "label": label[:100]}
        return _back(session, taxonomy, failure=exc.message, kept=(request, kept))
    return _back(session, taxonomy, notice="label_created")


def _label_names(service: Service, principal: Principal, taxonomy: str) -> list[str]:
    """The taxonomy's current labels, for an admin's Rename label form (none for others)."""
    if principal.role is not Role.ADMIN:
        return []
    return [lb["name"] for lb in service.get_taxonomy(principal, taxonomy)["labels"]]


@router.post("/ui/dashboard/rename-label")
def rename_label(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    new_name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Rename a label (admin), as ``POST /v1/taxonomies/{name}/labels/{label}/rename``
    does: a new version, retrained, the label's examples, reviews and decisions following
    the new name.  An empty description keeps the label's own."""
    check_csrf(session, csrf_token)  # first: a form without its token is refused (403)
    principal = session.principal

    def rename() -> None:
        service.rename_label(
            principal, taxonomy, label, new_name.strip(), description.strip() or None
        )

    kept = {"form": "rename", "label": label, "new_name": new_name, "description": description}
    return _edit_labels(request, session, taxonomy, rename, "label_renamed", kept)


@router.post("/ui/dashboard/merge-label")
def merge_label(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    into: Annotated[str, Form()] = "",
) -> Response:
    """Merge a label into another (admin), as ``POST /v1/taxonomies/{name}/labels/{label}/
    merge`` does: the overlap cards whose suggested action is ``merge`` offer it."""
    check_csrf(session, csrf_token)  # first: a form without its token is refused (403)
    principal = session.principal

    def merge() -> None:
        service.merge_labels(principal, taxonomy, label, into)

    return _edit_labels(request, session, taxonomy, merge, "labels_merged")


def _edit_labels(
    request: Request,
    session: Session,
    taxonomy: str,
    edit: Callable[[], None],
    notice: str,
    kept: dict[str, str] | None = None,
) -> Response:
    """Run a label edit of the admin forms: back to the dashboard with ``notice``; not an
    admin or an unknown taxonomy: the error page; a label gone meanwhile, a name taken or
    refused: back to the dashboard's form, which says why and shows what was typed (``kept``)."""
    try:
        session.principal.require(Role.ADMIN)  # before the form is read: a reviewer gets 403
        edit()
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        if exc.status == 403 or (exc.status == 404 and "label" not in exc.details):
            return error_page(
                request, exc.message, status_code=exc.status, session=session, back=BACK
            )
        return _back(session, taxonomy, failure=exc.message, kept=(request, kept or {}))
    return _back(session, taxonomy, notice=notice)


def _back(
    session: Session,
    taxonomy: str,
    *,
    notice: str | None = None,
    failure: str | None = None,
    kept: tuple[Request, dict[str, str]] | None = None,
) -> Response:
    """To the taxonomy's dashboard (303) with a known ``notice`` or a ``failure`` message
    signed for this session; ``kept``: the refused form's values, shown in it again (kept
    out of the address, :mod:`~triaged.web.form_memory`), at the form (until 7 December the
    form came back empty, 2,500 px below the message)."""
    target = "/ui/dashboard?" + urlencode({"taxonomy": taxonomy})
    if failure is None:
        return redirect(f"{target}&" + urlencode({"notice": notice or ""}))
    url = f"{target}&" + urlencode(message_params(session, failure))
    if not kept or not kept[1]:
        return redirect(url)
    request, values = kept
    anchor = "rename-label" if values.get("form") == "rename" else f"gap-{values.get('cluster')}"
    response = redirect(f"{url}#{anchor}")
    form_memory.keep(request, response, session, "/ui/dashboard", values)
    return response


@router.get("/ui/dashboard/model", response_class=HTMLResponse)
def model(request: Request, session: WebSession, service: ServiceDep, taxonomy: str) -> Response:
    """The model panel alone (an HTML fragment), for its refresh while a training runs."""
    principal = session.principal
    panel = model_panel.model_panel(service, principal, taxonomy)
    if panel.get("status") == 404:  # an unknown (or deleted) taxonomy: no panel to refresh
        return error_page(request, panel["error"], status_code=404, session=session, back=BACK)
    ctx = {"selected": taxonomy, "can_edit": principal.role is Role.ADMIN, "model": panel}
    return page(request, "model_panel.html", ctx, session=session)


@router.post("/ui/dashboard/train")
def train(
    request: Request,
    session: WebSession,
    service: ServiceDep,
    csrf_token: Annotated[str, Form()] = "",
    taxonomy: Annotated[str, Form()] = "",
) -> Response:
    """Retrain the taxonomy's model now (admin), as ``POST /v1/taxonomies/{name}/train``
    does; back to the dashboard with a notice (a training already running is one)."""
    check_csrf(session, csrf_token)  # first: a form without its token is refused (403)
    try:
        notice = model_panel.retrain(service, session.principal, taxonomy)
    except TriagedError as exc:
        if exc.status >= 500:
            raise
        if exc.status in (403, 404):  # not an admin, an unknown taxonomy: the error page
            return error_page(
                request, exc.message, status_code=exc.status, session=session, back=BACK
            )
        return _back(session, taxonomy, failure=exc.message)
    return _back(session, taxonomy, notice=notice)
