"""Self-service sign-up: invites, rate limits, the new workspace and its email verification.

Everything a sign-up writes happens in one write transaction (:func:`reserve`): the
limits are checked there, under the database's write lock (SQLite ``BEGIN
IMMEDIATE``) or a transaction-scoped advisory lock (PostgreSQL), so concurrent
sign-ups cannot both pass a limit, and a refused attempt writes nothing at all (one
refused for a taken name or an email at its cap is then recorded as an attempt of its
address, in a transaction of its own: :func:`count_refused`).

* ``TRIAGED_SIGNUP=off``: :func:`check_mode` refuses every sign-up (403).
* ``invite``: the request must carry an unused, unexpired invite token (403 otherwise);
  it is spent by the sign-up that uses it.
* ``open``: anyone.

Limits: at most ``signup_per_ip`` sign-ups from one client address and
``signup_global`` from all within ``signup_window_seconds`` (429 + ``Retry-After``,
counted from ``signup_attempts``, which keeps an HMAC of the address and the time
only), and ``signup_max_per_email`` workspaces per contact mailbox (:func:`mailbox`:
case and a ``+tag`` aside; 409).  With a mail
server the workspace starts ``pending`` (its keys are refused) until the link mailed
to the contact is followed (:func:`verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from triaged import inputs
from triaged.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from triaged.services import keys
from triaged.services.ids import as_utc, new_id
from triaged.services.keys import KeyInfo, Principal, Role
from triaged.settings import Settings
from triaged.storage import signup_repo, workspace_repo
from triaged.storage.purge_repo import purge_workspace

__all__ = [
    "SignupRequest",
    "SignupResult",
    "check_mode",
    "create_invite",
    "invite_for",
    "list_invites",
    "mailbox",
    "quick_start",
    "release_invite",
    "reserve",
    "token_hash",
    "validate",
    "verify",
]

# One plain address (RFC 5322 dot-atom local part @ dot-separated host labels; letters of any
# script): an address the mail header reads as something else ("<a@x.io>", "a,b@x.io",
# "x:b@x.io;", "b@x.io)") would be stored as the contact while the link went elsewhere,
# and each spelling would get its own place under signup_max_per_email.
_ATOM = r"[\w!#$%&'*+/=^`{|}~-]+"  # atext less "?" (no "=?...?=" encoded word)
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
EMAIL_PATTERN = re.compile(rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
MAX_EMAIL = 254
TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class SignupRequest:
    name: str
    email: str
    client: str  # the client's address, as the server saw it
    invite: str | None = None


@dataclass(frozen=True, slots=True)
class SignupResult:
    workspace_id: str
    workspace: str
    plan: str
    status: str  # active | pending
    email: str
    key: KeyInfo
    verify_token: str | None  # to mail, when the workspace is pending


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _client_hash(client: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), b"signup-client:" + client.encode(), "sha256").hexdigest()


def needs_verification(settings: Settings) -> bool:
    return bool(settings.smtp_url)


def check_mode(settings: Settings, invite: str | None) -> None:
    """Refuse at once when sign-up is off, or by invitation and no invite came along."""
    if settings.signup == "off":
        raise Forbidden(
            "self-service sign-up is off on this server; ask its operator for a workspace",
            details={"reason": "signup_off"},
        )
    if settings.signup == "invite" and not (invite or "").strip():
        raise Forbidden(
            "sign-up on this server is by invitation: use the invite link you were given",
            details={"reason": "invite_required"},
        )


def validate(name: str, email: str) -> tuple[str, str]:
    """The workspace name (like a taxonomy name) and the normalised contact email (422)."""
    name = (name or "").strip()
    try:
        inputs.check_taxonomy_name(name, "name")
    except ValidationFailed:
        raise ValidationFailed(
            "name: a workspace name is 1-100 characters of A-Z, a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit",
            details={"field": "name", "pattern": inputs.NAME_PATTERN},
        ) from None
    # NFKC: a full-width "ｅxample.com" is the mailbox "example.com" (mail systems map it
    # so), and without it each such spelling had its own place under the per-email cap
    email = unicodedata.normalize("NFKC", (email or "").strip()).lower()
    if len(email) > MAX_EMAIL or not EMAIL_PATTERN.fullmatch(email):
        raise ValidationFailed(
            "email: give a valid email address (name@example.com)", details={"field": "email"}
        )
    return name, email


def mailbox(email: str) -> str:
    """The mailbox a (normalised) contact ``email`` reaches, as the per-email cap counts it:
    the local part without a ``+tag`` (``alice+2@example.com`` is ``alice@example.com``:
    the providers that offer plus addressing deliver both to one inbox).  Only for
    counting; mail goes to the address as given.  Dots in a Gmail local part are left as
    they are: only some providers ignore them, and a cap that merged ``a.b@`` with ``ab@``
    would merge two people's addresses elsewhere."""
    local, _, domain = email.rpartition("@")
    base = local.split("+", 1)[0]
    return f"{base or local}@{domain}"


def _check_rate(conn: Connection, settings: Settings, client: str, now: datetime) -> str:
    """Raise 429 when the address or everyone used up the window; returns the address hash."""
    window = timedelta(seconds=settings.signup_window_seconds)
    since = now - window
    signup_repo.delete_attempts_before(conn, since)
    client_hash = _client_hash(client, settings.key_pepper)
    for scope, limit, who_hash in (
        ("client", settings.signup_per_ip, client_hash),
        ("global", settings.signup_global, None),
    ):
        if limit <= 0:
            continue
        count, oldest = signup_repo.attempts_since(conn, since, who_hash)
        if count >= limit:
            wait = (as_utc(oldest) + window - now).total_seconds() if oldest else 1.0
            who = "from your address" if scope == "client" else "on this server"
            raise RateLimited(
                f"too many sign-ups {who}: {count} of {limit} in "
                f"{settings.signup_window_seconds:g} s; try again in {max(1, round(wait))} s",
                retry_after=max(wait, 1.0),
                details={"limit": f"signup_{scope}", "quota": limit, "used": count},
            )
    return client_hash


def count_refused(conn: Connection, settings: Settings, client: str, now: datetime) -> None:
    """Record a sign-up refused for a taken name or an email at its cap as an attempt of
    ``client``: each probe of a name or an email spends the address's limit."""
    signup_repo.insert_attempt(conn, _client_hash(client, settings.key_pepper), now)


def _spend_invite(conn: Connection, token: str, workspace_id: str, now: datetime) -> None:
    row = signup_repo.invite_by_hash(conn, token_hash(token.strip()))
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
        reason = "invite_unknown" if row is None else "invite_used"
        if row is not None and row.used_at is None:
            reason = "invite_expired"
        raise Forbidden(
            "this invite link is not valid: it was used already, expired or never existed",
            details={"reason": reason},
        )
    spent = signup_repo.spend_invite(conn, row.id, workspace_id, now)
    if spent != 1:  # pragma: no cover - the sign-up lock serialises spenders
        raise Forbidden("this invite link was used already", details={"reason": "invite_used"})


def _check_invite(conn: Connection, token: str, now: datetime) -> None:
    """Refuse an invalid invite before anything is written."""
    row = signup_repo.invite_state(conn, token_hash(token.strip()))
    if row is not None and row.status != "active":  # a suspended workspace invites no one
        raise Forbidden(
            "this invite link is not valid: the workspace that made it is not active",
            details={"reason": "invite_inactive"},
        )
    if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
        reason = "invite_unknown" if row is None else "invite_used"
        if row is not None and row.used_at is None:
            reason = "invite_expired"
        raise Forbidden(
            "this invite link is not valid: it was used already, expired or never existed",
            details={"reason": reason},
        )


def _release_expired(conn: Connection, name: str, box: str, now: datetime) -> None:
    """Pending workspaces with this name or a contact of mailbox ``box`` whose every link
    expired unused are deleted, so an abandoned sign-up holds neither the name nor a place
    in the email cap."""
    for workspace_id in signup_repo.stale_pending_workspaces(conn, name, box, now):
        purge_workspace(conn, workspace_id)


def reserve(
    conn: Connection, settings: Settings, req: SignupRequest, now: datetime
) -> SignupResult:
    """The whole sign-up in the caller's write transaction (raises before any write)."""
    name, email = validate(req.name, req.email)
    signup_repo.lock_signups(conn)
    if settings.signup == "invite":
        _check_invite(conn, req.invite or "", now)
    client_hash = _check_rate(conn, settings, req.client, now)
    _release_expired(conn, name, mailbox(email), now)
    n_email = signup_repo.count_contact_email(conn, mailbox(email))
    if n_email >= settings.signup_max_per_email:
        raise Conflict(
            f"this email already has {n_email} workspaces (its +tag variants count as the "
            "same address), the most one address may sign up",
            details={"reason": "email_cap", "limit": settings.signup_max_per_email},
        )
    if signup_repo.name_taken(conn, name):
        raise Conflict(
            f"the name {name!r} is taken; choose another", details={"reason": "name_taken"}
        )
    pending = needs_verification(settings)
    ws = keys.create_workspace(conn, name, settings.signup_plan)
    status = "pending" if pending else "active"
    signup_repo.set_status_and_contact(conn, ws["id"], status, email)
    key = keys.create_key(conn, ws["id"], name, Role.ADMIN, "sign-up admin", settings.key_pepper)
    if settings.signup == "invite":
        _spend_invite(conn, req.invite or "", ws["id"], now)
    signup_repo.insert_attempt(conn, client_hash, now)
    token = None
    if pending:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        signup_repo.insert_verification(
            conn,
            token_hash(token),
            ws["id"],
            email,
            created_at=now,
            expires_at=now + timedelta(hours=settings.signup_verify_hours),
        )
    return SignupResult(ws["id"], name, settings.signup_plan, status, email, key, token)


def verify(conn: Connection, token: str, now: datetime) -> dict[str, Any]:
    """Follow a verification link: the workspace becomes active (a second click is fine)."""
    row = signup_repo.verification_with_workspace(conn, token_hash((token or "").strip()))
    if row is None:
        raise NotFound(
            "this verification link is not valid (mistyped, or its workspace was deleted)",
            details={"reason": "verification_unknown"},
        )
    if row.used_at is None and as_utc(row.expires_at) <= now:
        raise Forbidden(
            "this verification link expired; sign up again",
            details={"reason": "verification_expired"},
        )
    if row.used_at is None:
        signup_repo.mark_verification_used(conn, row.token_hash, now)
        if row.status == "pending":
            workspace_repo.set_status(conn, row.workspace_id, "active")
    status = "active" if row.status == "pending" else row.status
    return {"workspace": row.name, "status": status, "email": row.email}


def create_invite(
    conn: Connection, principal: Principal, note: str, hours: float, now: datetime
) -> tuple[dict[str, Any], str]:
    """A single-use invite made by an admin: (its public record, the secret token)."""
    principal.require(Role.ADMIN)
    return invite_for(conn, principal.workspace_id, principal.key_id, note, hours, now)


def invite_for(
    conn: Connection,
    workspace_id: str,
    created_by: str | None,
    note: str,
    hours: float,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """An invite handed out by ``workspace_id`` (an admin key, or the operator: None)."""
    token = "inv_" + secrets.token_urlsafe(TOKEN_BYTES)
    row = {
        "id": new_id("inv"),
        "token_hash": token_hash(token),
        "workspace_id": workspace_id,
        "created_by": created_by,
        "note": note[:200],
        "created_at": now,
        "expires_at": now + timedelta(hours=hours),
    }
    signup_repo.insert_invite(conn, row)
    return _public_invite({**row, "used_at": None, "used_by": None}), token


def _public_invite(row: Any) -> dict[str, Any]:
    r = dict(row)
    used_at = r.get("used_at")
    return {
        "id": r["id"],
        "note": r["note"],
        "created_at": as_utc(r["created_at"]).isoformat(),
        "expires_at": as_utc(r["expires_at"]).isoformat(),
        "used_at": as_utc(used_at).isoformat() if used_at else None,
        "used": used_at is not None,
    }


def list_invites(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    principal.require(Role.ADMIN)
    return [_public_invite(r) for r in signup_repo.workspace_invites(conn, principal.workspace_id)]


def quick_start(base_url: str, key: str, taxonomy: str = "support") -> str:
    """The curl call a new admin can paste: classify one text with the example taxonomy."""
    body = json.dumps({"taxonomy": taxonomy, "text": "I was charged twice this month"})
    return (
        f"curl -s {base_url.rstrip('/')}/v1/classify \\\n"
        f'  -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\\n'
        f"  -d '{body}'"
    )


def workspace_call(base_url: str, key: str) -> str:
    """The curl call that shows the new workspace (the quick start without an example)."""
    return f'curl -s {base_url.rstrip("/")}/v1/workspace \\\n  -H "Authorization: Bearer {key}"'


def _principal(res: SignupResult) -> Principal:
    return Principal(
        key_id=res.key.id,
        role=Role.ADMIN,
        workspace_id=res.workspace_id,
        workspace=res.workspace,
        plan=res.plan,
    )


def after_reserve(service: Any, res: SignupResult, base_url: str) -> bool:
    """What follows the committed sign-up: the example taxonomy (so the quick start works),
    then the verification email; whether the example was made.  The caller undoes the
    sign-up if the email fails.  An example larger than the operator's label or example
    limits is left out (every sign-up answered that 413 until 6 December)."""
    from triaged.errors import PayloadTooLarge
    from triaged.examples import example_taxonomy
    from triaged.services.taxonomies import check_size

    example = example_taxonomy()
    definition = {k: v for k, v in example.to_dict().items() if k != "thresholds"}
    made = True
    limits: Settings = service.settings
    try:
        check_size(
            example,
            limits.max_labels_per_taxonomy,
            limits.max_examples_per_taxonomy,
            limits.max_text_chars,
        )
    except PayloadTooLarge:
        made = False
    if made:
        service.create_taxonomy(_principal(res), definition)
    if res.verify_token is None:
        return made
    settings: Settings = service.settings
    from triaged.services.mailer import send_mail

    link = f"{base_url}/ui/signup/verify?token={res.verify_token}"
    hours = settings.signup_verify_hours
    send_mail(
        settings.smtp_url or "",
        settings.smtp_from,
        res.email,
        f"Activate your triaged workspace {res.workspace}",
        f"Hello,\n\nsomeone (we hope you) signed up for the triaged workspace "
        f"{res.workspace!r} with this address.\n\nFollow this link to activate it:\n\n"
        f"    {link}\n\nThe link works for {hours:g} hours. Until then the workspace's API "
        f"key is refused. If it was not you, ignore this email: the workspace stays "
        f"inactive.\n",
    )
    return made


def public_result(res: SignupResult, base_url: str, *, example: bool = True) -> dict[str, Any]:
    """The answer to a sign-up: the admin key (only here) and the filled-in quick start
    (without the example taxonomy: a call that shows the workspace)."""
    assert res.key.key is not None
    return {
        "workspace": {
            "id": res.workspace_id,
            "name": res.workspace,
            "plan": res.plan,
            "status": res.status,
            "contact_email": res.email,
        },
        "key": res.key.key,
        "key_id": res.key.id,
        "verification": "sent" if res.verify_token is not None else "not_required",
        "taxonomy": "support" if example else None,
        "quick_start": (
            quick_start(base_url, res.key.key) if example else workspace_call(base_url, res.key.key)
        ),
        "sign_in_url": f"{base_url}/ui/login",
        "usage_url": f"{base_url}/ui/usage",
    }


def release_invite(conn: Connection, workspace_id: str) -> None:
    """Undo the spending of the invite a sign-up used, when the sign-up is undone (its
    verification email failed): the person may try again with the same link."""
    signup_repo.unspend_invites(conn, workspace_id)
