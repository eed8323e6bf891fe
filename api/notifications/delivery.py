"""Delivering delivery rows: claim them, let each one's channel decide and send, then mark them sent.

At least once, never silently lost: a row is claimed (attempts + 1, held for LEASE) and
committed before the send, and marked sent only after it. A failed send records the error and
leaves the row pending for Dramatiq's retry; after `max_attempts` it is marked failed. A worker
that dies between the send and the mark leaves the row pending: once the lease is over the
sweeper re-enqueues it and it is sent again. That repeat, at most one per crash, carries the
same Message-ID (`cm-delivery-<id>`): mail clients show it as a duplicate, and the outbox keeps
one file per Message-ID.
"""

from __future__ import annotations

import logging
from collections import Counter
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
from api.notifications.channels import DEFERRED, FAILED, PENDING, SENT, SKIPPED, Channel, Plan
from api.notifications.rules import DEFER, SEND
from api.operations.metrics import count_delivery

log = logging.getLogger(__name__)

# How long an attempt holds its row; above every notification actor's time limit, so a
# redelivered message never sends while the first attempt may still be running.
LEASE = timedelta(seconds=150)
ERROR_MAX = 2000

Units = Callable[[], AbstractContextManager[UnitOfWork]]


def claim(session: Session, delivery_ids: list[int], now: datetime) -> list[int]:
    """Take the pending rows that no attempt holds; returns those taken (the others are done or
    held elsewhere)."""
    taken = session.scalars(
        update(Delivery)
        .where(
            Delivery.id.in_(delivery_ids),
            Delivery.status == PENDING,
            or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
        )
        .values(attempts=Delivery.attempts + 1, next_attempt_at=now + LEASE, updated_at=now)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(taken)


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
    outcomes = deliver_many(
        units, channels, delivery_ids=[delivery_id], max_attempts=max_attempts, clock=clock
    )
    return outcomes.get(delivery_id, "none")


def deliver_many(
    units: Units,
    channels: Mapping[str, Channel],
    *,
    delivery_ids: list[int],
    max_attempts: int,
    clock: Callable[[], datetime] = utcnow,
) -> dict[int, str]:
    """Deliver these rows (one notification batch) in two commits, not two a row: one claims them
    all and lets each row's channel decide, the sends follow, one marks them all. Returns the
    outcome of each row this attempt took.

    A channel decides on what is already marked (an e-mail counts the recipient's mails sent
    today), so two rows of one recipient on one channel go in successive rounds, each planned
    after the one before was marked. A row whose send failed goes back to pending; when a retry
    may succeed, the first such error is raised once every row was dealt with, so Dramatiq's
    retry finds only the failed rows left to do.
    """
    outcomes: dict[int, str] = {}
    retry: list[Exception] = []
    with units() as uow:
        taken = _rows(uow.session, claim(uow.session, delivery_ids, clock()))
        rounds = _rounds(taken)
        first = set(rounds[0]) if rounds else set()
        sends = _plan(
            uow.session, channels, [d for d in taken if d.id in first], clock(), max_attempts, outcomes, retry
        )
    for n in range(len(rounds)):
        if n:
            with units() as uow:
                rows = _rows(uow.session, rounds[n])
                sends = _plan(uow.session, channels, rows, clock(), max_attempts, outcomes, retry)
        _send_and_mark(units, channels, sends, clock, max_attempts, outcomes, retry)
    if retry:
        raise retry[0]
    return outcomes


def _rows(session: Session, delivery_ids: list[int]) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids)).order_by(Delivery.id)))


def _rounds(rows: list[Delivery]) -> list[list[int]]:
    """Delivery ids in rounds: the n-th row of each (channel, recipient) goes in round n."""
    rounds: list[list[int]] = []
    seen: Counter[tuple[str, int]] = Counter()
    for delivery_id, channel, recipient in ((d.id, d.channel, d.recipient_id) for d in rows):
        n = seen[(channel, recipient)]
        seen[(channel, recipient)] += 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(delivery_id)
    return rounds


def _plan(
    session: Session,
    channels: Mapping[str, Channel],
    deliveries: list[Delivery],
    now: datetime,
    max_attempts: int,
    outcomes: dict[int, str],
    retry: list[Exception],
) -> list[tuple[int, str, Plan]]:
    """Let each row's channel decide; settle the rows not sent now, return the sends."""
    sends = []
    for delivery in deliveries:
        try:
            with session.begin_nested():
                notification = session.get(Notification, delivery.notification_id)
                user = session.get(User, delivery.recipient_id)
                plan = channels[delivery.channel].plan(session, delivery, notification, user, now)
        except Exception as exc:
            # Kept with the claim: the attempt counts, and the error is there to read.
            log.exception("delivery %s could not be prepared", delivery.id)
            count_delivery(delivery.channel, FAILED)
            outcomes[delivery.id] = _failed(session, delivery.id, exc, max_attempts, now, retry)
            continue
        if plan.action == SEND:
            sends.append((delivery.id, delivery.channel, plan))
            continue
        delivery.status = DEFERRED if plan.action == DEFER else SKIPPED
        delivery.next_attempt_at = plan.due_at
        delivery.last_error = None
        log.info("delivery %s %s: %s", delivery.id, delivery.status, plan.reason)
        count_delivery(delivery.channel, delivery.status)
        outcomes[delivery.id] = delivery.status
    return sends


def _send_and_mark(
    units: Units,
    channels: Mapping[str, Channel],
    sends: list[tuple[int, str, Plan]],
    clock: Callable[[], datetime],
    max_attempts: int,
    outcomes: dict[int, str],
    retry: list[Exception],
) -> None:
    """The I/O, then one commit that marks the sent rows and records the failed ones."""
    if not sends:
        return
    sent: dict[str | None, list[int]] = {}
    errors = []
    for delivery_id, channel_name, plan in sends:
        try:
            channels[channel_name].send(plan.outgoing)
        except Exception as exc:
            log.exception("delivery %s failed", delivery_id)
            count_delivery(channel_name, FAILED)
            errors.append((delivery_id, exc))
        else:
            count_delivery(channel_name, SENT)
            sent.setdefault(plan.mail_key, []).append(delivery_id)
    with units() as uow:
        now = clock()
        for mail_key, ids in sent.items():
            mark_sent(uow.session, ids, now=now, mail_key=mail_key)
            outcomes.update(dict.fromkeys(ids, SENT))
        for delivery_id, exc in errors:
            outcomes[delivery_id] = _failed(uow.session, delivery_id, exc, max_attempts, now, retry)


def _failed(
    session: Session,
    delivery_id: int,
    error: Exception,
    max_attempts: int,
    now: datetime,
    retry: list[Exception],
) -> str:
    """Record a failed attempt: FAILED when out of attempts, else pending again (and kept to raise)."""
    if record_failure(
        session, [delivery_id], error=repr(error), max_attempts=max_attempts, now=now, back_to=PENDING
    ):
        return FAILED
    retry.append(error)
    return PENDING


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
