"""The dashboard's "Rename label" form through the ASGI app: an admin renames a label (its
examples follow it), a name in use is said and writes nothing, the CSRF token is needed,
and a reviewer gets no form and a 403."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.servicekit import TINY_TAXONOMY
from tests.web.seed import Seeded
from tests.web.test_pages import _sign_in

FORM = 'action="/ui/dashboard/rename-label"'


def _form(html: str) -> str:
    m = re.search(rf"<form[^>]*{FORM}.*?</form>", html, re.S)
    assert m, "no Rename label form on the dashboard"
    return m.group(0)


def _api(client: TestClient, s: Seeded) -> dict[str, Any]:
    r = client.get(
        "/v1/taxonomies/support",
        params={"include_examples": True},
        headers={"Authorization": f"Bearer {s.admin_key}"},
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _table_labels(html: str) -> list[str]:
    m = re.search(r'<table[^>]*id="label-table".*?</table>', html, re.S)
    assert m, "no label table"
    return re.findall(r'<tr data-label="([^"]+)">', m.group(0))


def test_an_admin_renames_a_label_and_its_examples_follow(ui) -> None:
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    form = _form(client.get("/ui/dashboard?taxonomy=support").text)
    assert f'value="{csrf}"' in form and 'name="taxonomy" value="support"' in form
    assert re.findall(r'<option value="([^"]+)">', form) == [
        lb["name"] for lb in TINY_TAXONOMY["labels"]
    ]
    for field in ("rename-from", "rename-to", "rename-description"):  # each has its label
        assert f'<label for="{field}">' in form and f'id="{field}"' in form
    before = _api(client, s)
    examples = {lb["name"]: lb["examples"] for lb in before["labels"]}

    data = {"csrf_token": csrf, "taxonomy": "support", "label": "bug", "new_name": " defect "}
    r = client.post("/ui/dashboard/rename-label", data={**data, "description": ""})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/dashboard?taxonomy=support&notice=label_renamed"
    page = client.get(r.headers["location"]).text
    assert 'role="status" id="notice">Label renamed:' in page
    assert "defect" in _table_labels(page) and "bug" not in _table_labels(page)
    assert re.findall(r'<option value="([^"]+)">', _form(page)) == ["billing", "defect", "account"]

    after = _api(client, s)
    assert after["version"] == before["version"] + 1
    labels = {lb["name"]: lb for lb in after["labels"]}
    assert list(labels) == ["billing", "defect", "account"]
    assert labels["defect"]["examples"] == examples["bug"]  # the examples are kept
    assert labels["defect"]["description"] == TINY_TAXONOMY["labels"][1]["description"]
    assert labels["billing"]["examples"] == examples["billing"]

    # with a description: the label takes it
    data = {**data, "label": "defect", "new_name": "fault", "description": "Broken things"}
    assert client.post("/ui/dashboard/rename-label", data=data).status_code == 303
    labels = {lb["name"]: lb for lb in _api(client, s)["labels"]}
    assert labels["fault"]["description"] == "Broken things"
    assert labels["fault"]["examples"] == examples["bug"]


def test_a_name_in_use_is_said_and_writes_nothing(ui) -> None:
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    version = _api(client, s)["version"]
    data = {"csrf_token": csrf, "taxonomy": "support", "label": "bug", "new_name": "billing"}
    r = client.post("/ui/dashboard/rename-label", data={**data, "description": "Typed words"})
    assert r.status_code == 303 and "error_sig=" in r.headers["location"], r.headers
    assert r.headers["location"].endswith("#rename-label")  # back at the form
    assert "Typed" not in r.headers["location"]  # what was typed is not in the address
    page = client.get(r.headers["location"]).text
    assert "That did not work:" in page and "&#39;billing&#39; is already a label" in page
    assert "invalid_taxonomy" not in page and "Label renamed" not in page
    # the form shows what was typed (it came back empty, the first label picked)
    assert '<option value="bug" selected>' in page
    assert 'name="new_name" required value="billing"' in page
    assert 'value="Typed words"' in page
    assert 'value="Typed words"' not in client.get(r.headers["location"]).text  # shown once
    # a bad name, and a label the taxonomy no longer has: said the same way
    for label, new_name, said in (
        ("bug", "", "name"),
        ("nope", "fresh", "has no label &#39;nope&#39;"),
    ):
        r = client.post(
            "/ui/dashboard/rename-label", data={**data, "label": label, "new_name": new_name}
        )
        assert r.status_code == 303 and "error_sig=" in r.headers["location"], r.headers
        assert said in client.get(r.headers["location"]).text
    after = _api(client, s)
    assert after["version"] == version
    assert [lb["name"] for lb in after["labels"]] == ["billing", "bug", "account"]
    # an unknown taxonomy: the error page
    r = client.post("/ui/dashboard/rename-label", data={**data, "taxonomy": "nope"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Back to the dashboard" in r.text


def test_the_csrf_token_is_needed(ui) -> None:
    client, s = ui
    csrf = _sign_in(client, s.admin_key)
    data = {"taxonomy": "support", "label": "bug", "new_name": "defect"}
    forged = ("y" if csrf.startswith("x") else "x") + csrf[1:]  # one character off, always
    for token in (None, "", forged):
        form = data if token is None else {**data, "csrf_token": token}
        r = client.post("/ui/dashboard/rename-label", data=form)
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert client.post("/ui/dashboard/rename-label", data={}).status_code == 403
    after = _api(client, s)
    assert after["version"] == 1 and "defect" not in {lb["name"] for lb in after["labels"]}


def test_a_reviewer_gets_no_form_and_a_403(ui) -> None:
    client, s = ui
    csrf = _sign_in(client, s.reviewer_key)
    page = client.get("/ui/dashboard?taxonomy=support").text
    assert 'id="label-table"' in page and FORM not in page
    data = {"csrf_token": csrf, "taxonomy": "support", "label": "bug", "new_name": "defect"}
    for new_name in ("defect", "billing", ""):  # whatever the form holds
        r = client.post("/ui/dashboard/rename-label", data={**data, "new_name": new_name})
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
        assert "role admin" in r.text
    assert [lb["name"] for lb in _api(client, s)["labels"]] == ["billing", "bug", "account"]
    # Create label (from a gap cluster) likewise: it came back with a failure message
    ids = ",".join(
        i["decision_id"]
        for i in s.service.review.items(
            s.service.authenticate(s.admin_key), taxonomy="support", limit=2
        )["items"]
    )
    form = {"csrf_token": csrf, "taxonomy": "support", "label": "fresh", "decision_ids": ids}
    r = client.post("/ui/dashboard/labels", data=form)
    assert r.status_code == 403 and "role admin" in r.text
    assert "fresh" not in [lb["name"] for lb in _api(client, s)["labels"]]
    # the API says the same to a reviewer key
    r = client.post(
        "/v1/taxonomies/support/labels/bug/rename",
        json={"name": "defect"},
        headers={"Authorization": f"Bearer {s.reviewer_key}"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
