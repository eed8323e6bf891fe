"""Where the current request comes from, for the audit log, without handing services a Request.

A tiny ASGI middleware puts the client address in a context variable for the length of the
request; FastAPI runs sync endpoints in threads that copy the context, so services read it
there too. Outside a request (workers, CLI) it is None.
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

_client_ip: ContextVar[str | None] = ContextVar("clustermatch_client_ip", default=None)


def current_ip() -> str | None:
    return _client_ip.get()


class RequestOriginMiddleware:
    """Sets `current_ip()` for each HTTP request (the peer address uvicorn reports)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = _client_ip.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            _client_ip.reset(token)
