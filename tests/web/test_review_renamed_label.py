"""A review item whose label was renamed after the decision, on the review page (through
the ASGI app): the label reads under its name now (with the name it was decided under),
Confirm is offered and confirms the new name, and the items view names it the same way.
Before, the page said the label was "no longer in the taxonomy" and refused Confirm, while
the API confirmed it."""

from __future__ import annotations

import re

from tests.web.test_pages import _sign_in


def test_a_renamed_label_reads_and_confirms_under_its_new_name(ui) -> None:
    client, s = ui
    service = s.service
    alice = service.authenticate(s.reviewer_key)
    [item] = service.review.claim(alice, limit=1, taxonomy="support")
    old = item["label"]
    assert item["label_now"] == old  # nothing renamed yet
    service.rename_label(service.authenticate(s.admin_key), "support", old, "renamed_one", None)

    csrf = _sign_in(client, s.reviewer_key)
    page = client.get(f"/ui/review/{item['id']}").text
    assert 'data-mine="true"' in page
    assert "no longer in the taxonomy" not in page
    confirm = re.search(r'value="confirm".*?</button>', page, re.S)
    assert confirm, "no Confirm button for a renamed label"
    assert "Confirm “renamed_one”" in confirm.group(0)
    assert f"(was “{old}”)" in confirm.group(0)
    assert 'value="label:renamed_one"' in page and f'value="label:{old}"' not in page

    # the top pick of the new name is the model's own label: it confirms, not corrects
    r = client.post(
        f"/ui/review/{item['id']}/resolve",
        data={"csrf_token": csrf, "choice": "label:renamed_one", "taxonomy": "support"},
    )
    assert r.status_code == 303 and "notice=saved" in r.headers["location"], r.headers
    done = service.review.item(service.authenticate(s.admin_key), item["id"])
    assert done["action"] == "confirm" and done["final_label"] == "renamed_one"
    assert done["label"] == old and done["label_now"] == "renamed_one"

    page = client.get("/ui/items?taxonomy=support&status=resolved").text
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{item['id']}.*?</tr>", page, re.S)
    assert row, "the resolved item is not listed"
    assert f'renamed_one <span class="muted small">(was {old})</span>' in row.group(0)


def test_a_removed_label_reads_as_removed(ui) -> None:
    client, s = ui
    service = s.service
    admin = service.authenticate(s.admin_key)
    alice = service.authenticate(s.reviewer_key)
    [item] = service.review.claim(alice, limit=1, taxonomy="support")
    tax = service.get_taxonomy(admin, "support")
    labels = [{"name": lb["name"]} for lb in tax["labels"] if lb["name"] != item["label"]]
    service.update_taxonomy(admin, "support", {"labels": labels})
    got = service.review.item(alice, item["id"])
    assert got["label"] == item["label"] and got["label_now"] is None
    _sign_in(client, s.reviewer_key)
    assert "no longer in the taxonomy" in client.get(f"/ui/review/{item['id']}").text
