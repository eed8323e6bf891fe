"""Delivery and digest actors on the real Redis broker and a real SMTP server that fails."""

from __future__ import annotations

import time

from sqlalchemy import select

from api.core.db import unit_of_work
from api.core.jobs import JobBuffer
from api.mail.transport import SmtpTransport
from api.models import Delivery, User
from api.notifications.service import dispatch, notify_users
from tests import factories
from tests.notifications.smtp import smtp_server
from workers.reconciler import ReconcilerMiddleware


def periodic_pass() -> None:
    """The reconciler's pass as a worker runs it (stale after 0 s: anything pending is stuck)."""
    time.sleep(0.1)  # the previous pass's cluster-wide lock (90 ms) has expired
    ReconcilerMiddleware(interval_seconds=0.1, stale_seconds=0, max_attempts=3).run_once()


def notify_each(pipeline, frequency: str, count: int) -> tuple[list[tuple[int, str]], JobBuffer]:  # type: ignore[no-untyped-def]
    """`count` users, each told about one new suggestion in one unit of work; returns
    (user id, address) each and the delivery jobs, not yet sent."""
    jobs = JobBuffer()
    users = []
    with unit_of_work(pipeline.sessions) as session:
        for n in range(count):
            user = factories.member(session)
            user.email_frequency = frequency
            made = notify_users(
                session,
                [user],
                kind="suggestion.new",
                payload={"suggestion_id": n + 1, "need": {"title": f"Need {n + 1}"}},
                dedupe_key=f"suggestion:{n + 1}:new:1.1",
            )
            dispatch(session, jobs, made)
            users.append((user.id, user.email))
    return users, jobs


def email_rows(pipeline, user_id: int) -> list[Delivery]:  # type: ignore[no-untyped-def]
    with pipeline.sessions() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.recipient_id == user_id, Delivery.channel == "email")
            )
        )


def test_one_refusing_recipient_loses_nobody_else_and_gets_its_mail_once_the_server_recovers(pipeline):
    with smtp_server() as (server, url):
        pipeline.resources.mail = SmtpTransport(url)
        users, jobs = notify_each(pipeline, "instant", 3)
        *others, (third_id, third_address) = users
        server.refused = {third_address}
        pipeline.send(jobs)  # six deliveries from one unit of work: the third's e-mail fails
        pipeline.drain()
        assert [len(server.to(address)) for _, address in others] == [1, 1]
        assert server.to(third_address) == []
        [waiting] = email_rows(pipeline, third_id)
        assert (waiting.status, waiting.attempts) == ("pending", 1) and "450" in waiting.last_error
        # The server recovers; the periodic pass re-enqueues the stuck delivery.
        server.refusing = False
        periodic_pass()
        pipeline.drain()
        assert [len(server.to(address)) for _, address in others] == [1, 1]
        assert len(server.to(third_address)) == 1 and len(server.received) == 3
        with pipeline.sessions() as session:
            statuses = session.scalars(select(Delivery.status)).all()
        assert sorted(statuses) == ["sent"] * 6  # three live events, three e-mails
        periodic_pass()  # nothing is pending any more: nothing is sent twice
        pipeline.drain()
        assert len(server.received) == 3


def test_a_failed_daily_digest_is_sent_by_its_actor_on_the_next_pass(pipeline):
    with smtp_server() as (server, url):
        pipeline.resources.mail = SmtpTransport(url)
        [(user_id, address)], jobs = notify_each(pipeline, "daily", 1)
        pipeline.send(jobs)
        pipeline.drain()
        assert [r.status for r in email_rows(pipeline, user_id)] == ["deferred"]
        server.refused = {address}
        periodic_pass()  # enqueues notifications.send_digest(user); its send fails
        pipeline.drain()
        [row] = email_rows(pipeline, user_id)
        assert row.status == "deferred" and "450" in row.last_error and server.received == []
        with pipeline.sessions() as session:
            assert session.get(User, user_id).last_digest_at is None
        server.refusing = False
        periodic_pass()
        pipeline.drain()
        [digest] = server.to(address)
        assert digest["Subject"] == "clustermatch: 1 novità di oggi"
        assert [r.status for r in email_rows(pipeline, user_id)] == ["sent"]
        periodic_pass()
        pipeline.drain()
        assert len(server.received) == 1
