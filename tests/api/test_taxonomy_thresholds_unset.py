"""A taxonomy shows the thresholds its definition sets, and null for those it does not:
until 6 December every taxonomy showed auto 0.85 / review 0.60 (the defaults) as if asked
for, while classify routed by the routing policy (auto certified elsewhere, or closed).
What a user sets is what they read back (API, SDK, the stored version, a stored database
from before, via its migration); ``routing`` says where the policy lives.  Over real HTTP
(uvicorn), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from alembic import command

from tests.servicekit import (
    BACKENDS,
    TINY_TAXONOMY,
    Stack,
    Tenant,
    live_server,
    make_settings,
    pg_database,
    unique,
)
from triaged.client import Client
from triaged.service import Service
from triaged.storage import upgrade
from triaged.storage.migrate import alembic_config

LABELS = TINY_TAXONOMY["labels"]


@pytest.fixture
def http(stack: Stack, tenant: Tenant) -> Iterator[httpx.Client]:
    auth = {"Authorization": f"Bearer {tenant.key}"}
    with (
        live_server(stack.app) as srv,
        httpx.Client(base_url=srv.url, headers=auth, timeout=120) as client,
    ):
        yield client


def _create(http: httpx.Client, stack: Stack, name: str, **extra: object) -> None:
    r = http.post("/v1/taxonomies", json={"name": name, "labels": LABELS, **extra})
    assert r.status_code == 201, r.text
    stack.service.wait_for_jobs(120)


def test_thresholds_not_set_read_as_null_and_routing_points_to_the_policy(
    stack: Stack, tenant: Tenant, http: httpx.Client
) -> None:
    name = unique("unset")
    _create(http, stack, name)
    tax = http.get(f"/v1/taxonomies/{name}").json()
    assert tax["thresholds"] == {"auto": None, "review": None}
    routing = tax["routing"]
    assert routing["url"] == f"/v1/taxonomies/{name}/routing"
    policy = http.get(routing["url"]).json()
    assert (routing["version"], routing["auto"], routing["review"]) == (
        policy["version"],
        policy["auto"],
        policy["review"],
    )
    assert policy["source"] != "manual"  # nothing pinned: the certified policy
    assert http.get(f"/v1/taxonomies/{name}/versions/1").json()["thresholds"] == {}
    with Client(str(http.base_url), tenant.key) as sdk:
        info = sdk.taxonomy(name)
        assert info.thresholds == {} and info.routing_version == policy["version"]
        assert sdk.taxonomy_version(name, 1).thresholds == {}


def test_what_is_set_is_what_is_read_back(stack: Stack, tenant: Tenant, http: httpx.Client) -> None:
    name = unique("set")
    _create(http, stack, name, thresholds={"review": 0.7})
    tax = http.get(f"/v1/taxonomies/{name}").json()
    assert tax["thresholds"] == {"auto": None, "review": 0.7}
    assert tax["routing"]["review"] == 0.7  # it pins the policy's review threshold
    # a default value set on purpose is set too, and pins the policy
    r = http.patch(f"/v1/taxonomies/{name}", json={"thresholds": {"auto": 0.85}})
    assert r.status_code == 200, r.text
    assert r.json()["thresholds"] == {"auto": 0.85, "review": 0.7}
    assert r.json()["routing"]["auto"] == 0.85
    assert http.get(r.json()["routing"]["url"]).json()["source"] == "manual"
    v2 = http.get(f"/v1/taxonomies/{name}/versions/2").json()
    assert v2["thresholds"] == {"auto": 0.85, "review": 0.7}
    assert http.get(f"/v1/taxonomies/{name}/versions/1").json()["thresholds"] == {"review": 0.7}
    with Client(str(http.base_url), tenant.key) as sdk:
        assert sdk.taxonomy(name).thresholds == {"auto": 0.85, "review": 0.7}
    # the same again changes nothing (no version)
    r = http.patch(f"/v1/taxonomies/{name}", json={"thresholds": {"auto": 0.85}})
    assert r.json()["version"] == 2


def test_one_threshold_is_checked_against_what_is_set(
    stack: Stack, tenant: Tenant, http: httpx.Client
) -> None:
    """A review threshold above the default auto (0.85) is taken, as the routing API takes
    it (until 7 December creation refused it against an auto nobody set); an auto below the
    default hold floor says which threshold to give too, and stores nothing."""
    name = unique("high")
    _create(http, stack, name, thresholds={"review": 0.95})
    tax = http.get(f"/v1/taxonomies/{name}").json()
    assert tax["thresholds"] == {"auto": None, "review": 0.95}
    policy = http.get(tax["routing"]["url"]).json()
    assert policy["review"] == 0.95
    assert policy["auto"] is None or policy["auto"] >= 0.95
    d = http.post("/v1/classify", json={"taxonomy": name, "text": "I was charged twice"}).json()
    assert d["bucket"] == ("hold" if d["confidence"] < 0.95 else d["bucket"])
    low = unique("low")
    alone = {"name": low, "labels": LABELS, "thresholds": {"auto": 0.5}}
    r = http.post("/v1/taxonomies", json=alone)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == "thresholds.auto"
    assert "review" in r.json()["error"]["message"]
    assert http.get(f"/v1/taxonomies/{low}").status_code == 404
    both = {"auto": 0.5, "review": 0.4}
    _create(http, stack, low, thresholds=both)
    assert http.get(f"/v1/taxonomies/{low}").json()["thresholds"] == both


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_from_before_reads_its_default_thresholds_as_not_set(
    backend: str, tmp_path: Path
) -> None:
    """Versions stored with both thresholds filled in (as until 6 December: revision 0017)
    read after the migration as the definition set them: a value other than the default
    stays, the defaults are not set; the downgrade fills them in again."""
    with ExitStack() as stack:
        if backend == "postgres":
            url = stack.enter_context(pg_database())
        else:
            url = f"sqlite:///{tmp_path / 'old.db'}"
        _migrate_back_and_forth(url)


def _migrate_back_and_forth(url: str) -> None:
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    try:
        key = svc.create_key("acme", "admin", create_plan="unlimited").key or ""
        principal = svc.authenticate(key)
        svc.create_taxonomy(principal, {"name": "plain", "labels": LABELS})
        svc.create_taxonomy(
            principal, {"name": "pinned", "labels": LABELS, "thresholds": {"auto": 0.9}}
        )
        svc.wait_for_jobs(120)
    finally:
        svc.close()
    command.downgrade(alembic_config(url), "0017_webhook_delivery_order")
    svc = Service(make_settings(url, migrate_on_start=False))
    try:
        principal = svc.authenticate(key)
        old = {n: svc.taxonomy_version(principal, n, 1)["thresholds"] for n in ("plain", "pinned")}
        assert old == {
            "plain": {"auto": 0.85, "review": 0.6},
            "pinned": {"auto": 0.9, "review": 0.6},
        }
    finally:
        svc.close()
    upgrade(url)
    svc = Service(make_settings(url, migrate_on_start=False))
    try:
        principal = svc.authenticate(key)
        assert svc.get_taxonomy(principal, "plain")["thresholds"] == {"auto": None, "review": None}
        assert svc.get_taxonomy(principal, "pinned")["thresholds"] == {"auto": 0.9, "review": None}
        assert svc.taxonomy_version(principal, "plain", 1)["thresholds"] == {}
    finally:
        svc.close()


def test_the_sdk_keeps_a_zero_threshold_and_drops_the_unset_ones() -> None:
    from triaged.client import TaxonomyInfo

    info = TaxonomyInfo.from_dict(
        {
            "name": "t",
            "version": 1,
            "thresholds": {"auto": None, "review": 0.0},
            "routing": {"version": 3, "auto": None, "review": 0.6},
        }
    )
    assert info.thresholds == {"review": 0.0} and info.routing_version == 3
    assert info.auto_threshold is None and info.review_threshold == 0.6
