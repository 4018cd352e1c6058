"""A review item whose decision was erased (``POST /v1/decisions/erase``), on the review
page and in the items view (through the ASGI app): it says the text was erased."""

from __future__ import annotations

from tests.web.test_pages import _sign_in


def test_an_erased_decision_reads_as_erased(ui) -> None:
    client, s = ui
    service = s.service
    admin = service.authenticate(s.admin_key)
    alice = service.authenticate(s.reviewer_key)
    [item] = service.review.claim(alice, limit=1, taxonomy="support")
    service.review.resolve(alice, item["id"], action="out_of_scope")
    out = service.erase_decisions(admin, ids=[item["decision_id"]])
    assert out == {"erased": 1, "decisions": [item["decision_id"]]}
    _sign_in(client, s.reviewer_key)
    page = client.get(f"/ui/review/{item['id']}").text
    assert '<blockquote id="item-text"><em class="muted">(text erased)</em></blockquote>' in page
    assert item["text"] not in page
    listed = client.get("/ui/items?taxonomy=support&status=resolved").text
    assert "(text erased)" in listed and item["text"] not in listed
