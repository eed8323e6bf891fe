"""Database trouble (locked, unreachable, timed out) answers 503 with Retry-After, not a bare 500."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_SECONDS = 5
DETAIL = "The database is busy or unreachable right now; nothing was saved. Try again in a few seconds."

# SQLite reports schema and syntax mistakes as OperationalError too: those are bugs, not trouble.
_BUG_MARKERS = ("no such table", "no such column", "has no column", "syntax error")


def is_database_trouble(exc: BaseException) -> bool:
    """True when retrying later can succeed: a lock, a lost or refused connection, a timeout."""
    if isinstance(exc, (PoolTimeout, DisconnectionError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        message = str(exc.orig if exc.orig is not None else exc).lower()
        return not any(marker in message for marker in _BUG_MARKERS)
    return False


def retry_after_seconds(request: Request) -> int:
    resources = getattr(request.app.state, "resources", None)
    settings = getattr(resources, "settings", None)
    return int(getattr(settings, "database_retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS))


async def database_error(request: Request, exc: Exception) -> Response:
    """The handler for every SQLAlchemyError: 503 for trouble, the 500 handler for bugs."""
    if not is_database_trouble(exc):
        fallback = request.app.exception_handlers.get(Exception)
        if fallback is not None:
            return await fallback(request, exc)
        log.exception("database error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"detail": "Internal server error: the staff is told."}, status_code=500)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": DETAIL}, status_code=503, headers={"Retry-After": str(retry_after_seconds(request))}
    )
