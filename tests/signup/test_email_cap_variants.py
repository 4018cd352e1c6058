"""The per-email sign-up cap counts one mailbox however it is spelt: case, a ``+tag``
(``alice+1@example.com``, ``alice+2@...`` each had a place of their own until 6 December)
and Unicode compatibility forms (a full-width letter, until 8 December) aside, while the
verification mail goes to the address as given.  Over real
HTTP, with the real SMTP sink, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.signup.conftest import SmtpSink, row_counts, served
from triaged.service import Service

MakeService = Callable[..., Service]


def test_the_mailbox_a_cap_counts() -> None:
    from triaged.services.signup import mailbox

    assert mailbox("alice+1@example.com") == "alice@example.com"
    assert mailbox("alice+a+b@example.com") == "alice@example.com"
    assert mailbox("alice@example.com") == "alice@example.com"
    assert mailbox("+only@example.com") == "+only@example.com"
    assert mailbox("a.li.ce@gmail.com") == "a.li.ce@gmail.com"  # dots are not merged


def test_plus_and_case_variants_share_one_place_under_the_cap(
    make_service: MakeService, smtp_sink: SmtpSink
) -> None:
    svc = make_service(
        smtp_url=smtp_sink.url,
        signup_allow_unverified=False,
        signup_max_per_email=2,
        signup_per_ip=50,
    )
    with served(svc) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:

        def sign_up(name: str, email: str) -> httpx.Response:
            return http.post("/v1/signup", json={"name": name, "email": email})

        for name, email in (("one", "alice+1@example.com"), ("two", "Alice+2@Example.COM")):
            r = sign_up(name, email)
            assert r.status_code == 201, r.text
        # the mail went to each address as given (the tag kept), one message each
        assert smtp_sink.wait_for("alice+1@example.com")["X-Envelope-To"] == "alice+1@example.com"
        assert smtp_sink.wait_for("alice+2@example.com")["X-Envelope-To"] == "alice+2@example.com"
        before = row_counts(svc)
        for i, email in enumerate(
            (
                "alice@example.com",
                "ALICE+3@example.com",
                "alice+@example.com",
                "alice+1@example.com",
                "alice@\uff45xample.com",  # a full-width e: the same mailbox (NFKC)
            )
        ):
            r = sign_up(f"more-{i}", email)
            assert r.status_code == 409, (email, r.text)
            error = r.json()["error"]
            assert error["code"] == "conflict" and error["details"]["reason"] == "email_cap"
            assert "+tag" in error["message"]
        after = row_counts(svc)  # nothing but the rate limiter's record of the attempts
        assert after.pop("signup_attempts") == before.pop("signup_attempts") + 5
        assert after == before
        assert len(smtp_sink.messages) == 2
        # other mailboxes are not held back: a longer local part, another domain, a tag
        # that merely reads like alice, and local parts the SQL pattern must take literally
        for name, email in (
            ("three", "alicex@example.com"),
            ("four", "alice@example.org"),
            ("five", "bob+alice@example.com"),
            ("six", "a_ice@example.com"),
            ("seven", "al%e@example.com"),
        ):
            r = sign_up(name, email)
            assert r.status_code == 201, (email, r.text)
            assert r.json()["workspace"]["contact_email"] == email
