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

A job that needs no database for a while (a training computes for minutes before it
stores its model) would still hold the exit: procrastinate waits for its jobs, and Python
joins an executor's threads at exit.  So the worker's jobs run in :class:`JobThreads`,
daemon threads of the event loop's default executor, and :func:`until_stopped` waits
:data:`LEAVE_AFTER_S` for the jobs once the database is lost, then leaves those that still
run (nothing they do can be stored; their retry runs them again); the CLI then ends the
process with ``os._exit`` (:func:`jobs_left`), as ``triaged serve`` does for a training
it abandons.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procrastinate import App
    from psycopg_pool import AsyncConnectionPool

__all__ = [
    "LEAVE_AFTER_S",
    "PROBE_EVERY_S",
    "PROBE_TIMEOUT_S",
    "JobThreads",
    "StopWatch",
    "jobs_left",
    "lane",
    "until_stopped",
]

log = logging.getLogger("triaged.worker")

#: how long one check of the database may take (libpq ``connect_timeout``, whole seconds)
PROBE_TIMEOUT_S = 3
#: the pause between two checks while a stopping worker's database still answers
PROBE_EVERY_S = 1.0
#: how long a worker that lost its database still waits for its jobs in flight
LEAVE_AFTER_S = 2.0


class StopWatch:
    """Watches a stopping worker's database; see the module's docstring."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.lost = False  # the database did not answer while the worker stopped
        self.lost_event = asyncio.Event()
        self._pools: list[AsyncConnectionPool] = []
        self._stopping = threading.Event()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def pool_factory(self, **kwargs: Any) -> AsyncConnectionPool:
        """procrastinate's ``pool_factory``: the pool it makes, kept to close it here."""
        pool = _closing_pool_class()(**kwargs)
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
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(self.conninfo, connect_timeout=PROBE_TIMEOUT_S),
                PROBE_TIMEOUT_S + 1,
            )
        except (psycopg.Error, OSError, TimeoutError):
            return False
        except Exception:  # anything else: say so, and take the database as gone
            log.warning("checking the database failed", exc_info=True)
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
        log.debug("stopping: checking the database")
        while await self.reachable():
            await asyncio.sleep(PROBE_EVERY_S)
        self.lost = True
        self.lost_event.set()
        log.warning(
            "stopping without the database (it does not answer): the jobs in flight are "
            "left to the stalled-job sweep of another worker"
        )
        for pool in self._pools:
            await pool.close(timeout=1.0)  # waiting and later getconn() fail at once


def _closing_pool_class() -> type[AsyncConnectionPool]:
    from psycopg_pool import AsyncConnectionPool, PoolClosed

    class ClosingPool(AsyncConnectionPool):
        """psycopg_pool's pool, except that a closed pool refuses every client at once.
        psycopg_pool fails the clients waiting when it closes, but a client whose connection
        just failed the pool's check (procrastinate's pools check each connection: the
        server had dropped them) waits again in its check-and-retry loop, on the closed
        pool, until its 30 s timeout."""

        async def _get_ready_connection(self, timeout: float | None) -> Any:
            if self.closed:  # (called under the pool's lock, as close() sets it)
                raise PoolClosed(f"the pool {self.name!r} is closed")
            return await super()._get_ready_connection(timeout)

    return ClosingPool


def lane(app: App, watch: StopWatch, **options: Any) -> Any:
    """A procrastinate ``Worker`` (one lane of this process) that tells ``watch`` when it
    stops, whoever stops it (a signal, or procrastinate after its listener failed)."""
    from procrastinate.worker import Worker

    class Lane(Worker):
        def stop(self) -> None:
            super().stop()  # type: ignore[no-untyped-call]
            watch.stopping()

    return Lane(app=app, **options)


class JobThreads(ThreadPoolExecutor):
    """The event loop's default executor in a worker (procrastinate runs each sync job
    through it): one daemon thread per call, so a thread left running does not hold the
    process at exit (a ``ThreadPoolExecutor``'s threads are joined then), and
    :meth:`shutdown` waits for the threads unless :attr:`leave` is set."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="triaged-job")
        self.leave = False
        self._live: set[threading.Thread] = set()
        self._guard = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._guard:
                    self._live.discard(threading.current_thread())

        thread = threading.Thread(target=run, name="triaged-job", daemon=True)
        with self._guard:
            self._live.add(thread)
        thread.start()
        return future

    def running(self) -> int:
        with self._guard:
            return len(self._live)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if not wait or self.leave:
            return
        with self._guard:
            live = list(self._live)
        for thread in live:
            thread.join()


#: the executors whose jobs were left running (see :func:`jobs_left`)
LEFT: list[JobThreads] = []


def jobs_left() -> int:
    """Jobs this process left running when its database was lost and that still run: the
    process must then end with ``os._exit`` (a thread in native code at interpreter
    shutdown aborted it: "terminate called without an active exception")."""
    return sum(threads.running() for threads in LEFT)


async def until_stopped(running: asyncio.Task[Any], watch: StopWatch, threads: JobThreads) -> None:
    """Wait for the worker task ``running``; once ``watch`` found the database lost, at most
    :data:`LEAVE_AFTER_S` more, then leave the jobs that still run (see the module)."""
    lost = asyncio.create_task(watch.lost_event.wait())
    try:
        await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            await asyncio.wait({running}, timeout=LEAVE_AFTER_S)
    finally:
        lost.cancel()
    if running.done():
        await running  # its outcome (an error) for the caller
        return
    threads.leave = True
    LEFT.append(threads)
    log.warning(
        "leaving %d job(s) that still run without the database (their retry runs them again)",
        threads.running(),
    )
    running.cancel()  # asyncio.run then cancels what procrastinate still waits on
