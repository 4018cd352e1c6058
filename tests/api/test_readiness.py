"""Liveness and readiness over a real HTTP server: GET and HEAD on /healthz and /readyz;
when the database goes away (here: a PostgreSQL database dropped under the running
server) /readyz and every request that needs it answer 503 ``unavailable`` with
Retry-After, while /healthz still answers (the process is alive: do not restart it)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.servicekit import _pg_admin_engine, live_server, make_settings, pg_database
from triaged import __version__
from triaged.api import create_app
from triaged.service import Service
from triaged.settings import Settings


def test_health_and_readiness_answer_get_and_head(tmp_path: Path) -> None:
    service = Service(Settings(data_dir=tmp_path, bootstrap_admin=False))
    with live_server(create_app(service=service)) as srv:
        for path in ("/healthz", "/readyz"):
            head = httpx.head(srv.url + path)
            assert head.status_code == 200 and head.content == b""
        assert httpx.get(srv.url + "/readyz", timeout=60).json() == {
            "status": "ready",
            "database": "ok",
            "version": __version__,
        }
    service.close()


@pytest.mark.postgres
def test_a_database_that_goes_away_is_503_unavailable_not_500() -> None:
    with pg_database() as url:
        service = Service(make_settings(url))
        service.start()
        key = service.create_key("acme", "client", create_plan="unlimited").key
        with live_server(create_app(service=service)) as srv:
            assert httpx.get(srv.url + "/readyz", timeout=60).status_code == 200
            name = url.rsplit("/", 1)[1]
            admin = _pg_admin_engine()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
            r = httpx.get(srv.url + "/readyz", timeout=60)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "unavailable"
            assert r.headers["Retry-After"] == "1"  # as every other 503 (it had none)
            r = httpx.post(
                srv.url + "/v1/classify",
                json={"taxonomy": "support", "text": "I was charged twice"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "unavailable"
            assert r.headers["Retry-After"] == "1"
            assert httpx.get(srv.url + "/healthz", timeout=60).status_code == 200
        service.close()


@pytest.mark.postgres
def test_readiness_logs_an_outage_once_not_at_every_probe(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A load balancer asks /readyz every few seconds: an outage is one error line when it
    starts and one line when it ends, not an error per probe (it wrote one per answer)."""
    with pg_database() as url:
        service = Service(make_settings(url))
        service.start()
        with live_server(create_app(service=service)) as srv:
            name = url.rsplit("/", 1)[1]
            admin = _pg_admin_engine()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            caplog.clear()
            with caplog.at_level("INFO"):
                for _ in range(4):
                    r = httpx.get(srv.url + "/readyz", timeout=60)
                    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                assert httpx.get(srv.url + "/readyz", timeout=60).status_code == 200
                assert httpx.get(srv.url + "/readyz", timeout=60).status_code == 200
            admin.dispose()
            lines = [(r.levelname, r.getMessage()) for r in caplog.records]
            down = [m for lvl, m in lines if "not ready" in m]
            assert down == ["not ready: the database cannot be reached (OperationalError)"], lines
            assert [m for _, m in lines if "ready again" in m] == [
                "ready again: the database answers"
            ], lines
            assert not [m for _, m in lines if m.startswith("unavailable:")], lines
        service.close()
