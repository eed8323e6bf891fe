"""One log format for every process."""

from __future__ import annotations


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """`fmt` "json": one JSON object per line; "text": for a terminal. Both carry the request
    id and message id of the line (api/operations/logs.py)."""
    from api.operations.logs import configure

    configure(level, fmt)
