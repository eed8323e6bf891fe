"""Log lines that follow a posting: JSON or text, each with its request id and message id.

The API takes a request's id from `X-Request-ID` (or makes one), returns it in the response
and keeps it in a context variable; jobs enqueued during the request carry it in their
message options (`api.core.jobs.JobBuffer.flush`), and a worker puts it back in the context, with
the message id, while it runs the message, so jobs enqueued by that job carry it on. Every
log record gets both as attributes, whatever logger wrote it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import dramatiq

from api.operations.deadletters import REQUEST_ID_OPTION

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
message_id_var: ContextVar[str | None] = ContextVar("message_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
# An incoming id is kept only if it is short and plain (it ends up in every log line).
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s%(context)s: %(message)s"
# No secret reaches a log line through a URL, even one a client wrongly sends there.
_SECRET_QUERY = re.compile(r"([?&][^=&#\s]*(?:token|password|secret|csrf)[^=&#\s]*=)[^&#\s]*", re.IGNORECASE)


def redact_query(url: str) -> str:
    """`/stream?access_token=eyJ…&x=1` -> `/stream?access_token=[redacted]&x=1`."""
    return _SECRET_QUERY.sub(r"\1[redacted]", url)


def current_request_id() -> str | None:
    return request_id_var.get()


# --- records ---------------------------------------------------------------------------------

_base_factory = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) > 2:
        # uvicorn's access line: (client, method, path with query, http version, status).
        record.args = (*record.args[:2], redact_query(str(record.args[2])), *record.args[3:])
    record.request_id = request_id_var.get()
    record.message_id = message_id_var.get()
    parts = [f"request={record.request_id}"] if record.request_id else []
    if record.message_id:
        parts.append(f"message={record.message_id}")
    record.context = f" [{' '.join(parts)}]" if parts else ""
    return record


def install_record_context() -> None:
    """Give every log record `request_id`, `message_id` and `context` (idempotent)."""
    if logging.getLogRecordFactory() is not _record_with_context:
        logging.setLogRecordFactory(_record_with_context)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, process, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "thread": record.threadName,
            "message": record.getMessage(),
        }
        for key in ("request_id", "message_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter_for(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Set the level and the format of every handler on the root logger (one if none).

    Dramatiq's worker processes and uvicorn install handlers of their own before our code
    runs; their streams are kept, their format becomes ours. pytest's capture handlers are
    left alone.
    """
    install_record_context()
    root = logging.getLogger()
    root.setLevel(level.upper())
    handlers = [h for h in root.handlers if not type(h).__module__.startswith("_pytest")]
    if not handlers:
        handler = logging.StreamHandler()
        root.addHandler(handler)
        handlers = [handler]
    formatter = formatter_for(fmt)
    for handler in handlers:
        handler.setFormatter(formatter)
    if fmt == "json":
        # uvicorn's own handlers print text: let its records reach ours instead.
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True


# --- the API: X-Request-ID -------------------------------------------------------------------


class RequestIdMiddleware:
    """ASGI middleware: honour an incoming X-Request-ID, else make one; echo it in the response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _ACCEPTABLE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER.encode()
                ]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


# --- the workers: message id and the request id it came with ---------------------------------


class MessageLogContext(dramatiq.Middleware):
    """Puts the message id and its request id in the log context while a message runs."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        message_id_var.set(message.message_id)
        request_id_var.set(message.options.get(REQUEST_ID_OPTION))

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        message_id_var.set(None)
        request_id_var.set(None)

    after_skip_message = after_process_message
