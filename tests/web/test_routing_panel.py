"""The dashboard's routing panel in a real headless Chromium (and through the ASGI app):
the policy with its bound, and a threshold slider whose predicted shares and auto error
come live from the what-if of the decision log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.test_dashboard import _history
from tests.web.test_pages import _sign_in as _sign_in_client
from tests.web.test_review_ui import _accessible, _shot, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _shares(page) -> dict[str, float]:
    return {
        b: float(page.locator(f"#wi-share-{b}").get_attribute("data-value"))
        for b in ("auto", "review", "hold")
    }


def _expected(seeded, auto: float, review: float) -> dict:
    svc = seeded.service
    principal = svc.authenticate(seeded.admin_key)
    since = datetime.now(UTC) - timedelta(days=30)
    return svc.what_if(principal, "support", auto=auto, review=review, since=since)


def test_routing_panel_and_a_live_what_if_slider(page, seeded) -> None:
    _history(seeded)  # two weeks of decisions at 0.4 (hold), 0.7 (review), 0.93 (auto)
    svc = seeded.service
    routing = svc.routing(svc.authenticate(seeded.admin_key), "support")
    _sign_in(page, seeded.admin_key)
    page.goto("/ui/dashboard?taxonomy=support")
    _accessible(page)

    lane = page.locator("#routing-lane")
    assert lane.get_attribute("data-open") == ("true" if routing["auto_lane_open"] else "false")
    bound = page.locator("#routing-bound")
    assert int(bound.get_attribute("data-n")) == routing["bound"]["n"]
    assert int(bound.get_attribute("data-errors")) == routing["bound"]["errors"]
    assert routing["reason"] and routing["reason"] in page.locator("#routing-reason").inner_text()
    assert f"version {routing['version']}" in page.locator("#h-routing").inner_text()

    # move both sliders so that the 0.93 decisions leave the auto lane: all of them review
    page.locator("#wi-review").fill("0.5")
    page.locator("#wi-auto").fill("0.95")
    page.wait_for_function(
        "() => document.querySelector('#wi-result').getAttribute('data-auto') === '0.95'"
        " && document.querySelector('#wi-result').getAttribute('data-review') === '0.5'"
    )
    high = _shares(page)
    want = _expected(seeded, 0.95, 0.5)
    for b in high:
        assert high[b] == pytest.approx(want["shares"][b], abs=1e-9)
    assert high["auto"] < 0.05 and high["review"] > 0.5
    assert page.locator("#wi-auto-value").inner_text() == "0.950"

    # lower the auto threshold under 0.93: the same decisions are automatic again
    page.locator("#wi-auto").fill("0.9")
    page.wait_for_function(
        "() => document.querySelector('#wi-result').getAttribute('data-auto') === '0.9'"
    )
    low = _shares(page)
    assert low["auto"] > high["auto"] + 0.3
    want = _expected(seeded, 0.9, 0.5)
    assert low["auto"] == pytest.approx(want["shares"]["auto"], abs=1e-9)
    bar = page.locator('#wi-bar rect[data-bucket="auto"]')
    assert float(bar.get_attribute("width")) == pytest.approx(600 * low["auto"], abs=0.1)
    error = want["auto_error"]
    text = page.locator("#wi-error-line").inner_text()
    assert f"{error['n_reviewed']} reviewed" in text
    if error["upper"] is not None:
        assert float(page.locator("#wi-interval").get_attribute("data-upper")) == pytest.approx(
            error["upper"]
        )

    # the review slider cannot pass the auto one
    page.locator("#wi-review").fill("0.99")
    assert float(page.locator("#wi-auto").input_value()) == pytest.approx(0.99)
    page.wait_for_function(
        "() => document.querySelector('#wi-result').getAttribute('data-auto') === '0.99'"
    )
    assert _shares(page)["auto"] == pytest.approx(_expected(seeded, 0.99, 0.99)["shares"]["auto"])
    _shot(page, "dashboard-routing")

    # the session ends (signed out in another tab): the figures on show are marked stale and
    # a link signs in again (the old shares stood beside the new slider values)
    page.context.clear_cookies()
    page.locator("#wi-auto").fill("0.5")
    page.wait_for_function("() => !document.querySelector('#wi-status').hidden")
    assert page.locator("#wi-result").get_attribute("data-stale") == "true"
    link = page.locator("#wi-status a")
    assert link.inner_text() == "Sign in again"
    assert link.get_attribute("href").startswith("/ui/login?next=%2Fui%2Fdashboard")


def test_what_if_json_needs_a_session_and_valid_thresholds(ui) -> None:
    client, s = ui
    params = {"taxonomy": "support", "auto": 0.9, "review": 0.6}
    r = client.get("/ui/dashboard/what-if", params=params)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    _sign_in_client(client, s.reviewer_key)
    r = client.get("/ui/dashboard/what-if", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n_decisions"] == 2
    assert sum(body["shares"].values()) == pytest.approx(1.0)
    assert r.headers["cache-control"] == "no-store"
    r = client.get("/ui/dashboard/what-if", params={**params, "auto": 1.5})
    assert r.status_code == 422
    r = client.get("/ui/dashboard/what-if", params={**params, "taxonomy": "nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_what_if_form_works_without_script(ui) -> None:
    client, s = ui
    _sign_in_client(client, s.reviewer_key)
    page = client.get("/ui/dashboard", params={"taxonomy": "support", "auto": 0.0, "review": 0.0})
    assert page.status_code == 200
    assert re.search(r'id="wi-share-auto" data-value="1(\.0)?"', page.text)
    assert 'id="routing-bound"' in page.text and 'src="/ui/static/dashboard.js"' in page.text
