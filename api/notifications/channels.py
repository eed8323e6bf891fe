"""The delivery channels behind one small interface: decide (in the transaction), then send (I/O).

A channel's `plan` runs inside the delivery's unit of work and says what to do with it;
`send` does the I/O afterwards and raises when it fails, so the delivery is retried. Live
stream and e-mail are interchangeable here; a webhook would be a third class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.mail.compose import Email, notification_email
from api.mail.transport import Transport, to_message
from api.models import Delivery, Notification, User
from api.notifications import bus
from api.notifications.rules import DAY, DEFER, SEND, SKIP, Mailbox, email_fate
from api.notifications.service import to_event

LIVE, EMAIL = "live", "email"
SENT, PENDING, DEFERRED, SKIPPED, FAILED = "sent", "pending", "deferred", "skipped", "failed"


@dataclass(frozen=True)
class Plan:
    action: str  # SEND, DEFER or SKIP (see api.notifications.rules)
    outgoing: Any = None  # SEND: what `send` takes
    mail_key: str | None = None
    reason: str = ""
    due_at: datetime | None = None


class Channel(Protocol):
    name: str

    def plan(
        self, session: Session, delivery: Delivery, notification: Notification, user: User, now: datetime
    ) -> Plan: ...

    def send(self, outgoing: Any) -> None: ...


class LiveChannel:
    """Redis pub/sub, one channel per user; the stream replays from the database, and clients
    drop repeats by id, so a repeated publish is harmless."""

    name = LIVE

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def plan(
        self, session: Session, delivery: Delivery, notification: Notification, user: User, now: datetime
    ) -> Plan:
        return Plan(SEND, outgoing=(user.id, to_event(notification)))

    def send(self, outgoing: tuple[int, dict[str, Any]]) -> None:
        user_id, event = outgoing
        bus.publish(self.client, user_id=user_id, event=event)


@dataclass(frozen=True)
class MailSettings:
    sender: str
    base_url: str
    daily_cap: int
    review_window: timedelta

    @classmethod
    def from_settings(cls, settings: Any) -> MailSettings:
        return cls(
            sender=settings.mail_from,
            base_url=settings.resolved_public_url,
            daily_cap=settings.mail_daily_cap,
            review_window=timedelta(seconds=settings.mail_review_window_seconds),
        )


def delivery_key(delivery_id: int) -> str:
    """The Message-ID key of one delivery's mail: a resend after a crash carries the same one."""
    return f"cm-delivery-{delivery_id}"


class EmailChannel:
    """One mail per delivery when the rules say now; otherwise the delivery waits for a digest."""

    name = EMAIL

    def __init__(self, transport: Transport, mail: MailSettings) -> None:
        self.transport = transport
        self.mail = mail

    def plan(
        self, session: Session, delivery: Delivery, notification: Notification, user: User, now: datetime
    ) -> Plan:
        fate = email_fate(
            kind=notification.kind,
            mailbox=mailbox_of(session, user, cap=self.mail.daily_cap, now=now),
            already_mailed=already_mailed(session, notification),
            review_window=self.mail.review_window,
            now=now,
        )
        if fate.action != SEND:
            return Plan(fate.action, reason=fate.reason, due_at=fate.due_at)
        key = delivery_key(delivery.id)
        email = notification_email(
            user.email,
            notification.id,
            notification.kind,
            notification.payload,
            user.language,
            self.mail.base_url,
            key=key,
        )
        return Plan(SEND, outgoing=email, mail_key=key)

    def send(self, outgoing: Email) -> None:
        self.transport.send(to_message(outgoing, self.mail.sender))


def mailbox_of(session: Session, user: User, *, cap: int, now: datetime) -> Mailbox:
    """The recipient's preferences and the mails of the last 24 hours (a digest counts once)."""
    sent_today, oldest = session.execute(
        select(func.count(func.distinct(Delivery.mail_key)), func.min(Delivery.sent_at)).where(
            Delivery.recipient_id == user.id,
            Delivery.channel == EMAIL,
            Delivery.status == SENT,
            Delivery.sent_at >= now - DAY,
        )
    ).one()
    return Mailbox(
        frequency=user.email_frequency,
        last_digest_at=user.last_digest_at,
        sent_today=sent_today or 0,
        oldest_today=oldest,
        cap=cap,
    )


def already_mailed(session: Session, notification: Notification) -> bool:
    """The same event of the same suggestion was mailed, or waits in a digest, via another
    notification (e.g. one for an earlier revision)."""
    suggestion_id = notification.payload.get("suggestion_id")
    if suggestion_id is None:
        return False
    # Suggestion notifications are keyed "suggestion:<id>:<event>:…": the unique
    # (recipient, dedupe_key) index answers this without reading the user's whole history.
    earlier = session.scalar(
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(
            Notification.recipient_id == notification.recipient_id,
            Notification.dedupe_key.startswith(f"suggestion:{suggestion_id}:"),
            Notification.kind == notification.kind,
            Notification.id != notification.id,
            Delivery.channel == EMAIL,
            Delivery.status.in_((SENT, DEFERRED)),
        )
        .limit(1)
    )
    return earlier is not None


__all__ = ["DEFER", "SEND", "SKIP", "Channel", "EmailChannel", "LiveChannel", "MailSettings", "Plan"]
