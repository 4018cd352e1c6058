"""Repeated examples (real exports repeat tickets) through the API: a copy counts once, so
it cannot vouch for itself in the held-out evidence the auto lane is certified from."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.servicekit import Stack, Tenant, unique

pytestmark = pytest.mark.anyio

EXAMPLES = {
    "billing": [
        "I was charged twice this month",
        "Please refund my last payment",
        "My invoice shows the wrong amount",
        "why was my card billed again",
        "cancel the charge on my statement",
        "I need a receipt for my order",
    ],
    "shipping": [
        "where is my package",
        "the tracking number does not work",
        "my delivery is late",
        "the parcel arrived damaged",
        "change my shipping address",
        "the courier lost my box",
    ],
    "account": [
        "I cannot log in",
        "reset my password please",
        "change my email address",
        "the two factor code never arrives",
        "delete my account",
        "my account is locked",
    ],
}


async def _trained(c: httpx.AsyncClient, copies: int) -> str:
    name = unique("dup")
    examples = [
        # the copies differ in case and spacing only, as exported tickets do
        {"text": text.upper() if k % 2 else f" {text}  ", "label": label}
        for label, texts in EXAMPLES.items()
        for text in texts
        for k in range(copies)
    ]
    body = {"name": name, "labels": [{"name": label} for label in EXAMPLES]}
    r = await c.post("/v1/taxonomies", json=body)
    assert r.status_code == 201, r.text
    r = await c.post(f"/v1/taxonomies/{name}/examples", json={"examples": examples})
    assert r.status_code == 200, r.text
    r = await c.post(f"/v1/taxonomies/{name}/train", json={"wait": True})
    assert r.status_code == 200 and r.json()["status"] == "ready", r.text
    return name


async def _get(c: httpx.AsyncClient, url: str) -> dict[str, Any]:
    r = await c.get(url)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def _evaluate(c: httpx.AsyncClient, name: str) -> dict[str, Any]:
    r = await c.post(f"/v1/taxonomies/{name}/evaluate", json={"holdout": 0.34, "seed": 1})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_repeated_examples_do_not_add_held_out_evidence(stack: Stack, tenant: Tenant) -> None:
    async with stack.client(tenant.key) as c:
        once_name, thrice_name = await _trained(c, 1), await _trained(c, 3)
        once = await _get(c, f"/v1/taxonomies/{once_name}/routing")
        thrice = await _get(c, f"/v1/taxonomies/{thrice_name}/routing")
        held_once = await _evaluate(c, once_name)
        held_thrice = await _evaluate(c, thrice_name)
    # with each example three times, 54 held-out rows vouched for their own copies
    # (all right, confidence near 1) where 18 distinct ones stand
    assert "of 18 held-out items" in once["reason"], once["reason"]
    for key in ("auto", "review", "reason", "bound"):
        assert thrice[key] == once[key], (key, thrice[key], once[key])
    # an evaluation on held-out examples holds out distinct ones: a copy left in training
    # scored its twin (18 of 54 held out, 6 of 18 distinct ones)
    assert held_thrice["n_test"] == held_once["n_test"] == 6, (held_thrice, held_once)
    assert held_thrice["accuracy"] == held_once["accuracy"]
