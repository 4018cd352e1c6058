"""/docs works offline: Swagger UI's files come from the installed fastapi-offline package.

Chromium runs with every request that is not to the local server refused (the ``page``
fixture aborts them and fails the test if any was made), so a CDN reference would leave the
page blank and fail here.
"""

from __future__ import annotations

from typing import Any


def test_docs_render_with_the_network_blocked(page: Any) -> None:
    refused: list[str] = []

    def only_local(route: Any) -> None:  # on top of the fixture's: anything not 127.0.0.1
        url = route.request.url
        if url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    operations = page.locator(".opblock").count()
    assert operations >= 40, operations
    text = page.locator("body").inner_text()
    assert "/v1/classify" in text and "List decisions, newest first" in text
    deprecated = page.locator(".opblock-deprecated").count()
    assert deprecated >= 2  # the aliases kept for one release are marked
    assert refused == []
    assert "cdn.jsdelivr" not in page.content()


def test_redoc_renders_without_any_outside_request(page: Any) -> None:
    """ReDoc's bundle draws a footer logo from cdn.redoc.ly; the page's policy keeps images
    on this origin, so the browser never asks for it (the fixture fails on any request that
    leaves the server, made or refused)."""
    tried: list[str] = []
    page.on("request", lambda request: tried.append(request.url))
    response = page.goto("/redoc")
    page.wait_for_function(
        "document.body.innerText.includes('List decisions, newest first')", timeout=30_000
    )
    page.wait_for_load_state("networkidle")
    outside = [url for url in tried if not url.startswith("http://127.0.0.1:")]
    assert outside == [], outside
    assert "img-src 'self'" in response.headers["content-security-policy"]
    # the bundle itself names no outside address (with the policy alone Chromium started
    # the logo's request now and then before refusing it)
    bundle = page.request.get(page.url.rstrip("/") + "/redoc.standalone.js")
    assert bundle.ok and "cdn.redoc.ly" not in bundle.text()
