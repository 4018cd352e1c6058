"""The SDK's operations on one webhook endpoint's log (the endpoint, its deliveries, a
delivery's tries, a retry) and on the agreement between reviewers.  Like
:mod:`triaged.client._ops`, each builds the request once for both clients."""

from __future__ import annotations

from triaged.client._http import Call, seg
from triaged.client._ops import Op, _some, page
from triaged.client.pages import Page
from triaged.client.review_results import ReviewAgreement
from triaged.client.webhook_results import Webhook, WebhookAttempt, WebhookDelivery

__all__ = ["attempts_page", "deliveries", "retry_delivery", "review_agreement", "webhook"]


def _hook(webhook_id: str, rest: str = "") -> str:
    return f"/v1/webhooks/{seg(webhook_id)}{rest}"


def webhook(webhook_id: str) -> Op[Webhook]:
    return Op(Call("GET", _hook(webhook_id)), Webhook.from_dict)


def deliveries(
    webhook_id: str, status: str | None, cursor: str | None, limit: int
) -> Op[Page[WebhookDelivery]]:
    params = _some(status=status, limit=limit, cursor=cursor or None)
    call = Call("GET", _hook(webhook_id, "/deliveries"), params=params)
    return Op(call, lambda data: Page.read(data, WebhookDelivery.from_dict))


def attempts_page(
    webhook_id: str, delivery_id: str, cursor: str | None
) -> Op[Page[WebhookAttempt]]:
    path = _hook(webhook_id, f"/deliveries/{seg(delivery_id)}/attempts")
    return page(path, WebhookAttempt.from_dict, cursor)


def retry_delivery(webhook_id: str, delivery_id: str) -> Op[WebhookDelivery]:
    path = _hook(webhook_id, f"/deliveries/{seg(delivery_id)}/retry")
    return Op(Call("POST", path), WebhookDelivery.from_dict)


def review_agreement(taxonomy: str | None) -> Op[ReviewAgreement]:
    params = _some(taxonomy=taxonomy) or None
    return Op(Call("GET", "/v1/review/agreement", params=params), ReviewAgreement.from_dict)
