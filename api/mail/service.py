"""Who is e-mailed about which notification, and when.

A notification is mailed at most once: the decision is claimed with a conditional update
(a concurrent or repeated job finds it taken), and one suggestion's same event is never mailed
twice, even when a later revision notifies again. A user receives at most `cap` e-mails a day.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from api.mail.compose import Email, digest_email, notification_email
from api.models import Notification, User
from api.models.enums import EmailFrequency

log = logging.getLogger(__name__)

SENT, QUEUED, SKIPPED = "sent", "queued", "skipped"
DAY = timedelta(days=1)


def plan_instant(
    session: Session, notification_ids: list[int], *, cap: int, base_url: str, now: datetime
) -> list[Email]:
    """Decide each notification's e-mail; returns the ones this caller has claimed and must send."""
    emails = []
    pending = session.scalars(
        select(Notification)
        .where(Notification.id.in_(notification_ids), Notification.email_status.is_(None))
        .order_by(Notification.id)
    )
    for notification in pending:
        user = session.get(User, notification.recipient_id)
        if user is None:
            continue
        status = _decide(session, notification, user, cap=cap, now=now)
        if not _claim(session, notification.id, status, now):
            continue  # another worker decided first
        if status == SENT:
            emails.append(
                notification_email(
                    user.email,
                    notification.id,
                    notification.kind,
                    notification.payload,
                    user.language,
                    base_url,
                )
            )
    return emails


def _decide(session: Session, notification: Notification, user: User, *, cap: int, now: datetime) -> str:
    if user.email_frequency == EmailFrequency.off.value:
        return SKIPPED
    if _already_mailed(session, notification):
        log.info("notification %s not mailed: the same event was mailed before", notification.id)
        return SKIPPED
    if user.email_frequency == EmailFrequency.daily.value:
        return QUEUED
    if _sent_since(session, user.id, now - DAY) >= cap:
        log.warning(
            "notification %s not mailed: user %s reached %d e-mails today", notification.id, user.id, cap
        )
        return SKIPPED
    return SENT


def _already_mailed(session: Session, notification: Notification) -> bool:
    suggestion_id = notification.payload.get("suggestion_id")
    if suggestion_id is None:
        return False
    # Suggestion notifications are keyed "suggestion:<id>:<event>:…": the unique
    # (recipient, dedupe_key) index answers this without reading the user's whole history.
    earlier = session.scalar(
        select(Notification.id)
        .where(
            Notification.recipient_id == notification.recipient_id,
            Notification.dedupe_key.startswith(f"suggestion:{suggestion_id}:"),
            Notification.kind == notification.kind,
            Notification.id != notification.id,
            Notification.email_status.in_((SENT, QUEUED)),
        )
        .limit(1)
    )
    return earlier is not None


def _sent_since(session: Session, user_id: int, since: datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.recipient_id == user_id,
            Notification.email_status == SENT,
            Notification.emailed_at >= since,
        )
    )


def _claim(session: Session, notification_id: int, status: str, now: datetime) -> bool:
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.email_status.is_(None))
        .values(email_status=status, emailed_at=now if status == SENT else None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(session: Session, notification_ids: tuple[int, ...]) -> None:
    """Sending failed: undo the claim so a retry sends it."""
    session.execute(
        update(Notification)
        .where(Notification.id.in_(notification_ids), Notification.email_status == SENT)
        .values(email_status=None, emailed_at=None)
        .execution_options(synchronize_session=False)
    )


def plan_digests(session: Session, *, base_url: str, now: datetime) -> list[Email]:
    """One e-mail per daily-digest user whose last digest is a day old and who has news."""
    users = session.scalars(
        select(User).where(
            User.email_frequency == EmailFrequency.daily.value,
            or_(User.last_digest_at.is_(None), User.last_digest_at <= now - DAY),
        )
    )
    emails = []
    for user in users:
        queued = list(
            session.scalars(
                select(Notification)
                .where(Notification.recipient_id == user.id, Notification.email_status == QUEUED)
                .order_by(Notification.id)
            )
        )
        if not queued:
            continue
        ids = [n.id for n in queued]
        session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.email_status == QUEUED)
            .values(email_status=SENT, emailed_at=now)
            .execution_options(synchronize_session=False)
        )
        user.last_digest_at = now
        emails.append(
            digest_email(user.email, [(n.id, n.kind, n.payload) for n in queued], user.language, base_url)
        )
    return emails
