"""OpenAPI is published and documents the contract routes."""

from __future__ import annotations

import pytest

from tests.servicekit import Stack

pytestmark = pytest.mark.anyio


async def test_openapi_and_docs(stack: Stack):
    async with stack.client() as c:
        spec = (await c.get("/openapi.json")).json()
        for path in (
            "/v1/classify",
            "/v1/classify/batch",
            "/v1/taxonomies",
            "/v1/decisions/{decision_id}",
            "/v1/usage",
        ):
            assert path in spec["paths"], path
        assert (await c.get("/docs")).status_code == 200
        assert (await c.get("/healthz")).json()["status"] == "ok"
