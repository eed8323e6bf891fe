"""Writing, listing and reading notifications.

Writing a notification also writes its deliveries (the outbox: one row per channel) in the same
unit of work; `dispatch` buffers one `notifications.deliver` job per delivery, sent after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.errors import NotFound
from api.core.jobs import DELIVER_NOTIFICATION, JobBuffer
from api.models import Delivery, Notification, User
from api.models.base import utcnow

# Every notification reaches the user on each of these (a webhook would be one more name).
CHANNELS = ("live", "email")


def notify_organisation(
    session: Session,
    *,
    organisation_id: int,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
) -> list[Notification]:
    """One notification for each user of the organisation; repeats of dedupe_key are ignored."""
    users = session.scalars(select(User).where(User.organisation_id == organisation_id)).all()
    return notify_users(session, users, kind=kind, payload=payload, dedupe_key=dedupe_key)


def notify_users(
    session: Session, users: Iterable[User], *, kind: str, payload: dict[str, Any], dedupe_key: str
) -> list[Notification]:
    created = []
    for user in users:
        exists = session.scalar(
            select(Notification.id).where(
                Notification.recipient_id == user.id, Notification.dedupe_key == dedupe_key
            )
        )
        if exists:
            continue
        notification = Notification(recipient_id=user.id, kind=kind, payload=payload, dedupe_key=dedupe_key)
        try:
            with session.begin_nested():
                session.add(notification)
                session.flush()
                session.add_all(
                    Delivery(notification_id=notification.id, recipient_id=user.id, channel=channel)
                    for channel in CHANNELS
                )
        except IntegrityError:  # written meanwhile by a concurrent retry of the same job
            continue
        created.append(notification)
    return created


def dispatch(session: Session, jobs: JobBuffer, notifications: Iterable[Notification]) -> None:
    """Buffer one delivery job per channel of each notification (sent after the commit)."""
    ids = [n.id for n in notifications]
    if not ids:
        return
    session.flush()
    for delivery_id in session.scalars(
        select(Delivery.id).where(Delivery.notification_id.in_(ids)).order_by(Delivery.id)
    ):
        jobs.enqueue(DELIVER_NOTIFICATION, delivery_id)


def list_notifications(
    session: Session, *, user: User, unread_only: bool = False, after_id: int = 0, limit: int = 50
) -> list[Notification]:
    query = select(Notification).where(Notification.recipient_id == user.id, Notification.id > after_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if after_id:
        return list(session.scalars(query.order_by(Notification.id).limit(limit)))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def mark_read(session: Session, *, user: User, notification_id: int) -> Notification:
    notification = session.get(Notification, notification_id)
    if notification is None or notification.recipient_id != user.id:
        raise NotFound(f"Notification {notification_id} does not exist.")
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification


def to_event(notification: Notification) -> dict[str, Any]:
    """The JSON a client receives, in the list and on the live stream alike."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }
