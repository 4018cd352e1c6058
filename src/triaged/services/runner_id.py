"""Who runs a bulk job: this process's identity, and whether a recorded one is gone.

A run records ``host/boot/pid/start`` when it claims a job (host name, the kernel's boot id,
the process id and its start time in clock ticks since boot, from ``/proc``).  A process
that finds a running job whose runner is on this machine (same host name and boot) and no
longer alive (no such pid, or a pid reused by a later process) takes it over at once instead
of waiting ``job_stalled_seconds`` for the heartbeat to go stale.  Anything uncertain (another
machine, no ``/proc``, an unreadable identity) answers "not known to be gone", and the
heartbeat rule decides.  A wrong "gone" would cost a duplicate run's work only: runs are
fenced by their claim token, so a run taken over writes nothing more.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

__all__ = ["known_dead", "this_runner"]

_PROC = Path("/proc")


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str:
    """The process's start time (field 22 of ``/proc/PID/stat``), or "" when it is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


@functools.cache
def _machine() -> str:
    return f"{socket.gethostname()}/{_boot_id()}"


def this_runner() -> str:
    """``host/boot/pid/start`` of this process (pid and start "" where /proc is missing)."""
    pid = os.getpid()
    start = _start_ticks(pid)
    return f"{_machine()}/{pid if start else ''}/{start}"


def known_dead(runner: str | None) -> bool:
    """True only when ``runner`` ran on this machine (since its last boot) and is gone."""
    parts = (runner or "").rsplit("/", 2)
    if len(parts) != 3 or not _boot_id():
        return False
    where, pid, start = parts
    if where != _machine() or not pid.isdigit() or not start:
        return False
    return _start_ticks(int(pid)) != start
