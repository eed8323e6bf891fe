"""The delivery outbox: rows written with the notification, failures retried, digests, grouping."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from api.core.db import unit_of_work
from api.core.jobs import DELIVER_NOTIFICATION, SEND_DIGEST, JobBuffer
from api.mail.transport import SmtpTransport
from api.models import Delivery, Notification, User
from api.models.base import utcnow
from api.notifications.bus import channel_for
from api.notifications.channels import LiveChannel
from api.notifications.delivery import LEASE, claim, deliver, sweep
from api.notifications.digest import enqueue_due_digests
from api.notifications.service import dispatch, notify_users
from tests.notifications.helpers import MAIL, Mailer
from tests.notifications.smtp import smtp_server


def test_a_notification_gets_one_delivery_per_channel_and_one_job_for_them_after_commit(settings):
    mailer = Mailer(settings)
    user_id = mailer.user()
    jobs = JobBuffer()
    with unit_of_work(mailer.sessions) as session:
        user = session.get(User, user_id)
        made = notify_users(session, [user], kind="suggestion.new", payload={}, dedupe_key="k:1")
        again = notify_users(session, [user], kind="suggestion.new", payload={}, dedupe_key="k:1")
        dispatch(session, jobs, made + again)
    with mailer.sessions() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [(r.channel, r.status, r.attempts) for r in rows] == [
        ("live", "pending", 0),
        ("email", "pending", 0),
    ]
    assert [(job.actor_name, args) for job, args in jobs.pending] == [
        (DELIVER_NOTIFICATION.actor_name, ([rows[0].id, rows[1].id],)),
    ]


def test_a_title_with_cr_lf_still_yields_a_mail_with_a_clean_one_line_subject(settings):
    mailer = Mailer(settings)
    user_id = mailer.user()
    with unit_of_work(mailer.sessions) as session:
        [notification] = notify_users(
            session,
            [session.get(User, user_id)],
            kind="suggestion.new",
            payload={"suggestion_id": 3, "need": {"title": "Visione\r\nBcc: spy@evil.it\r\n\r\nciao"}},
            dedupe_key="suggestion:3:new:1.1",
        )
        session.flush()
        delivery_id = session.scalar(
            select(Delivery.id).where(
                Delivery.notification_id == notification.id, Delivery.channel == "email"
            )
        )
    assert mailer.deliver(delivery_id) == "sent"
    [mail] = mailer.mails()
    assert mail["Subject"] == "Nuovo abbinamento proposto: Visione Bcc: spy@evil.it ciao"
    assert mail["Bcc"] is None and "\n" not in mail["Subject"]


def test_a_failed_send_keeps_the_error_and_is_retried_then_marked_failed_after_max_attempts(settings):
    with smtp_server() as (server, url):
        mailer = Mailer(settings, transport=SmtpTransport(url))
        user_id = mailer.user()
        delivery_id = mailer.notify(user_id, suggestion_id=1)
        with mailer.sessions() as session:
            server.refused.add(session.get(User, user_id).email)
        with pytest.raises(Exception, match="Mailbox temporarily unavailable"):
            mailer.deliver(delivery_id, max_attempts=2)
        [row] = mailer.rows([delivery_id])
        assert (row.status, row.attempts) == ("pending", 1) and "temporarily" in row.last_error
        assert mailer.deliver(delivery_id, max_attempts=2) == "failed"
        [row] = mailer.rows([delivery_id])
        assert row.status == "failed" and row.last_error.startswith("gave up after 2 attempts")
        assert server.received == []


def test_the_sweeper_requeues_a_stuck_delivery_and_a_crash_after_sending_repeats_it_at_most_once(settings):
    mailer = Mailer(settings)
    delivery_id = mailer.notify(mailer.user(), suggestion_id=1)
    now = utcnow()
    # A worker claims the row and sends, then dies before marking it sent.
    with mailer.units() as uow:
        assert claim(uow.session, [delivery_id], now) == [delivery_id]
        row = uow.session.get(Delivery, delivery_id)
        notification = uow.session.get(Notification, row.notification_id)
        plan = mailer.channel.plan(
            uow.session, row, notification, uow.session.get(User, row.recipient_id), now
        )
    mailer.channel.send(plan.outgoing)
    assert mailer.deliver(delivery_id, now=now) == "none"  # a redelivered message waits for the lease
    jobs = JobBuffer()
    with mailer.sessions() as session:
        sweep(session, jobs=jobs, now=now + timedelta(minutes=1), stale_after=timedelta(0), max_attempts=5)
    assert (delivery_id,) not in [args for _, args in jobs.pending]  # the lease still holds it
    later = now + LEASE + timedelta(seconds=1)
    jobs = JobBuffer()
    with unit_of_work(mailer.sessions) as session:
        sweep(session, jobs=jobs, now=later, stale_after=timedelta(seconds=60), max_attempts=5)
    assert (delivery_id,) in [args for _, args in jobs.pending]
    assert mailer.deliver(delivery_id, now=later) == "sent"
    assert mailer.deliver(delivery_id, now=later) == "none"
    [row] = mailer.rows([delivery_id])
    assert (row.status, row.attempts) == ("sent", 2)
    # The one repeat a crash can cause carries the same Message-ID: the outbox keeps one file.
    assert [m["Message-ID"] for m in mailer.mails()] == [f"<cm-delivery-{delivery_id}@example.it>"]


def test_the_sweeper_gives_up_on_a_delivery_out_of_attempts_with_the_last_error(settings):
    mailer = Mailer(settings)
    delivery_id = mailer.notify(mailer.user(), suggestion_id=1)
    with unit_of_work(mailer.sessions) as session:
        row = session.get(Delivery, delivery_id)
        row.attempts, row.last_error = 5, "SMTPServerDisconnected()"
        row.updated_at = utcnow() - timedelta(minutes=10)
    with unit_of_work(mailer.sessions) as session:
        report = sweep(
            session, jobs=JobBuffer(), now=utcnow(), stale_after=timedelta(seconds=60), max_attempts=5
        )
    [row] = mailer.rows([delivery_id])
    assert report.failed == 1 and row.status == "failed"
    assert row.last_error == "gave up after 5 attempts: SMTPServerDisconnected()"


def test_a_digest_whose_send_fails_is_sent_on_the_next_attempt(settings):
    with smtp_server() as (server, url):
        mailer = Mailer(settings, transport=SmtpTransport(url))
        user_id = mailer.user("daily")
        with mailer.sessions() as session:
            address = session.get(User, user_id).email
        server.refused.add(address)
        now = utcnow()
        ids = [mailer.notify(user_id, suggestion_id=n) for n in (1, 2)]
        assert [mailer.deliver(i, now=now) for i in ids] == ["deferred", "deferred"]
        with pytest.raises(Exception, match="temporarily"):
            mailer.digest(user_id, now=now)
        assert mailer.statuses(ids) == ["deferred", "deferred"]
        with mailer.sessions() as session:
            assert session.get(User, user_id).last_digest_at is None  # only moves once sent
        # The periodic pass still finds it due, and the next attempt sends it once.
        jobs = JobBuffer()
        with unit_of_work(mailer.sessions) as session:
            assert enqueue_due_digests(session, jobs=jobs, now=now + timedelta(seconds=15)) == 1
        server.refusing = False
        assert mailer.digest(user_id, now=now + timedelta(seconds=15)) == 2
        assert mailer.digest(user_id, now=now + timedelta(seconds=30)) == 0
        [digest] = server.to(address)
        assert digest["Subject"] == "clustermatch: 2 novità di oggi"
        assert mailer.statuses(ids) == ["sent", "sent"]
        with mailer.sessions() as session:
            assert session.get(User, user_id).last_digest_at is not None


def test_a_facilitator_gets_one_grouped_mail_listing_the_waiting_reviews(settings):
    mailer = Mailer(settings)
    facilitator = mailer.user(role="facilitator")
    now = utcnow()
    ids = [mailer.notify(facilitator, suggestion_id=n, kind="suggestion.review") for n in (1, 2, 3)]
    assert [mailer.deliver(i, now=now + timedelta(seconds=n)) for n, i in enumerate(ids)] == ["deferred"] * 3
    jobs = JobBuffer()
    with unit_of_work(mailer.sessions) as session:
        assert enqueue_due_digests(session, jobs=jobs, now=now + timedelta(minutes=1)) == 0  # window open
        assert enqueue_due_digests(session, jobs=jobs, now=now + timedelta(minutes=6)) == 1
    assert [(job.actor_name, args) for job, args in jobs.pending] == [
        (SEND_DIGEST.actor_name, (facilitator,))
    ]
    assert mailer.digest(facilitator, now=now + timedelta(minutes=6)) == 3
    assert mailer.digest(facilitator, now=now + timedelta(minutes=6)) == 0  # a repeated job sends nothing
    [mail] = mailer.mails()
    body = mail.get_body().get_content()
    assert mail["Subject"] == "clustermatch: 3 abbinamenti da rivedere"
    assert all(f"Need {n}" in body for n in (1, 2, 3)) and "http://x/desk" in body
    assert mailer.statuses(ids) == ["sent"] * 3
    # A review arriving afterwards opens a new window: nothing lost, nothing sent twice.
    fourth = mailer.notify(facilitator, suggestion_id=4, kind="suggestion.review")
    assert mailer.deliver(fourth, now=now + timedelta(minutes=7)) == "deferred"
    assert mailer.digest(facilitator, now=now + timedelta(minutes=13)) == 1
    assert len(mailer.mails()) == 2


def test_the_live_channel_publishes_to_the_user_on_this_redis_database_only(settings, redis_url):
    mailer = Mailer(settings)
    user_id = mailer.user()
    with unit_of_work(mailer.sessions) as session:
        [notification] = notify_users(
            session, [session.get(User, user_id)], kind="suggestion.new", payload={}, dedupe_key="k:1"
        )
        session.flush()
        live_id = session.scalar(
            select(Delivery.id).where(Delivery.notification_id == notification.id, Delivery.channel == "live")
        )
    client = redis.Redis.from_url(redis_url)
    db = client.connection_pool.connection_kwargs.get("db", 0)
    pool = client.connection_pool
    other_db = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **{**pool.connection_kwargs, "db": (db + 1) % 16}
        )
    )
    assert channel_for(client, user_id) != channel_for(other_db, user_id)
    subscription = client.pubsub()
    subscription.subscribe(channel_for(client, user_id))
    subscription.get_message(timeout=1)  # the subscribe confirmation
    outcome = deliver(
        mailer.units, {"live": LiveChannel(client)}, delivery_id=live_id, max_attempts=5, clock=utcnow
    )
    message = subscription.get_message(timeout=5)
    assert outcome == "sent" and json.loads(message["data"])["id"] == notification.id
    subscription.close()


def test_a_delivery_that_cannot_be_prepared_counts_the_attempt_and_keeps_the_error(settings):
    mailer = Mailer(settings)
    delivery_id = mailer.notify(mailer.user(), suggestion_id=1)
    with unit_of_work(mailer.sessions) as session:
        session.get(Delivery, delivery_id).channel = "webhook"  # a channel this worker lacks
    with pytest.raises(KeyError):
        mailer.deliver(delivery_id)
    [row] = mailer.rows([delivery_id])
    assert (row.status, row.attempts) == ("pending", 1) and "webhook" in row.last_error
    assert mailer.deliver(delivery_id, max_attempts=2) == "failed"
    assert mailer.statuses([delivery_id]) == ["failed"] and mailer.mails() == []


def test_a_batch_marks_what_it_sent_and_a_retry_sends_only_the_refused_mail(settings):
    with smtp_server() as (server, url):
        mailer = Mailer(settings, transport=SmtpTransport(url))
        users = [mailer.user() for _ in range(3)]
        ids = [mailer.notify(user_id, suggestion_id=n) for n, user_id in enumerate(users)]
        with mailer.sessions() as session:
            refused = session.get(User, users[1]).email
        server.refused.add(refused)
        with pytest.raises(Exception, match="Mailbox temporarily unavailable"):
            mailer.deliver_many(ids)
        assert mailer.statuses(ids) == ["sent", "pending", "sent"]
        assert [row.attempts for row in mailer.rows(ids)] == [1, 1, 1]
        server.refused.clear()
        assert mailer.deliver_many(ids) == {ids[1]: "sent"}  # the sent ones are not claimed again
        assert mailer.statuses(ids) == ["sent"] * 3
        assert sorted(m["To"] for m in server.received).count(refused) == 1 and len(server.received) == 3


def test_mails_of_one_recipient_in_one_batch_count_against_the_daily_cap(settings):
    mailer = Mailer(settings, mail=replace(MAIL, daily_cap=2))
    user_id = mailer.user()
    ids = [mailer.notify(user_id, suggestion_id=n) for n in range(4)]
    outcomes = mailer.deliver_many(ids)
    assert [outcomes[i] for i in ids] == ["sent", "sent", "deferred", "deferred"]
    assert len(mailer.mails()) == 2
