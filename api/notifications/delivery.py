"""Delivering one delivery row: claim it, let its channel decide and send, then mark it sent.

At least once, never silently lost: the row is claimed (attempts + 1, held for LEASE) and
committed before the send, and marked sent only after it. A failed send records the error and
leaves the row pending for Dramatiq's retry; after `max_attempts` it is marked failed. A worker
that dies between the send and the mark leaves the row pending: once the lease is over the
sweeper re-enqueues it and it is sent again. That repeat, at most one per crash, carries the
same Message-ID (`cm-delivery-<id>`): mail clients show it as a duplicate, and the outbox keeps
one file per Message-ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from api.core.jobs import DELIVER_NOTIFICATION, JobBuffer
from api.core.uow import UnitOfWork
from api.models import Delivery, Notification, User
from api.models.base import utcnow
from api.notifications.channels import DEFERRED, FAILED, PENDING, SENT, SKIPPED, Channel
from api.notifications.rules import DEFER, SEND
from api.operations.metrics import count_delivery

log = logging.getLogger(__name__)

# How long an attempt holds its row; above every notification actor's time limit, so a
# redelivered message never sends while the first attempt may still be running.
LEASE = timedelta(seconds=150)
ERROR_MAX = 2000

Units = Callable[[], AbstractContextManager[UnitOfWork]]


def claim(session: Session, delivery_id: int, now: datetime) -> bool:
    """Take a pending row that no attempt holds; False when it is done or held elsewhere."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == PENDING,
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        )
        .values(attempts=Delivery.attempts + 1, next_attempt_at=now + LEASE, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def record_failure(
    session: Session, delivery_ids: list[int], *, error: str, max_attempts: int, now: datetime, back_to: str
) -> list[int]:
    """An attempt failed: keep the error, free the rows for the next attempt (`back_to`: pending,
    or deferred for a digest), or mark failed those out of attempts. Returns the failed ids."""
    given_up = []
    for delivery in session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))):
        if delivery.status != PENDING:
            continue
        delivery.last_error = error[:ERROR_MAX]
        delivery.updated_at = now
        if delivery.attempts >= max_attempts:
            delivery.status = FAILED
            delivery.last_error = f"gave up after {delivery.attempts} attempts: {error}"[:ERROR_MAX]
            given_up.append(delivery.id)
        else:
            delivery.status = back_to
            delivery.next_attempt_at = now if back_to == DEFERRED else None
    return given_up


def mark_sent(session: Session, delivery_ids: list[int], *, now: datetime, mail_key: str | None) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.status == PENDING)
        .values(
            status=SENT, sent_at=now, updated_at=now, next_attempt_at=None, last_error=None, mail_key=mail_key
        )
        .execution_options(synchronize_session=False)
    )


def deliver(
    units: Units,
    channels: Mapping[str, Channel],
    *,
    delivery_id: int,
    max_attempts: int,
    clock: Callable[[], datetime] = utcnow,
) -> str:
    """Deliver one row; returns what happened (sent, deferred, skipped, failed, or "none" when
    there was nothing to do). Raises when the send failed and a retry may succeed."""
    now = clock()
    # One transaction claims the row and lets the channel decide; only a send needs a second.
    with units() as uow:
        session = uow.session
        if not claim(session, delivery_id, now):
            return "none"  # done already, or an attempt in flight holds it
        delivery = session.get(Delivery, delivery_id)
        channel_name = delivery.channel
        try:
            with session.begin_nested():
                channel = channels[channel_name]
                notification = session.get(Notification, delivery.notification_id)
                user = session.get(User, delivery.recipient_id)
                plan = channel.plan(session, delivery, notification, user, now)
        except Exception as exc:
            # Kept with the claim: the attempt counts, and the error is there to read.
            log.exception("delivery %s could not be prepared", delivery_id)
            error: Exception | None = exc
        else:
            error = None
            if plan.action != SEND:
                delivery.status = DEFERRED if plan.action == DEFER else SKIPPED
                delivery.next_attempt_at = plan.due_at
                delivery.last_error = None
                log.info("delivery %s %s: %s", delivery_id, delivery.status, plan.reason)
                count_delivery(channel_name, delivery.status)
                return delivery.status
        if error is not None:
            failed = record_failure(
                session, [delivery_id], error=repr(error), max_attempts=max_attempts, now=now, back_to=PENDING
            )
    if error is not None:
        count_delivery(channel_name, FAILED)
        if failed:
            return FAILED
        raise error
    try:
        channel.send(plan.outgoing)
    except Exception as exc:
        log.exception("delivery %s failed", delivery_id)
        count_delivery(channel_name, FAILED)
        with units() as uow:
            failed = record_failure(
                uow.session,
                [delivery_id],
                error=repr(exc),
                max_attempts=max_attempts,
                now=clock(),
                back_to=PENDING,
            )
        if failed:
            return FAILED  # out of attempts: a retry would not be counted
        raise
    with units() as uow:
        mark_sent(uow.session, [delivery_id], now=clock(), mail_key=plan.mail_key)
    count_delivery(channel_name, SENT)
    return SENT


@dataclass(frozen=True)
class SweepReport:
    requeued: int = 0
    failed: int = 0


def sweep(
    session: Session,
    *,
    jobs: JobBuffer,
    now: datetime,
    stale_after: timedelta,
    max_attempts: int,
    limit: int = 500,
) -> SweepReport:
    """Re-enqueue deliveries stuck pending (their message lost, or their worker dead past the
    lease); mark failed those out of attempts."""
    stuck = session.scalars(
        select(Delivery)
        .where(
            Delivery.status == PENDING,
            Delivery.updated_at <= now - stale_after,
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    requeued = failed = 0
    for delivery in stuck:
        delivery.updated_at = now  # the next pass waits stale_after again before repeating
        if delivery.attempts >= max_attempts:
            delivery.status = FAILED
            why = delivery.last_error or "no error recorded (the worker stopped mid-attempt)"
            delivery.last_error = f"gave up after {delivery.attempts} attempts: {why}"[:ERROR_MAX]
            failed += 1
        else:
            jobs.enqueue(DELIVER_NOTIFICATION, delivery.id)
            requeued += 1
    return SweepReport(requeued, failed)
