"""Engines and transactions for SQLite (WAL, embedded default) and PostgreSQL (psycopg 3).

``Database.write()`` opens a short write transaction.  On SQLite it starts with
``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of
failing when a read lock cannot be upgraded; on PostgreSQL it is a plain
transaction whose row locks (``INSERT ... ON CONFLICT DO UPDATE``) serialise
the writers that touch the same counter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from triaged.errors import InvalidInput

__all__ = ["PG_CONNECT_TIMEOUT_S", "Database", "make_engine"]

SQLITE_BUSY_TIMEOUT_S = 30.0
#: libpq's ``connect_timeout`` unless the URL sets one: a PostgreSQL host that accepts the
#: connection but never answers (a stuck server, a proxy without a backend, a wrong port)
#: kept a start, a CLI command or a request waiting for ever
PG_CONNECT_TIMEOUT_S = 10


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 30,
    null_pool: bool = False,
    sqlite_synchronous: str = "NORMAL",
) -> Engine:
    """An engine for ``url`` with the per-dialect settings triaged relies on."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise InvalidInput(
            f"invalid database URL: {exc}", details={"database_url": "<hidden>"}
        ) from None
    kwargs: dict[str, Any] = {}
    if null_pool:
        kwargs["poolclass"] = NullPool
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise InvalidInput("triaged needs a SQLite file, not an in-memory database")
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        if not null_pool:
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow)
        engine = create_engine(parsed, **kwargs)
        _sqlite_events(engine, sqlite_synchronous)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        if not null_pool:
            # no pre-ping: it would cost a round trip per transaction; recycle instead
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)
        try:
            return create_engine(parsed, **kwargs)
        except ModuleNotFoundError as exc:
            raise InvalidInput(
                f"PostgreSQL needs a driver ({exc.name} is missing): "
                "pip install 'triaged[postgres]'"
            ) from None
    raise InvalidInput(
        f"unsupported database {parsed.get_backend_name()!r}; use sqlite:/// or postgresql+psycopg://"
    )


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_events(engine: Engine, synchronous: str = "NORMAL") -> None:
    if synchronous not in {"NORMAL", "FULL"}:
        raise InvalidInput(f"sqlite_synchronous must be NORMAL or FULL, not {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()
        # SQLite's lower() folds ASCII only, so ILIKE (lower(x) LIKE lower(y)) missed "Ü"
        # for "ü"; PostgreSQL folds every letter.  Python's str.lower for both.
        dbapi_conn.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine plus the two kinds of transaction the service uses."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 30,
        sqlite_synchronous: str = "NORMAL",
    ) -> None:
        self.url = url
        self.engine = make_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            sqlite_synchronous=sqlite_synchronous,
        )
        self.dialect = self.engine.dialect.name
        self._sqlite_writer = threading.RLock()  # a nested write fails on busy_timeout, never hangs

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work (rolled back on exit) that sees one snapshot.

        On PostgreSQL it runs ``REPEATABLE READ``: under the default ``READ COMMITTED``
        each statement saw the commits made before it, so two reads of one unit could
        disagree (a model shown ready and not active while one commit made it both).  A
        read-only transaction at that level never fails to serialize.  SQLite reads in a
        transaction (``BEGIN``) already see one snapshot."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    @contextmanager
    def lookup(self) -> Iterator[Connection]:
        """Reads that need no common snapshot: on PostgreSQL they run in autocommit, which
        saves the BEGIN and ROLLBACK round trips (the hot path's key and taxonomy lookups)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception.

        On SQLite the threads of this process also queue on a lock first: SQLite has one
        writer at a time anyway, and its busy handler sleeps in growing steps (up to
        100 ms) where a lock hands over at once.  Other processes still wait on
        ``busy_timeout``.
        """
        if not self.is_sqlite:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self._sqlite_writer, self.engine.connect() as conn:
            conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """One round trip to the database (raises what the driver raises)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
