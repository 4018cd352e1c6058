"""One line for a database error met at start: which database (password masked) and why.

The CLI prints it as its one-line error; the app factory (``uvicorn triaged.api:create_app
--factory``, and each ``triaged serve --workers N`` process) raises it from its start-up,
where uvicorn printed a psycopg traceback ending in a message that named no database.
"""

from __future__ import annotations

from triaged.db_url import secret_values, shown_url

__all__ = ["describe_database_error", "hide_password"]


def describe_database_error(exc: BaseException, url: str | None) -> tuple[str, str] | None:
    """(code, one-line message) for a SQLAlchemy database error on ``url``, else None:
    ``database_unavailable`` when it was raised while connecting (no statement ran yet),
    ``database_error`` otherwise."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    where = hide_password(url)
    reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
    reason = _redact(reason, url)
    if exc.statement is None:  # raised while connecting, before any statement ran
        return "database_unavailable", f"cannot connect to the database at {where}: {reason}"
    return "database_error", f"database error at {where}: {reason}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def hide_password(url: str | None) -> str:
    """``url`` with its password as ``***`` (or a phrase when there is none to show)."""
    if not url:
        return "the configured database"
    try:
        return shown_url(url)
    except Exception:
        return "the configured database (unparsable URL)"


def _redact(text: str, url: str | None) -> str:
    """``text`` without the URL's password (a driver may echo what it was given)."""
    if not url:
        return text
    try:
        secrets = secret_values(url)
    except Exception:
        return text
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
