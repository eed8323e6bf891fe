"""Sending: SMTP when configured, otherwise files in the data directory's outbox."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from api.core.settings import Settings
from api.mail.compose import Email, header_safe

log = logging.getLogger(__name__)

_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def forget(self, recipient_keys: set[str]) -> int:
        """Drop the copies this transport keeps of mails to these recipients; how many went."""
        ...


def recipient_key(address: str) -> str:
    """An address as a job may carry it after its owner was erased: a hash, not the address."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


class SmtpTransport:
    """smtp://user:password@host:port (STARTTLS when the server offers it) or smtps:// (TLS)."""

    def __init__(self, url: str) -> None:
        parts = urlparse(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                f"CLUSTERMATCH_SMTP_URL must look like smtp://user:password@host:587, not {url!r}"
            )
        self.tls = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    def send(self, message: EmailMessage) -> None:
        client = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
        with client(self.host, self.port, timeout=30) as smtp:
            if not self.tls and smtp.has_extn("starttls"):
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)

    def forget(self, recipient_keys: set[str]) -> int:
        return 0  # the mails left the platform: nothing of them is kept here


class OutboxTransport:
    """Development default: each message becomes a .eml file, and a log line says where.

    One file per Message-ID, as a mailbox that drops repeats would keep it: the one repeat a
    crash between a send and its "sent" mark can cause (`api.notifications.delivery`) finds its
    file there and is not written again. The file appears whole or not at all (written aside,
    then linked into place, which fails if the name exists). SMTP delivers such a repeat twice,
    with the same Message-ID.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = _FILE_UNSAFE.sub("", str(message["Message-ID"] or "").strip("<>").split("@")[0])[:200]
        path = self.folder / f"{key or uuid.uuid4().hex}.eml"
        aside = self.folder / f".{uuid.uuid4().hex}.tmp"
        aside.write_bytes(bytes(message))
        try:
            os.link(aside, path)
        except FileExistsError:
            log.info(
                "e-mail %s to %s is already in the outbox (%s): not written again", key, message["To"], path
            )
            return
        finally:
            aside.unlink()
        log.info("e-mail to %s written to %s (CLUSTERMATCH_SMTP_URL is not set)", message["To"], path)

    def forget(self, recipient_keys: set[str]) -> int:
        forgotten = 0
        for path in self.folder.glob("*.eml") if self.folder.is_dir() else ():
            with path.open("rb") as handle:
                headers = BytesHeaderParser(policy=policy.default).parse(handle)
            if recipient_key(parseaddr(str(headers["To"] or ""))[1]) in recipient_keys:
                path.unlink(missing_ok=True)
                forgotten += 1
        return forgotten


def transport_for(settings: Settings) -> Transport:
    return SmtpTransport(settings.smtp_url) if settings.smtp_url else OutboxTransport(settings.outbox_dir)


def to_message(email: Email, sender: str) -> EmailMessage:
    """The MIME message; every header value is one clean line, whatever the text it came from."""
    message = EmailMessage()
    message["From"], message["To"] = header_safe(sender), header_safe(email.to)
    message["Subject"] = header_safe(email.subject)
    message["Date"] = formatdate(localtime=False)
    # A stable Message-ID per delivery: a resend after a crash carries the same one.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "clustermatch"
    key = _FILE_UNSAFE.sub("", email.key)
    message["Message-ID"] = f"<{key}@{domain}>" if key else make_msgid(domain=domain)
    message.set_content(email.body)
    return message
