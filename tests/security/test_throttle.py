"""Failed API key lookups and web sign-ins are throttled: 429 with Retry-After."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.servicekit import make_settings, pg_database
from tests.web.seed import seed
from triaged.api import create_app
from triaged.api.throttle import FailureThrottle, key_prefix
from triaged.errors import RateLimited
from triaged.service import Service
from triaged.services.housekeeping import Housekeeper
from triaged.storage import upgrade


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_subjects_are_separate():
    clock = Clock()
    throttle = FailureThrottle(3, 60.0, clock=clock)
    for _ in range(3):
        throttle.check(["ip:a"])
        throttle.fail(["ip:a"])
        clock.now += 10
    with pytest.raises(RateLimited) as info:
        throttle.check(["ip:a"])
    assert info.value.retry_after == pytest.approx(30.0)
    throttle.check(["ip:b"])  # another address is not affected
    clock.now += 30.5  # the first failure left the window
    throttle.check(["ip:a"])
    assert not FailureThrottle(0, 60.0).enabled


def test_failures_of_a_burst_past_the_limit_are_answered_429():
    """Concurrent attempts all pass the check before any fails: the failures past the
    limit are 429 (telling a guesser nothing), not 401 ("not a key")."""
    throttle = FailureThrottle(3, 60.0, clock=Clock())
    for _ in range(10):  # ten requests arrive together
        throttle.check(["ip:a"])
    answered = 0
    for _ in range(10):  # then each finds its key wrong
        try:
            throttle.fail(["ip:a"])
            answered += 1
        except RateLimited as exc:
            assert exc.details["reason"] == "failed_attempts" and exc.retry_after >= 1
    assert answered == 3


def test_a_burst_of_wrong_keys_over_http_gets_at_most_the_limit_of_401s(small):
    import asyncio

    import httpx

    _, service = small  # auth_max_failures=5

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(service=service))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            rs = await asyncio.gather(
                *(
                    c.get("/v1/taxonomies", headers={"Authorization": f"Bearer tri_burst{i}"})
                    for i in range(30)
                )
            )
        return [r.status_code for r in rs]

    codes = asyncio.run(burst())
    # at most the limit are answered 401; fewer when failures of other requests reach the
    # shared count between this one's own count and its read of everyone's
    assert sorted(set(codes)) == [401, 429] and 1 <= codes.count(401) <= 5, codes


@pytest.fixture
def small(tmp_path):
    s = seed(tmp_path, texts=["I was charged twice"])
    service = Service(s.service.settings.with_overrides(auth_max_failures=5))
    yield s, service
    service.close()
    s.service.close()


def test_failed_key_lookups_get_429_with_retry_after(small):
    s, service = small
    with TestClient(create_app(service=service)) as client:
        for i in range(5):
            r = client.get("/v1/taxonomies", headers={"Authorization": f"Bearer tri_wrong{i}"})
            assert r.status_code == 401
        r = client.get("/v1/taxonomies", headers={"Authorization": "Bearer tri_wrong9"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"
        # the address is locked out for now, even with a valid key
        r = client.get("/v1/taxonomies", headers={"Authorization": f"Bearer {s.admin_key}"})
        assert r.status_code == 429


def test_wrong_keys_with_a_key_s_prefix_do_not_lock_the_right_key_out(small):
    """The prefix of a key is not secret (key lists show it): wrong keys sent with it from
    many addresses are answered 429 past the limit, but the right key, from a fresh address,
    still works on every face (it got 429 for the whole window: a lockout anyone could keep
    up with 20 guesses a minute)."""
    s, service = small
    prefix = s.admin_key[:12]
    app = create_app(service=service)
    for i in range(6):  # one address each: only the prefix adds up
        with TestClient(app, client=(f"203.0.113.{i + 1}", 5000)) as client:
            r = client.get("/v1/taxonomies", headers={"Authorization": f"Bearer {prefix}x{i}"})
            assert r.status_code == (401 if i < 5 else 429), r.text
    with TestClient(app, client=("203.0.113.50", 5000), follow_redirects=False) as client:
        wrong = client.get("/v1/taxonomies", headers={"Authorization": f"Bearer {prefix}zz"})
        assert wrong.status_code == 429
        assert wrong.json()["error"]["details"]["subject"] == "key"
        right = {"Authorization": f"Bearer {s.admin_key}"}
        assert client.get("/v1/taxonomies", headers=right).status_code == 200
        body = {"taxonomy": "support", "text": "charged twice"}
        assert client.post("/v1/classify", json=body, headers=right).status_code == 200
        page = client.get("/ui/login")
        token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
        r = client.post("/ui/login", data={"api_key": s.admin_key, "login_token": token})
        assert r.status_code == 303, r.text


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/classify/batch"])
def test_classify_counts_wrong_keys_and_checks_the_key_before_the_body(small, path):
    """The classify routes authenticate inside the service call; a wrong key there counts
    against the throttle like anywhere else (it was never counted), and a wrong key with a
    bad body is a 401, not the body's 422."""
    s, service = small
    body = (
        {"taxonomy": "support", "text": "charged twice"}
        if path == "/v1/classify"
        else {"taxonomy": "support", "texts": ["charged twice"]}
    )
    with TestClient(create_app(service=service)) as client:
        r = client.post(path, json={}, headers={"Authorization": "Bearer tri_wrong0"})
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthenticated"
        assert r.headers["WWW-Authenticate"] == "Bearer"
        for i in range(1, 5):
            r = client.post(path, json=body, headers={"Authorization": f"Bearer tri_wrong{i}"})
            assert r.status_code == 401, r.text
        r = client.post(path, json=body, headers={"Authorization": "Bearer tri_wrong9"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["details"]["reason"] == "failed_attempts"
        r = client.post(path, json=body, headers={"Authorization": f"Bearer {s.admin_key}"})
        assert r.status_code == 429  # locked out, even with a valid key
    # a valid key with a bad body is still the body's 422
    with TestClient(create_app(service=service), client=("198.51.100.4", 5000)) as client:
        r = client.post(path, json={}, headers={"Authorization": f"Bearer {s.admin_key}"})
        assert r.status_code == 422, r.text


def test_failed_sign_ins_get_429_with_retry_after(small):
    _, service = small
    with TestClient(create_app(service=service), follow_redirects=False) as client:
        statuses = []
        for i in range(6):
            page = client.get("/ui/login")
            token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
            r = client.post("/ui/login", data={"api_key": f"tri_guess{i}", "login_token": token})
            statuses.append(r.status_code)
        assert statuses == [401] * 5 + [429]
        assert int(r.headers["Retry-After"]) >= 1
        assert "too many failed" in r.text


@contextmanager
def _database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'throttle.db'}"
    else:
        with pg_database() as url:
            yield url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_api_processes_count_failures_together(backend, tmp_path):
    """Two apps with their own memory on one database, as two `triaged serve` processes:
    alone each would allow 4 failures (8 in all); together they answer 4 as such (401),
    and a failure past the limit in either is a 429 (the other process learns the count at
    its next failure: that one was a fifth 401 until 6 December)."""
    with _database(backend, tmp_path) as url:
        upgrade(url)
        a, b = (Service(make_settings(url, auth_max_failures=4)) for _ in range(2))
        try:
            admin_key = a.create_key("throttled", "admin", create_plan="free").key
            with TestClient(create_app(service=a)) as ca, TestClient(create_app(service=b)) as cb:
                codes = []
                for i in range(12):
                    auth = {"Authorization": f"Bearer tri_guess{i:03d}"}
                    codes.append((ca, cb)[i % 2].get("/v1/taxonomies", headers=auth).status_code)
                assert codes == [401] * 4 + [429] * 8
                # a valid key from the same address is refused by both while the window lasts
                for client in (ca, cb):
                    auth = {"Authorization": f"Bearer {admin_key}"}
                    assert client.get("/v1/taxonomies", headers=auth).status_code == 429
            # housekeeping deletes old failures: 5 by address + 1 per guessed key prefix
            keeper = Housekeeper(a.db, None, auth_keep_s=0.0)
            assert keeper.run_once() == 10
            assert keeper.run_once() == 0
        finally:
            a.close()
            b.close()


def test_a_guessed_key_with_a_nul_is_counted_on_postgresql(tmp_path, caplog):
    """A sign-in form can send any character: the guessed key's prefix is stored with the
    shared failure counts, and PostgreSQL cannot store a NUL (until 5 December the count
    was lost with a logged traceback, "could not share failed authentications")."""
    assert key_prefix("tri_\x00abc\u00e9defghij") == "tri_?abc?def"
    with pg_database() as url:
        upgrade(url)
        service = Service(make_settings(url, auth_max_failures=3))
        try:
            with TestClient(create_app(service=service), follow_redirects=False) as client:
                statuses = []
                for _ in range(4):
                    page = client.get("/ui/login")
                    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
                    data = {"api_key": "tri_\x00guess", "login_token": token}
                    statuses.append(client.post("/ui/login", data=data).status_code)
            assert statuses == [401] * 3 + [429]
            assert "could not share" not in caplog.text
        finally:
            service.close()
