"""Webhooks of the caller's workspace (admin): register (secret shown once), list, change,
rotate the secret, send a test event, delete, log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from triaged.api.deps import PrincipalDep, ServiceDep
from triaged.api.paging import Cursor, Limit, Page, decode_cursor, envelope, page_of
from triaged.api.schemas import SafeIn

router = APIRouter(tags=["webhooks"])

EventType = Literal[
    "decision.resolved",
    "decision.corrected",
    "decision.reopened",
    "decision.withdrawn",
    "alert.drift",
    "alert.auto_lane",
]
DeliveryStatus = Literal["pending", "delivering", "delivered", "failed", "cancelled"]


class WebhookCreate(SafeIn):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://",
        description="http(s) URL of a public address, without credentials (see Security).",
    )
    events: list[EventType] = Field(min_length=1)
    description: str = Field(default="", max_length=200)


class WebhookUpdate(SafeIn):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://",
        description="New URL, checked as at creation; pending deliveries go to it.",
    )
    events: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=200)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: str
    previous_secret_expires_at: str | None = Field(
        default=None,
        description="After a rotation: until then the old secret signs each delivery too.",
    )


class RotateSecret(SafeIn):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: float = Field(
        default=24.0,
        ge=0.0,
        le=168.0,
        description="How long the old secret keeps signing beside the new one (0: stop now).",
    )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown in this response only.")


class WebhookList(Page[WebhookOut]):
    """The workspace's webhook endpoints, oldest first."""


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    finished_at: str | None


class DeliveryList(Page[DeliveryOut]):
    """Deliveries to one endpoint, newest first."""


class AttemptOut(BaseModel):
    n: int = Field(description="Place among all of the delivery's tries (1, 2, ...).")
    round: int = Field(description="1, then one more per manual retry of the delivery.")
    attempt: int = Field(description="Try number within its round (from 1 again after a retry).")
    started_at: str
    duration_ms: float
    status_code: int | None
    error: str | None
    response_excerpt: str | None


class AttemptList(Page[AttemptOut]):
    """Every try of one delivery, first try first."""


@router.post("/webhooks", response_model=WebhookCreated, status_code=201)
def create_webhook(body: WebhookCreate, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Register an endpoint for some event types; the signing secret is in this response only."""
    endpoint = service.create_webhook(principal, body.url, list(body.events), body.description)
    return endpoint.to_dict()


@router.get("/webhooks", response_model=WebhookList)
def list_webhooks(
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """List the workspace's endpoints (never their secrets), a page at a time."""
    hooks = [e.to_dict() for e in service.list_webhooks(principal)]
    hooks.sort(key=lambda h: h["id"])
    return page_of("webhooks", hooks, lambda h: str(h["id"]), limit, cursor)


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """One endpoint."""
    return service.get_webhook(principal, webhook_id).to_dict()


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
def update_webhook(
    webhook_id: str, body: WebhookUpdate, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """Change an endpoint's URL, event types or description (the secret stays)."""
    events = [str(e) for e in body.events] if body.events is not None else None
    return service.update_webhook(
        principal, webhook_id, url=body.url, events=events, description=body.description
    ).to_dict()


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookCreated)
def rotate_webhook_secret(
    webhook_id: str,
    principal: PrincipalDep,
    service: ServiceDep,
    body: RotateSecret | None = None,
) -> Any:
    """A new signing secret, in this response only.  Deliveries carry a signature by each
    secret until ``previous_secret_expires_at`` (``overlap_hours``, default 24), then by
    the new one alone: switch the receiver within the window."""
    hours = body.overlap_hours if body is not None else 24.0
    return service.rotate_webhook_secret(principal, webhook_id, overlap_hours=hours).to_dict()


@router.post("/webhooks/{webhook_id}/test", response_model=DeliveryOut, status_code=202)
def test_webhook(webhook_id: str, principal: PrincipalDep, service: ServiceDep) -> Any:
    """Send a signed ``webhook.test`` event to this endpoint only; the answer is its
    delivery (follow it in the deliveries and attempts logs)."""
    return service.test_webhook(principal, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, principal: PrincipalDep, service: ServiceDep) -> Response:
    """Stop sending to an endpoint; undelivered events to it are cancelled."""
    service.delete_webhook(principal, webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    webhook_id: str,
    principal: PrincipalDep,
    service: ServiceDep,
    status: Annotated[
        DeliveryStatus | None, Query(description="Only deliveries in this state.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    """Deliveries to an endpoint, newest first, a page at a time."""
    page_size, position = limit, decode_cursor(f"deliveries:{webhook_id}", cursor, kind=str)
    before = None if position is None else str(position)
    limit = page_size + 1  # one more than a page: is there a next one?
    rows = service.webhook_deliveries(
        principal, webhook_id, status=status, limit=limit, before=before
    )
    more = len(rows) > page_size
    return envelope(
        f"deliveries:{webhook_id}", rows[:page_size], rows[page_size - 1]["id"] if more else None
    )


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}/attempts", response_model=AttemptList)
def list_attempts(
    webhook_id: str,
    delivery_id: str,
    principal: PrincipalDep,
    service: ServiceDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    """Every try of one delivery: status code, error and duration."""
    rows = service.delivery_attempts(principal, webhook_id, delivery_id)  # first try first
    return page_of(f"attempts:{delivery_id}", rows, lambda a: int(a["n"]), limit, cursor)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", response_model=DeliveryOut)
def retry_delivery(
    webhook_id: str, delivery_id: str, principal: PrincipalDep, service: ServiceDep
) -> Any:
    """Send a failed (or cancelled) delivery again now, with a fresh budget of attempts."""
    return service.retry_delivery(principal, webhook_id, delivery_id)
