"""Notifications with their deliveries, delivered through the real services and transports."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from api.core.db import sessions_for, unit_of_work
from api.core.uow import transaction
from api.mail.transport import OutboxTransport, Transport
from api.models import Delivery, User
from api.models.base import utcnow
from api.notifications.channels import EmailChannel, MailSettings
from api.notifications.delivery import deliver, deliver_many
from api.notifications.digest import send_digest
from api.notifications.service import notify_users
from tests import factories

MAIL = MailSettings(
    sender="cm <noreply@example.it>", base_url="http://x", daily_cap=20, review_window=timedelta(minutes=5)
)


class Mailer:
    """E-mail deliveries of test users, sent to a real transport (the outbox by default)."""

    def __init__(self, settings, transport: Transport | None = None, mail: MailSettings = MAIL) -> None:  # type: ignore[no-untyped-def]
        self.sessions = sessions_for(settings.resolved_database_url)
        self.outbox = Path(settings.data_dir) / "outbox"
        self.channel = EmailChannel(transport or OutboxTransport(self.outbox), mail)
        self.broker = StubBroker()

    def units(self):  # type: ignore[no-untyped-def]
        return transaction(self.sessions, self.broker)

    def user(self, frequency: str = "instant", role: str = "member") -> int:
        with unit_of_work(self.sessions) as session:
            user = factories.member(session)
            user.email_frequency, user.role = frequency, role
            session.flush()
            return user.id

    def notify(
        self, user_id: int, *, suggestion_id: int, kind: str = "suggestion.new", tag: str = "1"
    ) -> int:
        """One notification; returns its e-mail delivery's id."""
        with unit_of_work(self.sessions) as session:
            [notification] = notify_users(
                session,
                [session.get(User, user_id)],
                kind=kind,
                payload={"suggestion_id": suggestion_id, "need": {"title": f"Need {suggestion_id}"}},
                dedupe_key=f"suggestion:{suggestion_id}:{kind.split('.')[1]}:{tag}",
            )
            session.flush()
            return session.scalar(
                select(Delivery.id).where(
                    Delivery.notification_id == notification.id, Delivery.channel == "email"
                )
            )

    def deliver(self, delivery_id: int, *, now: datetime | None = None, max_attempts: int = 5) -> str:
        return deliver(
            self.units,
            {"email": self.channel},
            delivery_id=delivery_id,
            max_attempts=max_attempts,
            clock=lambda: now or utcnow(),
        )

    def deliver_many(self, delivery_ids: list[int], *, max_attempts: int = 5) -> dict[int, str]:
        return deliver_many(
            self.units, {"email": self.channel}, delivery_ids=delivery_ids, max_attempts=max_attempts
        )

    def digest(self, user_id: int, *, now: datetime | None = None, max_attempts: int = 5) -> int:
        return send_digest(
            self.units,
            self.channel,
            user_id=user_id,
            max_attempts=max_attempts,
            clock=lambda: now or utcnow(),
        )

    def rows(self, ids: list[int]) -> list[Delivery]:
        with self.sessions() as session:
            rows = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
            for row in rows.values():
                session.expunge(row)
        return [rows[i] for i in ids]

    def statuses(self, ids: list[int]) -> list[str]:
        return [row.status for row in self.rows(ids)]

    def mails(self) -> list[EmailMessage]:
        paths = sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]  # type: ignore[misc]
