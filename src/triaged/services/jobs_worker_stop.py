"""Stopping a ``triaged worker`` whose database is gone, at once.

procrastinate's shutdown writes to the database: it records the end of each job in flight
and unregisters the worker, each through the queue's connection pool, whose ``getconn``
waits up to 30 s for a connection.  With PostgreSQL gone the pool can make none, so a
worker that had lost its database took ~30 s to exit after SIGTERM (~60 s with a job in
flight: one wait for the job, one for the worker) and then exited 1 with a traceback.

Once the worker is stopping (a signal, or procrastinate stopping a lane whose listener lost
its connection), :class:`StopWatch` checks the database with a fresh connection (at most
:data:`PROBE_TIMEOUT_S`) every :data:`PROBE_EVERY_S`; when it does not answer, the queue's
pool is closed, so each of those writes fails at once, and the worker stops without
waiting for its jobs in flight: they can commit nothing without the database, and another
worker's stalled-job sweep retries them once this worker's heartbeat is old, as for a
killed worker.  A database that answers leaves the stop graceful (the jobs in flight
finish first).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procrastinate import App
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PROBE_EVERY_S", "PROBE_TIMEOUT_S", "StopWatch", "lane"]

log = logging.getLogger("triaged.worker")

#: how long one check of the database may take (libpq ``connect_timeout``, whole seconds)
PROBE_TIMEOUT_S = 3
#: the pause between two checks while a stopping worker's database still answers
PROBE_EVERY_S = 1.0


class StopWatch:
    """Watches a stopping worker's database; see the module's docstring."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.lost = False  # the database did not answer while the worker stopped
        self._pools: list[AsyncConnectionPool] = []
        self._stopping = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def pool_factory(self, **kwargs: Any) -> AsyncConnectionPool:
        """procrastinate's ``pool_factory``: the pool it makes, kept to close it here."""
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(**kwargs)
        self._pools.append(pool)
        return pool

    def stopping(self) -> None:
        """The worker is stopping (from any thread: procrastinate may stop a lane from a
        job's thread)."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def reachable(self) -> bool:
        """True when a fresh connection to the database opens (and it is closed again)."""
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo, connect_timeout=PROBE_TIMEOUT_S
            )
        except (psycopg.Error, OSError):
            return False
        await conn.close()
        return True

    async def watch(self) -> None:
        """From the stop on, check the database until it does not answer; then close the
        queue's pool."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._stopping.is_set():
            self._wake.set()
        await self._wake.wait()
        while await self.reachable():
            await asyncio.sleep(PROBE_EVERY_S)
        self.lost = True
        log.warning(
            "stopping without the database (it does not answer): the jobs in flight are "
            "left to the stalled-job sweep of another worker"
        )
        for pool in self._pools:
            await pool.close(timeout=1.0)  # waiting and later getconn() fail at once


def lane(app: App, watch: StopWatch, **options: Any) -> Any:
    """A procrastinate ``Worker`` (one lane of this process) that tells ``watch`` when it
    stops, whoever stops it (a signal, or procrastinate after its listener failed)."""
    from procrastinate.worker import Worker

    class Lane(Worker):
        def stop(self) -> None:
            super().stop()  # type: ignore[no-untyped-call]
            watch.stopping()

    return Lane(app=app, **options)
