"""Rate and ETA of work counted in steps (a bulk job's rows, a training's fit steps)."""

from __future__ import annotations

import math

__all__ = ["eta_seconds", "paced_eta_seconds", "rate_per_second"]


def rate_per_second(done: int, elapsed_s: float) -> float | None:
    """Steps per second so far; None before the first step (or any time) has passed."""
    return done / elapsed_s if done > 0 and elapsed_s > 0 else None


def eta_seconds(done: int, total: int, rate: float | None) -> float | None:
    """Seconds until ``total`` at ``rate`` (rounded to 0.1 s); None without a rate."""
    return round(max(total - done, 0) / rate, 1) if rate else None


def paced_eta_seconds(
    left: int, per_minute: int | None, second_of_minute: float, eta: float | None
) -> float | None:
    """``eta``, or more when a per-minute limit must pace ``left`` steps: at most
    ``per_minute`` a calendar minute, so ``ceil(left / per_minute) - 1`` minute boundaries
    at the least (the first after the rest of this minute).  A rate measured over a run that
    has waited between minutes said 22 s where 200 rows at 100 a minute take a minute."""
    if not per_minute or left <= per_minute or eta is None:
        return eta
    boundaries = math.ceil(left / per_minute) - 1
    floor = (60.0 - second_of_minute) + 60.0 * (boundaries - 1)
    return round(max(eta, floor), 1)
