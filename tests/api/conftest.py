"""Fixtures for the API tests: a real stack per backend (SQLite file, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.servicekit import BACKENDS, TINY_TAXONOMY, Stack, Tenant, make_stack, pg_database


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'triaged.db'}"
        s = make_stack("sqlite", url)
        yield s
        s.service.close()
        return
    with pg_database() as url:
        s = make_stack("postgres", url)
        yield s
        s.service.close()


@pytest.fixture
def tenant(stack: Stack) -> Tenant:
    return stack.tenant("unlimited")


@pytest.fixture
def taxonomy_body() -> dict[str, Any]:
    return {**TINY_TAXONOMY}
