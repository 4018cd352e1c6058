"""GET /metrics needs a token by default: generated and printed at first start."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.web.seed import seed
from triaged.api import create_app
from triaged.cli import app as cli
from triaged.service import Service


def test_metrics_need_the_generated_token(tmp_path, capsys):
    s = seed(tmp_path, texts=["hello there"])
    try:
        with TestClient(create_app(service=s.service)) as client:
            first = capsys.readouterr().out
            token = re.search(r"\b(trm_[A-Za-z0-9_-]+)", first).group(1)
            assert client.get("/metrics").status_code == 401
            r = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
            r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and "triaged_decisions" in r.text
        # printed once: a restart does not show it again, and it still works
        again = Service(s.service.settings)
        try:
            with TestClient(create_app(service=again)) as client:
                assert "trm_" not in capsys.readouterr().out
                r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200
        finally:
            again.close()
        url = s.service.settings.resolved_database_url
        rotated = CliRunner().invoke(cli, ["metrics-token", "--rotate", "--database-url", url])
        assert rotated.exit_code == 0, rotated.output
        new = rotated.output.strip()
        with TestClient(create_app(service=s.service)) as client:
            old = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert old.status_code == 401
            r = client.get("/metrics", headers={"Authorization": f"Bearer {new}"})
            assert r.status_code == 200
    finally:
        s.service.close()


def test_metrics_public_only_when_the_operator_says_so(tmp_path):
    s = seed(tmp_path, texts=["hello there"])
    public = Service(s.service.settings.with_overrides(metrics_public=True))
    try:
        with TestClient(create_app(service=public)) as client:
            assert client.get("/metrics").status_code == 200
        with TestClient(create_app(service=s.service)) as client:
            assert client.get("/metrics").status_code == 401
    finally:
        public.close()
        s.service.close()
