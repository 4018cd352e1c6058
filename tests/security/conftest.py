"""Fixtures for the security tests: the API stacks of tests/api (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.api.conftest import anyio_backend, stack, taxonomy_body, tenant
from tests.webhooks.conftest import env

__all__ = ["anyio_backend", "env", "stack", "taxonomy_body", "tenant"]
