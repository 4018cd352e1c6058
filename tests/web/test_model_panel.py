"""The dashboard's model panel through the ASGI app: the active model, a training in
progress with its stage and percent (written as a real training writes it), and the
admin's "Retrain now" form (CSRF, admin only, a training already running is a notice)."""

from __future__ import annotations

import re

from tests.web.test_pages import _sign_in
from triaged.services import taxonomies as taxo
from triaged.services import training
from triaged.services.ids import utcnow
from triaged.services.training_progress import ProgressRecorder
from triaged.storage import training_repo


def _panel(html: str) -> str:
    m = re.search(r'<section[^>]*id="model-panel".*?</section>', html, re.S)
    assert m, "no model panel on the dashboard"
    return m.group(0)


def _versions(s) -> list[dict]:
    return s.service.review.versions(s.service.authenticate(s.admin_key), "support")


def _start_training(s, done: int, total: int, stage: str) -> str:
    """A ``training`` row for the current taxonomy version, its progress written by the
    recorder a real fit reports to (nothing trains it: it stays ``training``)."""
    svc = s.service
    record = svc.taxonomy_record(svc.authenticate(s.admin_key), "support")
    with svc.db.write() as conn:
        job, created = training.start_job(conn, record, taxo.load_version(conn, record))
    assert created
    ProgressRecorder(svc.db, job["id"], every=0.0)(done, total, stage)
    return str(job["id"])


def test_panel_shows_the_active_model(ui) -> None:
    client, s = ui
    _sign_in(client, s.reviewer_key)
    [active] = [v for v in _versions(s) if v["active"]]
    html = client.get("/ui/dashboard", params={"taxonomy": "support"}).text
    assert "model_panel.js" not in html  # nothing training: nothing to refresh
    panel = _panel(html)
    assert active["model_version"][:12] in panel
    assert f'title="{active["id"]}">mdl_…{active["id"][-8:]}<' in panel
    assert re.search(rf'id="model-examples"[^>]*>\s*{active["n_examples"]} examples', panel)
    assert active["mode"] in panel
    assert "<progress" not in panel  # nothing training
    assert 'action="/ui/dashboard/train"' not in panel  # a reviewer gets no button


def test_a_training_in_progress_shows_its_stage_and_percent(ui) -> None:
    client, s = ui
    mid = _start_training(s, 3, 12, "calibrating")
    _sign_in(client, s.reviewer_key)
    panel = _panel(client.get("/ui/dashboard", params={"taxonomy": "support"}).text)
    assert mid in panel and "calibrating" in panel
    assert re.search(r'<progress[^>]*value="25"[^>]*max="100"', panel)
    assert "3 / 12" in panel and "25%" in panel


def test_retrain_now_is_for_admins_with_the_csrf_token(ui) -> None:
    client, s = ui
    before = {v["id"] for v in _versions(s)}
    # a reviewer: no button, and a POST anyway is refused
    csrf = _sign_in(client, s.reviewer_key)
    r = client.post("/ui/dashboard/train", data={"csrf_token": csrf, "taxonomy": "support"})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    # an admin: the button; without the token 403
    client.cookies.clear()
    csrf = _sign_in(client, s.admin_key)
    panel = _panel(client.get("/ui/dashboard", params={"taxonomy": "support"}).text)
    assert 'action="/ui/dashboard/train"' in panel and f'value="{csrf}"' in panel
    for data in ({"taxonomy": "support"}, {"taxonomy": "support", "csrf_token": "x"}):
        assert client.post("/ui/dashboard/train", data=data).status_code == 403
    assert {v["id"] for v in _versions(s)} == before
    r = client.post("/ui/dashboard/train", data={"csrf_token": csrf, "taxonomy": "support"})
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/dashboard?taxonomy=support&notice=training_started"
    s.service.review.wait(timeout=120)
    new = [v for v in _versions(s) if v["id"] not in before]
    assert len(new) == 1 and new[0]["trigger"] == "dashboard"
    page = client.get(r.headers["location"]).text
    assert "Training started" in page
    assert new[0]["id"] in _panel(page)


def test_retrain_while_a_training_runs_is_a_notice(ui) -> None:
    client, s = ui
    mid = _start_training(s, 1, 10, "fitting")
    n = len(_versions(s))
    csrf = _sign_in(client, s.admin_key)
    r = client.post("/ui/dashboard/train", data={"csrf_token": csrf, "taxonomy": "support"})
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/dashboard?taxonomy=support&notice=training_running"
    assert len(_versions(s)) == n
    page = client.get(r.headers["location"]).text
    assert "already training" in page and mid in _panel(page)
    # an unknown taxonomy: the error page, not JSON
    r = client.post("/ui/dashboard/train", data={"csrf_token": csrf, "taxonomy": "nope"})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_a_failed_training_shows_until_a_newer_model_is_active(ui) -> None:
    client, s = ui
    mid = _start_training(s, 2, 10, "fitting")
    with s.service.db.write() as conn:  # as training.finish records a fit that raised
        training_repo.mark_failed(conn, mid, "MemoryError: the fit ran out of memory", utcnow())
    csrf = _sign_in(client, s.admin_key)
    panel = _panel(client.get("/ui/dashboard", params={"taxonomy": "support"}).text)
    assert re.search(r'id="model-failed"[^>]*>.*ran out of memory', panel, re.S)
    assert "<progress" not in panel
    r = client.post("/ui/dashboard/train", data={"csrf_token": csrf, "taxonomy": "support"})
    assert r.headers["location"].endswith("notice=training_started")
    s.service.review.wait(timeout=120)
    [active] = [v for v in _versions(s) if v["active"]]
    assert active["trigger"] == "dashboard" and active["status"] == "ready"
    panel = _panel(client.get("/ui/dashboard", params={"taxonomy": "support"}).text)
    assert 'id="model-failed"' not in panel  # older than the active model now
    assert active["model_version"][:12] in panel and "the dashboard (Retrain now)" in panel


def test_the_panel_alone_for_its_refresh(ui) -> None:
    client, s = ui
    r = client.get("/ui/dashboard/model", params={"taxonomy": "support"})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    mid = _start_training(s, 1, 4, "fitting")
    _sign_in(client, s.reviewer_key)
    r = client.get("/ui/dashboard/model", params={"taxonomy": "support"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.text.lstrip().startswith("<section") and "<html" not in r.text
    assert mid in _panel(r.text) and 'value="25"' in r.text
    page = client.get("/ui/dashboard", params={"taxonomy": "support"}).text
    assert 'src="/ui/static/model_panel.js"' in page  # refreshes while it trains


def test_the_panel_of_an_unknown_taxonomy_is_a_404_page(ui) -> None:
    """It rendered the panel with the error's text, status 200: a refresh script (or a
    person) could not tell it from a panel."""
    client, s = ui
    _sign_in(client, s.reviewer_key)
    r = client.get("/ui/dashboard/model", params={"taxonomy": "nope"})
    assert r.status_code == 404, r.text[:300]
    assert "model-panel" not in r.text
