"""Writing, listing and reading notifications.

Writing a notification also writes its deliveries (the outbox: one row per channel) in the same
unit of work; `dispatch` buffers one `notifications.deliver` job per delivery, sent after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, Select, bindparam, insert, select
from sqlalchemy.orm import Session

from api.core.db import insert_new
from api.core.errors import NotFound
from api.core.jobs import DELIVER_NOTIFICATION, JobBuffer
from api.models import Delivery, Notification, User
from api.models.base import utcnow

# Every notification reaches the user on each of these (a webhook would be one more name).
CHANNELS = ("live", "email")


# Deliveries one job carries: a match step's notifications on every channel, in one batch.
DELIVERY_BATCH = 50


def notify_organisation(
    session: Session,
    *,
    organisation_id: int,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
) -> list[Notification]:
    """One notification for each user of the organisation; repeats of dedupe_key are ignored."""
    return notify_organisations(session, [organisation_id], kind=kind, payload=payload, dedupe_key=dedupe_key)


def notify_organisations(
    session: Session, organisation_ids: list[int], *, kind: str, payload: dict[str, Any], dedupe_key: str
) -> list[Notification]:
    """The same notification for every user of these organisations, in their order, in one write."""
    order = {organisation_id: n for n, organisation_id in enumerate(dict.fromkeys(organisation_ids))}
    users = session.scalars(select(User).where(User.organisation_id.in_(list(order)))).all()
    users = sorted(users, key=lambda u: (order[u.organisation_id], u.id))
    return notify_users(session, users, kind=kind, payload=payload, dedupe_key=dedupe_key)


def notify_users(
    session: Session, users: Iterable[User], *, kind: str, payload: dict[str, Any], dedupe_key: str
) -> list[Notification]:
    """One notification (and its deliveries) for each of these users who has none with
    `dedupe_key` yet; returns the new ones. Two statements for all of them: the database skips a
    recipient who has one already (a repeated or concurrent run of the same job)."""
    now = utcnow()
    rows = [
        {
            "recipient_id": user.id,
            "kind": kind,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "created_at": now,
        }
        for user in users
    ]
    if not rows:
        return []
    new = insert_new(session, Notification, unique=["recipient_id", "dedupe_key"]).returning(Notification)
    created = list(session.scalars(new, rows))
    if created:
        session.execute(
            insert(Delivery),
            [
                {
                    "notification_id": n.id,
                    "recipient_id": n.recipient_id,
                    "channel": channel,
                    "created_at": now,
                }
                for n in created
                for channel in CHANNELS
            ],
        )
    return created


def dispatch(session: Session, jobs: JobBuffer, notifications: Iterable[Notification]) -> None:
    """Buffer the delivery jobs of these notifications (sent after the commit): one job for up to
    DELIVERY_BATCH of their deliveries, which the worker claims and marks in one commit each."""
    ids = [n.id for n in notifications]
    if not ids:
        return
    session.flush()
    delivery_ids = list(
        session.scalars(select(Delivery.id).where(Delivery.notification_id.in_(ids)).order_by(Delivery.id))
    )
    for start in range(0, len(delivery_ids), DELIVERY_BATCH):
        jobs.enqueue(DELIVER_NOTIFICATION, delivery_ids[start : start + DELIVERY_BATCH])


def _listing(*, unread_only: bool, oldest_first: bool) -> Select[tuple[Notification]]:
    query = select(Notification).where(
        Notification.recipient_id == bindparam("user_id"), Notification.id > bindparam("after_id")
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    order = Notification.id if oldest_first else Notification.id.desc()
    return query.order_by(order).limit(bindparam("limit", type_=Integer))


# Clients poll the list: its four statements are built once, so a request neither rebuilds one
# nor recomputes its cache key (the rows are still read fresh each time).
_LISTINGS = {
    (unread_only, oldest_first): _listing(unread_only=unread_only, oldest_first=oldest_first)
    for unread_only in (False, True)
    for oldest_first in (False, True)
}


def list_notifications(
    session: Session, *, user: User, unread_only: bool = False, after_id: int = 0, limit: int = 50
) -> list[Notification]:
    """The user's newest first; with `after_id`, those after it, oldest first (a catch-up)."""
    query = _LISTINGS[(unread_only, bool(after_id))]
    return list(session.scalars(query, {"user_id": user.id, "after_id": after_id, "limit": limit}))


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
