"""Dependencies of the web pages, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from triaged.web.session import Session, SessionCodec

__all__ = ["WebSession", "web_session"]


def web_session(request: Request) -> Session:
    """The signed-in reviewer (raises SignInRequired, which redirects to the sign-in page)."""
    return SessionCodec.for_request(request).read(request)


WebSession = Annotated[Session, Depends(web_session)]
