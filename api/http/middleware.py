"""The app's HTTP middleware, as one ordered list, and the two that guard every response.

Order matters: the first entry is the outermost (it sees the request first and the response
last). Add a middleware by adding one line to `middleware_stack`, at the place its comment
says, never with `app.add_middleware` elsewhere.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit.origin import RequestOriginMiddleware
from api.core.settings import Settings
from api.http.errors import body_too_large_message, error_response
from api.operations.logs import RequestIdMiddleware
from api.operations.metrics import HttpMetricsMiddleware

# Pages and API: scripts, styles and images from this origin only, no inline script or style,
# never inside another site's frame, forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def middleware_stack(settings: Settings) -> list[Middleware]:
    """Outermost first. FastAPI adds its error middleware outside these and its exception
    handlers inside them."""
    return [
        # 1. Headers on every response, including the refusals of the middleware below.
        Middleware(SecurityHeadersMiddleware),
        # 2. The request id (X-Request-ID in and out, in every log line of the request and of
        #    the jobs it causes), then metrics: they then count every answer, 413 included.
        Middleware(RequestIdMiddleware),
        Middleware(HttpMetricsMiddleware),
        # 3. Bodies past the limit answer 413 (declared or streamed), before any parsing.
        Middleware(BodySizeLimitMiddleware, max_body_size=settings.max_request_body_bytes),
        # 4. The client address for the audit log, readable by services without the Request.
        Middleware(RequestOriginMiddleware),
    ]


class SecurityHeadersMiddleware:
    """CSP, framing, sniffing and referrer headers on every response; private data never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request_headers = Headers(scope=scope)
        # API answers are per user; a page seen with a session cookie is too (static files are not).
        private = path.startswith("/api/") or (
            not path.startswith("/static/")
            and ("authorization" in request_headers or "cookie" in request_headers)
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if private and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised while the app reads the body; FastAPI passes HTTPExceptions on to the handlers."""

    def __init__(self, max_body_size: int) -> None:
        super().__init__(status_code=413, detail=body_too_large_message(max_body_size))


class BodySizeLimitMiddleware:
    """413 past `max_body_size` bytes, in the API's error shape: a declared Content-Length is
    refused before the app reads a byte; a body without one (chunked) is counted as it streams."""

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_size:
            await error_response(413, body_too_large_message(self.max_body_size))(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise BodyTooLarge(self.max_body_size)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge as exc:
            # Normally the app's handler has answered; this covers a body read outside a route.
            if started:
                raise
            await error_response(413, str(exc.detail))(scope, receive, send)
