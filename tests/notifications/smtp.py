"""A real local SMTP server (aiosmtpd) that can refuse chosen recipients until told to recover."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.e2e.stack import free_port


class FlakyServer:
    """Accepts every message except those to `refused` addresses, while `refusing` is set."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.refused: set[str] = set()
        self.refusing = True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.refusing and address in self.refused:
            return "450 4.2.1 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


@contextmanager
def smtp_server() -> Iterator[tuple[FlakyServer, str]]:
    handler = FlakyServer()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()
