"""Parsed taxonomy versions are kept per process (a read of a large taxonomy validated every
example again: 720 ms for 15,000), read anew once the version is not the one kept (a new
version, a migration), and within a budget of examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servicekit import TINY_TAXONOMY
from triaged.service import Service
from triaged.services import taxonomies as taxo
from triaged.settings import Settings


@pytest.fixture
def svc(tmp_path: Path):
    service = Service(Settings(data_dir=tmp_path, bootstrap_admin=False))
    service.start()
    yield service
    service.close()


def _load(service: Service, principal, version: int | None = None):
    with service.db.read() as conn:
        record = taxo.get_record(conn, principal.workspace_id, "support")
        return taxo.load_version(conn, record, version)


def test_a_version_is_parsed_once_and_a_new_one_is_read(svc: Service) -> None:
    key = svc.create_key("acme", "admin", create_plan="unlimited").key
    assert key is not None
    admin = svc.authenticate(key)
    svc.create_taxonomy(admin, TINY_TAXONOMY)
    first = _load(svc, admin)
    assert _load(svc, admin) is first  # kept
    labels = [{"name": lb["name"], "description": "edited"} for lb in TINY_TAXONOMY["labels"]]
    svc.update_taxonomy(admin, "support", {"labels": labels})
    second = _load(svc, admin)
    assert second.version == first.version + 1
    assert {lb.description for lb in second.labels} == {"edited"}
    assert _load(svc, admin, first.version) is first  # the old version is still the same
    assert svc.get_taxonomy(admin, "support")["labels"][0]["description"] == "edited"


def test_a_taxonomy_over_the_budget_is_not_kept(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = svc.create_key("acme", "admin", create_plan="unlimited").key
    assert key is not None
    admin = svc.authenticate(key)
    svc.create_taxonomy(admin, TINY_TAXONOMY)
    taxo.forget_parsed()
    monkeypatch.setattr(taxo, "PARSED_EXAMPLES", 1)
    first = _load(svc, admin)
    again = _load(svc, admin)
    assert again is not first and again == first
