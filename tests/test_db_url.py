"""A database URL shown to a person holds no secret: SQLAlchemy masks the password of the
user part only, and a libpq ``?password=`` was printed whole at start-up and in "cannot
connect" errors."""

from __future__ import annotations

from triaged.db_url import secret_values, shown_url
from triaged.services.db_errors import describe_database_error


def test_every_password_of_a_url_is_masked() -> None:
    url = (
        "postgresql+psycopg://app:PW1@db:5432/triaged?password=PW2&sslpassword=PW3&sslmode=require"
    )
    shown = shown_url(url)
    assert "PW1" not in shown and "PW2" not in shown and "PW3" not in shown, shown
    assert "sslmode=require" in shown and "db:5432/triaged" in shown
    assert sorted(secret_values(url)) == ["PW1", "PW2", "PW3"]
    assert shown_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_a_connection_error_names_the_database_without_its_passwords() -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    url = "postgresql+psycopg://postgres@127.0.0.1:1/x?password=TOPSECRETQ&connect_timeout=2"
    engine = create_engine(url)
    try:
        engine.connect()
    except OperationalError as exc:
        described = describe_database_error(exc, url)
    finally:
        engine.dispose()
    assert described is not None
    assert "TOPSECRETQ" not in described[1] and "127.0.0.1" in described[1], described
