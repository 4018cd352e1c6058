"""Key presses on pages whose shortcuts come from a deferred script."""

from __future__ import annotations

from typing import Any

SHORTCUTS_LIVE = """() => !document.querySelector('script[src*="review.js"]')
  || document.documentElement.getAttribute('data-keys') === 'ready'"""


def press(page: Any, key: str) -> None:
    """Press ``key`` once the page's shortcut handler is attached.  ``review.js`` is
    deferred, so right after a navigation the item is on screen before its keys work;
    a key pressed in that gap is lost, and a test waiting for its effect times out."""
    page.wait_for_function(SHORTCUTS_LIVE)
    page.keyboard.press(key)
