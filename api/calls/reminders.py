"""Deadline reminders (30, 14 and 3 days before, a setting) and the weekly "calls that fit you".

Both go through the notification outbox, so e-mail follows each user's frequency and the daily
cap like every other notification (past the cap they wait for a digest, never dropped).

Each (call, distance) is reminded at most once cluster-wide: the pass first inserts the
`call_reminders` row (unique per call and distance), in the same transaction as the
notifications. Of two processes passing at once, the second one's insert fails and it sends
nothing; a pass that fails halfway rolls back both, and the next pass sends the reminder.
Only distances reached after the call was published count, and of several reached at once
(the pass did not run for days) only the nearest is sent: nobody gets three reminders at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.calls.proposals import accepted_organisations
from api.calls.service import OPEN
from api.core.jobs import JobBuffer
from api.models import Call, CallFit, CallReminder, Notification, Posting, User
from api.models.enums import PostingStatus
from api.notifications.service import dispatch, notify_users

log = logging.getLogger(__name__)

REMINDER = "call.reminder"
WEEKLY = "call.weekly"


def due_distance(call: Call, distances: Sequence[int], now: datetime) -> tuple[int | None, list[int]]:
    """(the distance to remind now, every distance reached), days before the deadline.

    A distance is reached once `now` is past deadline - distance, if that moment came after the
    call was published and before its deadline. Pure: the caller checks what was already sent.
    """
    if now >= call.deadline:
        return None, []
    reached = sorted(d for d in set(distances) if call.created_at <= call.deadline - timedelta(days=d) <= now)
    return (reached[0] if reached else None), reached


def send_due_reminders(session: Session, *, jobs: JobBuffer, distances: Sequence[int], now: datetime) -> int:
    """One pass over the open calls; returns how many reminder notifications were written."""
    written: list[Notification] = []
    horizon = now + timedelta(days=max(distances, default=0))
    calls = session.scalars(
        select(Call)
        .where(Call.status == OPEN, Call.deadline > now, Call.deadline <= horizon)
        .order_by(Call.id)
    )
    for call in calls:
        nearest, reached = due_distance(call, distances, now)
        if nearest is None:
            continue
        done = set(session.scalars(select(CallReminder.days_before).where(CallReminder.call_id == call.id)))
        if nearest in done:
            continue
        recipients = _recipients(session, call)
        claims = [d for d in reached if d not in done]
        try:
            with session.begin_nested():
                session.add_all(
                    CallReminder(
                        call_id=call.id,
                        days_before=d,
                        recipients=len(recipients) if d == nearest else 0,
                        sent_at=now,
                    )
                    for d in claims
                )
        except IntegrityError:
            continue  # another process's pass claimed it meanwhile: it sends
        days_left = max(0, (call.deadline - now).days)
        written += notify_users(
            session,
            recipients,
            kind=REMINDER,
            payload={
                "call_id": call.id,
                "title": call.title,
                "deadline": call.deadline.isoformat(),
                "days_left": days_left,
                "days_before": nearest,
                "summary": {
                    "it": f"Mancano {days_left} giorni alla scadenza ({call.deadline:%d/%m/%Y}).",
                    "en": f"{days_left} days left before the deadline ({call.deadline:%Y-%m-%d}).",
                },
                "path": f"/calls/{call.id}",
            },
            dedupe_key=f"call.reminder:{call.id}:{nearest}",
        )
        log.info("call %s: %d-day reminder to %d users", call.id, nearest, len(recipients))
    dispatch(session, jobs, written)
    return len(written)


def _recipients(session: Session, call: Call) -> list[User]:
    """Users of the organisations with an open posting that fits the call, or that accepted a
    consortium for it."""
    fitting = set(
        session.scalars(
            select(CallFit.organisation_id)
            .join(Posting, Posting.id == CallFit.posting_id)
            .where(CallFit.call_id == call.id, Posting.status == PostingStatus.open.value)
        )
    )
    organisations = fitting | set(accepted_organisations(session, call.id))
    if not organisations:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.organisation_id.in_(sorted(organisations)), User.disabled_at.is_(None))
            .order_by(User.id)
        )
    )


def week_of(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def send_weekly_fits(session: Session, *, jobs: JobBuffer, now: datetime, limit: int = 200) -> int:
    """Once per ISO week, each member whose organisation has open calls fitting its open postings
    gets one "calls that fit you" notification listing them (a daily user finds it in the digest)."""
    key = f"call.weekly:{week_of(now)}"
    open_fits = (
        select(CallFit.organisation_id)
        .join(Call, Call.id == CallFit.call_id)
        .join(Posting, Posting.id == CallFit.posting_id)
        .where(Call.status == OPEN, Call.deadline > now, Posting.status == PostingStatus.open.value)
    )
    told = exists().where(Notification.recipient_id == User.id, Notification.dedupe_key == key)
    users = session.scalars(
        select(User)
        .where(User.organisation_id.in_(open_fits), User.disabled_at.is_(None), ~told)
        .order_by(User.id)
        .limit(limit)
    ).all()
    written: list[Notification] = []
    for user in users:
        # Ids first: PostgreSQL has no DISTINCT over a row with JSON columns.
        fitting = (
            select(CallFit.call_id)
            .join(Posting, Posting.id == CallFit.posting_id)
            .where(
                CallFit.organisation_id == user.organisation_id, Posting.status == PostingStatus.open.value
            )
        )
        calls = session.scalars(
            select(Call)
            .where(Call.id.in_(fitting), Call.status == OPEN, Call.deadline > now)
            .order_by(Call.deadline, Call.id)
        ).all()
        if not calls:
            continue
        lines = {
            "it": "\n".join(f"- {c.title} (scadenza {c.deadline:%d/%m/%Y}): /calls/{c.id}" for c in calls),
            "en": "\n".join(f"- {c.title} (deadline {c.deadline:%Y-%m-%d}): /calls/{c.id}" for c in calls),
        }
        written += notify_users(
            session,
            [user],
            kind=WEEKLY,
            payload={
                "title": f"{len(calls)}",
                "calls": [{"id": c.id, "title": c.title, "deadline": c.deadline.isoformat()} for c in calls],
                "summary": lines,
                "path": "/calls",
            },
            dedupe_key=key,
        )
    dispatch(session, jobs, written)
    return len(written)


def calls_pass(  # type: ignore[no-untyped-def]
    session: Session, *, jobs: JobBuffer, settings, now: datetime, busy_queues: frozenset[str] = frozenset()
) -> dict[str, int]:
    """The calls' share of the periodic pass: close expired calls, rescue stuck ones, remind."""
    from api.calls.service import reconcile_calls

    report = reconcile_calls(
        session,
        jobs=jobs,
        now=now,
        stale_after=timedelta(seconds=settings.reconcile_stale_seconds),
        max_attempts=settings.pipeline_max_attempts,
        busy_queues=busy_queues,
    )
    reminders = send_due_reminders(session, jobs=jobs, distances=settings.call_reminder_days, now=now)
    weekly = send_weekly_fits(session, jobs=jobs, now=now)
    return {
        "closed": report.closed,
        "requeued": report.requeued,
        "proposals": report.proposals,
        "postings": report.postings,
        "reminders": reminders,
        "weekly": weekly,
    }
