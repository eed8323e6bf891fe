"""Digests: one mail carrying a user's deferred e-mail deliveries.

Deferred deliveries are a daily user's news, a facilitator's reviews waiting for their short
window to close, and what came after an instant user's daily cap. The periodic pass enqueues
`notifications.send_digest(user_id)` for every user with something due; the actor sends what
waits as one mail. Like a single delivery: the rows are claimed and committed first, marked
sent (and `last_digest_at` moved) only after the send; a failed send puts them back, due at
once, so the next attempt sends them. The Message-ID key is derived from the rows it carries.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.core.jobs import SEND_DIGEST, JobBuffer
from api.mail.compose import digest_email
from api.models import Delivery, Notification, User
from api.models.base import utcnow
from api.notifications.channels import DEFERRED, EMAIL, PENDING, SKIPPED, EmailChannel, mailbox_of
from api.notifications.delivery import LEASE, Units, mark_sent, record_failure
from api.notifications.rules import DEFER, SKIP, digest_fate
from api.operations.metrics import count_delivery

log = logging.getLogger(__name__)


def enqueue_due_digests(session: Session, *, jobs: JobBuffer, now: datetime) -> int:
    """The periodic pass: one send_digest job per user with a deferred delivery now due."""
    users = session.scalars(
        select(Delivery.recipient_id)
        .where(Delivery.channel == EMAIL, Delivery.status == DEFERRED, Delivery.next_attempt_at <= now)
        .distinct()
    ).all()
    for user_id in users:
        jobs.enqueue(SEND_DIGEST, user_id)
    return len(users)


def digest_key(user_id: int, delivery_ids: list[int]) -> str:
    digest = hashlib.sha1(",".join(map(str, sorted(delivery_ids))).encode()).hexdigest()[:12]
    return f"cm-digest-{user_id}-{digest}"


def _claim_due(session: Session, user: User, channel: EmailChannel, now: datetime) -> list[int]:
    """Decide, and take every deferred row of the user when the digest goes out now."""
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.recipient_id == user.id, Delivery.channel == EMAIL, Delivery.status == DEFERRED)
        .order_by(Delivery.id)
    ).all()
    mailbox = mailbox_of(session, user, cap=channel.mail.daily_cap, now=now)
    fate = digest_fate(mailbox=mailbox, due=[r.next_attempt_at or now for r in rows], now=now)
    if fate.action == SKIP:
        for row in rows:
            row.status, row.updated_at = SKIPPED, now
        return []
    if fate.action == DEFER:
        # Not yet (one digest a day, or the cap): push the due time so the pass stops asking.
        if fate.due_at is not None:
            for row in rows:
                if row.next_attempt_at is None or row.next_attempt_at < fate.due_at:
                    row.next_attempt_at = fate.due_at
        return []
    claimed = []
    for row in rows:
        result = session.execute(
            update(Delivery)
            .where(Delivery.id == row.id, Delivery.status == DEFERRED)
            .values(
                status=PENDING, attempts=Delivery.attempts + 1, next_attempt_at=now + LEASE, updated_at=now
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # a concurrent digest of the same user took the others
            claimed.append(row.id)
    return claimed


def send_digest(
    units: Units,
    channel: EmailChannel,
    *,
    user_id: int,
    max_attempts: int,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Send the user's due digest; returns how many notifications it carried (0: none due)."""
    now = clock()
    with units() as uow:
        user = uow.session.get(User, user_id)
        if user is None:
            return 0
        claimed = _claim_due(uow.session, user, channel, now)
    if not claimed:
        return 0
    key = digest_key(user_id, claimed)
    try:
        with units() as uow:
            user = uow.session.get(User, user_id)
            notifications = uow.session.scalars(
                select(Notification)
                .join(Delivery, Delivery.notification_id == Notification.id)
                .where(Delivery.id.in_(claimed))
                .order_by(Notification.id)
            ).all()
            email = digest_email(
                user.email,
                [(n.id, n.kind, n.payload) for n in notifications],
                user.language,
                channel.mail.base_url,
                key=key,
            )
            daily = user.email_frequency == "daily"
        channel.send(email)
    except Exception as exc:
        log.exception(
            "digest for user %s failed: its %d deliveries wait for the next attempt", user_id, len(claimed)
        )
        with units() as uow:
            failed = record_failure(
                uow.session,
                claimed,
                error=repr(exc),
                max_attempts=max_attempts,
                now=clock(),
                back_to=DEFERRED,
            )
        if len(failed) == len(claimed):
            return 0  # all out of attempts: marked failed, a retry would find nothing
        raise
    with units() as uow:
        sent_at = clock()
        mark_sent(uow.session, claimed, now=sent_at, mail_key=key)
        if daily:
            uow.session.get(User, user_id).last_digest_at = sent_at
    for _ in claimed:
        count_delivery(EMAIL, "sent")
    log.info("digest for user %s sent: %d notifications", user_id, len(claimed))
    return len(claimed)
