"""One BLAS thread while any training runs in the process.

A training makes many small BLAS calls, where a multi-threaded BLAS spends more time
synchronising than computing (10x+ slower on a busy 2-core machine); its held-out fits run
side by side in threads of their own instead.  OpenBLAS (pthreads build, as in the numpy
and scipy wheels) has one thread pool for the whole process, so trainings that overlap
(taxonomies training at once in one server) share one limit: the first to start sets it
and the last to finish restores it.  A ``threadpoolctl.threadpool_limits`` context per
training restored the setting when the first one ended and put a training still running
back on several BLAS threads, where OpenBLAS sums some products in another order: its
model depended, in the ninth digit, on when the other training ended.

threadpoolctl lets only one thread (the "controlling" one) change a process-wide pool; the
first and the last holder may be different threads, so each hands control back as soon
as it has set or restored the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import threadpoolctl
from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread"]

_lock = threading.Lock()
_holders = 0
_limit: threadpool_limits | None = None


def _hand_back() -> None:
    """Let another thread set the process-wide pool next (threadpoolctl >= 3.6)."""
    controller = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(controller, "clear_controlling_thread", None)
    if clear is not None:
        clear()  # only where this thread holds control


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread from the first holder's entry to the last holder's exit."""
    global _holders, _limit
    with _lock:
        if _holders == 0:
            _limit = threadpool_limits(limits=1, user_api="blas")
            _hand_back()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _limit is not None:
                _limit.restore_original_limits()
                _hand_back()
                _limit = None
