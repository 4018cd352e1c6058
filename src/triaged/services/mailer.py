"""Sending mail with the standard library's :mod:`smtplib` to ``TRIAGED_SMTP_URL``.

URL forms: ``smtp://[user:password@]host[:port]`` (plain, port 25),
``smtp+starttls://...`` (STARTTLS, port 587) and ``smtps://...`` (TLS, port 465).
User and password are URL-decoded.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from triaged.errors import InvalidInput, MailFailed

__all__ = ["SmtpConfig", "parse_smtp_url", "send_mail"]

PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    if parts.scheme not in PORTS or not parts.hostname:
        raise InvalidInput(
            "TRIAGED_SMTP_URL must look like smtp://host:port, smtp+starttls://user:pass@host "
            "or smtps://user:pass@host",
            details={"scheme": parts.scheme},
        )
    return SmtpConfig(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or PORTS[parts.scheme],
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def send_mail(url: str, sender: str, to: str, subject: str, body: str) -> None:
    """Send one plain-text message; :class:`MailFailed` (502) when the server will not take it."""
    cfg = parse_smtp_url(url)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        client: smtplib.SMTP
        if cfg.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_S)
        with client:
            if cfg.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if cfg.user:
                client.login(cfg.user, cfg.password or "")
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(
            f"the verification email could not be sent ({type(exc).__name__}); nothing was "
            "created, try again later",
            details={"reason": "smtp_error"},
        ) from None
