"""A label whose name holds a ``/`` ("billing/refunds", a common way to write a sub-topic) can
be renamed and merged through its own routes, as every other name can: until 7 December the
taxonomy took such a label but ``POST .../labels/{label}/rename`` and ``.../merge`` answered
the router's bare 404 (the escaped ``%2F`` is a ``/`` again when the path is routed).  Over
real HTTP (uvicorn), with the SDK and with a hand-written URL."""

from __future__ import annotations

import httpx

from tests.servicekit import Stack, Tenant, live_server, unique
from triaged.client import Client

LABELS = [
    {"name": "billing/refunds", "examples": ["Please refund my order", "I want my money back"]},
    {"name": "billing/invoices", "examples": ["Send me the invoice", "The invoice is wrong"]},
    {"name": "a/b/c", "examples": ["The app crashes on start", "Error when I log in"]},
    {"name": "other", "examples": ["Where is your office?", "Do you sell gift cards?"]},
]


def test_labels_with_slashes_rename_and_merge(stack: Stack, tenant: Tenant) -> None:
    name = unique("slash")
    with live_server(stack.app) as srv, Client(srv.url, tenant.key) as sdk:
        sdk.create_taxonomy(name, LABELS)
        info = sdk.rename_label(name, "billing/refunds", "billing/returns")
        assert list(info.labels)[:2] == ["billing/returns", "billing/invoices"]
        info = sdk.merge_labels(name, "a/b/c", "other")
        assert list(info.labels) == ["billing/returns", "billing/invoices", "other"]
        auth = {"Authorization": f"Bearer {tenant.key}"}
        with httpx.Client(base_url=srv.url, headers=auth) as http:
            url = f"/v1/taxonomies/{name}/labels/billing%2Finvoices/rename"
            r = http.post(url, json={"name": "invoices"})
            assert r.status_code == 200, r.text
            r = http.post(f"/v1/taxonomies/{name}/labels/no%2Fsuch/merge", json={"into": "other"})
            assert r.status_code == 404, r.text
            assert r.json()["error"]["details"] == {"taxonomy": name, "label": "no/such"}
        stack.service.wait_for_jobs(120)
        assert list(sdk.taxonomy(name).labels) == [
            "billing/returns",
            "invoices",
            "other",
        ]
