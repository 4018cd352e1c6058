"""The dashboard's routing panel lists the last policy versions, newest first, with who
made each (through the ASGI app, signed in as a reviewer)."""

from __future__ import annotations

import re

from tests.web.test_pages import _sign_in


def _rows(html: str) -> list[tuple[int, str, str]]:
    """(version, source, created by) of each row of the panel's history table, in order."""
    table = re.search(r'<table class="routing-history[^>]*>(.*?)</table>', html, re.S)
    assert table is not None, "no routing history table"
    return [
        (int(v), s, by)
        for v, s, by in re.findall(
            r'<tr data-version="(\d+)" data-source="(\w+)" data-created-by="([^"]*)">',
            table.group(1),
        )
    ]


def test_the_panel_lists_the_last_five_versions_newest_first(ui) -> None:
    client, s = ui
    svc = s.service
    admin = svc.authenticate(s.admin_key)
    for review in (0.3, 0.32, 0.34, 0.36):
        svc.set_routing(admin, "support", {"review": review})
    last = svc.set_routing(admin, "support", {"auto": None})  # re-certified: maybe closed
    everything = svc.routing_versions(admin, "support")
    assert len(everything) > 5 and everything[0]["version"] == last["version"]

    _sign_in(client, s.reviewer_key)
    page = client.get("/ui/dashboard", params={"taxonomy": "support"})
    assert page.status_code == 200, page.text
    rows = _rows(page.text)
    assert [r[0] for r in rows] == [v["version"] for v in everything[:5]]
    assert [r[1] for r in rows] == [v["source"] for v in everything[:5]]
    assert [r[2] for r in rows] == [v["created_by"] or "" for v in everything[:5]]
    assert rows[0][2] == admin.key_id
    version = last["version"]
    newest = re.search(rf'<tr data-version="{version}"[^>]*>(.*?)</tr>', page.text, re.S)
    assert newest is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", newest.group(1), re.S)
    auto = "closed" if last["auto"] is None else f"{last['auto']:.3f}"
    assert cells[1].strip() == auto and cells[2].strip() == f"{last['review']:.3f}"
    assert cells[5].strip() == last["created_at"][:16].replace("T", " ")
    assert "Last policy versions" in page.text


def test_a_rename_from_the_dashboard_names_the_signed_in_key(ui) -> None:
    """A web session's principal carries its key's id: the version a dashboard form makes
    records it as an API call would."""
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    data = {"csrf_token": csrf, "taxonomy": "support", "label": "bug", "new_name": "defect"}
    r = client.post("/ui/dashboard/rename-label", data={**data, "description": ""})
    assert r.status_code == 303, r.text
    admin = s.service.authenticate(s.admin_key)
    versions = s.service.taxonomy_versions(admin, "support")
    assert versions[-1]["renames"] == {"bug": "defect"}
    assert [v["created_by"] for v in versions] == [admin.key_id, admin.key_id]
