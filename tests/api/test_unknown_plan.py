"""A workspace on a plan the server no longer defines (the operator removed it from
TRIAGED_PLANS): its requests are the server's fault, a 500 that names the plan and the
fix, not a 400 ``unknown plan`` blaming the caller; the start logs the workspaces."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.servicekit import TINY_TAXONOMY
from triaged.api import create_app
from triaged.service import Service
from triaged.settings import PlanSpec, Settings


def test_a_plan_removed_from_the_settings_is_a_500_that_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with_pro = Settings(
        data_dir=tmp_path, bootstrap_admin=False, plans={"pro": PlanSpec(monthly_quota=10_000)}
    )
    first = Service(with_pro)
    first.start()
    admin = first.create_key("acme", "admin", create_plan="pro").key or ""
    first.create_taxonomy(first.authenticate(admin), TINY_TAXONOMY)
    first.wait_for_jobs(120)
    first.close()

    without = Service(Settings(data_dir=tmp_path, bootstrap_admin=False))
    with caplog.at_level(logging.ERROR, logger="triaged.service"):
        without.start()
    assert "1 workspace(s) are on plan 'pro'" in caplog.text
    with TestClient(create_app(service=without)) as client:
        client.headers["Authorization"] = f"Bearer {admin}"
        for method, path, body in [
            ("POST", "/v1/classify", {"taxonomy": "support", "text": "charged twice"}),
            ("GET", "/v1/usage", None),
            ("GET", "/v1/workspace", None),
        ]:
            r = client.request(method, path, json=body)
            assert r.status_code == 500, (path, r.text)
            error = r.json()["error"]
            assert "plan 'pro' is not configured on the server" in error["message"]
            assert error["details"] == {"plan": "pro"}
        r = client.get("/v1/taxonomies")  # what does not read the plan still works
        assert r.status_code == 200
    without.close()
