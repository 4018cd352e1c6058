"""A database URL as shown to a person (logs, errors, the command line): no secret in it.

SQLAlchemy's ``render_as_string(hide_password=True)`` masks the password of the URL's
user part, but libpq also takes one in the query (``?password=...``, ``sslpassword``), and
that was printed whole at start-up and in "cannot connect" errors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["secret_values", "shown_url"]

#: query parameters whose value is a secret (compared in lower case, as substrings)
SECRET_PARAMS = ("password", "secret", "token")


def _secret(name: str) -> bool:
    return any(word in name.lower() for word in SECRET_PARAMS)


def shown_url(url: Any) -> str:
    """``url`` (a string or a SQLAlchemy URL) with every password as ``***``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    query = {k: ("***" if _secret(k) else v) for k, v in parsed.query.items()}
    return str(parsed.set(query=query).render_as_string(hide_password=True))


def secret_values(url: Any) -> list[str]:
    """The secrets ``url`` holds (its password, secret query values), to cut from a text a
    driver wrote (it may echo what it was given)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    found = [str(parsed.password)] if parsed.password else []
    for name, value in parsed.query.items():
        if _secret(name):
            found += [value] if isinstance(value, str) else [str(v) for v in value]
    return [v for v in found if v]
