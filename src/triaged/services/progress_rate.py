"""Rate and ETA of work counted in steps (a bulk job's rows, a training's fit steps)."""

from __future__ import annotations

__all__ = ["eta_seconds", "rate_per_second"]


def rate_per_second(done: int, elapsed_s: float) -> float | None:
    """Steps per second so far; None before the first step (or any time) has passed."""
    return done / elapsed_s if done > 0 and elapsed_s > 0 else None


def eta_seconds(done: int, total: int, rate: float | None) -> float | None:
    """Seconds until ``total`` at ``rate`` (rounded to 0.1 s); None without a rate."""
    return round(max(total - done, 0) / rate, 1) if rate else None
