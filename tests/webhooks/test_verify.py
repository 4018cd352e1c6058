"""Signature verification: valid, tampered, wrong secret, replayed, malformed, rotated."""

from __future__ import annotations

import time

import pytest

import triaged
from triaged.webhooks import sign_payload, signature_header, verify_signature

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"decision.resolved","created_at":"x","data":{"label":"a"}}'


def test_valid_signature_verifies():
    assert verify_signature(BODY, signature_header(BODY, SECRET), SECRET)


def test_sdk_reexports_the_helper():
    assert triaged.verify_signature is verify_signature


def test_header_format_is_timestamp_and_hex_hmac_of_ts_dot_body():
    header = signature_header(BODY, SECRET, timestamp=1_700_000_000)
    assert header == f"t=1700000000,v1={sign_payload(BODY, SECRET, 1_700_000_000)}"
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header.endswith(expected)


@pytest.mark.parametrize(
    "body",
    [BODY.replace(b'"a"', b'"b"'), BODY + b" ", BODY[:-1], b""],
    ids=["changed-label", "trailing-space", "truncated", "empty"],
)
def test_tampered_body_is_refused(body):
    assert not verify_signature(body, signature_header(BODY, SECRET), SECRET)


def test_wrong_secret_is_refused():
    assert not verify_signature(BODY, signature_header(BODY, SECRET), "whsec_other")


def test_changed_timestamp_is_refused():
    now = int(time.time())
    header = signature_header(BODY, SECRET, timestamp=now)
    forged = header.replace(f"t={now}", f"t={now + 1}")
    assert not verify_signature(BODY, forged, SECRET)


def test_replay_outside_tolerance_is_refused():
    old = int(time.time()) - 301
    header = signature_header(BODY, SECRET, timestamp=old)
    assert not verify_signature(BODY, header, SECRET)
    assert verify_signature(BODY, header, SECRET, tolerance_s=600)
    future = signature_header(BODY, SECRET, timestamp=int(time.time()) + 301)
    assert not verify_signature(BODY, future, SECRET)


def test_explicit_clock():
    header = signature_header(BODY, SECRET, timestamp=1000)
    assert verify_signature(BODY, header, SECRET, now=1100)
    assert not verify_signature(BODY, header, SECRET, now=1400)


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1", "t=1,v1=é"],
)
def test_malformed_headers_are_refused(header):
    assert not verify_signature(BODY, header, SECRET)


def test_any_of_several_signatures_may_match_during_rotation():
    now = int(time.time())
    good = sign_payload(BODY, SECRET, now)
    assert verify_signature(BODY, f"t={now},v1={'0' * 64},v1={good}", SECRET)
    assert verify_signature(BODY, f"t={now}, v1={good.upper()}", SECRET)
    both = signature_header(BODY, "whsec_new", now, also=("whsec_old",))  # a rotation
    assert both.count("v1=") == 2
    assert verify_signature(BODY, both, "whsec_new") and verify_signature(BODY, both, "whsec_old")
    assert not verify_signature(BODY, both, SECRET)


def test_every_webhook_setting_is_in_the_readme():
    from pathlib import Path

    from triaged.webhooks import WebhookSettings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in WebhookSettings.model_fields:
        assert f"TRIAGED_WEBHOOK_{name.upper()}" in readme, name
