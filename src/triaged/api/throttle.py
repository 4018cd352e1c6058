"""Throttling of failed authentication: :mod:`triaged.http.throttle` (shared with the web UI)."""

from __future__ import annotations

from triaged.http.throttle import FailureThrottle, key_prefix

__all__ = ["FailureThrottle", "key_prefix"]
