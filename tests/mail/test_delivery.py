"""Who is mailed about what: decisions, at-most-once claims, the daily cap and the digest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api.db import sessions_for, unit_of_work
from api.mail.service import plan_digests, plan_instant
from api.models import Notification, User
from api.models.base import utcnow
from api.notifications.service import notify_users
from tests import factories


def setup(settings, frequency: str = "instant", count: int = 1, suggestion_ids=None):  # type: ignore[no-untyped-def]
    sessions = sessions_for(settings.resolved_database_url)
    with unit_of_work(sessions) as session:
        user = factories.member(session)
        user.email_frequency = frequency
        ids = []
        for n in range(count):
            sid = suggestion_ids[n] if suggestion_ids else n + 1
            [notification] = notify_users(
                session,
                [user],
                kind="suggestion.new",
                payload={"suggestion_id": sid},
                dedupe_key=f"suggestion:{sid}:new:{n}",
            )
            session.flush()
            ids.append(notification.id)
        user_id = user.id
    return sessions, user_id, ids


def plan(sessions, ids, cap=20, now=None):  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as session:
        return plan_instant(session, ids, cap=cap, base_url="http://x", now=now or utcnow())


def statuses(sessions, ids):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return [session.get(Notification, i).email_status for i in ids]


def test_an_instant_user_is_mailed_once_even_when_the_job_runs_twice(settings):
    sessions, _, ids = setup(settings)
    assert len(plan(sessions, ids)) == 1
    assert plan(sessions, ids) == []
    assert statuses(sessions, ids) == ["sent"]


def test_the_same_event_of_one_suggestion_is_never_mailed_twice(settings):
    sessions, _, ids = setup(settings, count=2, suggestion_ids=[5, 5])
    assert [e.notification_ids for e in plan(sessions, ids)] == [(ids[0],)]
    assert statuses(sessions, ids) == ["sent", "skipped"]


def test_off_users_get_nothing_and_the_daily_cap_holds(settings):
    sessions, _, ids = setup(settings, frequency="off")
    assert plan(sessions, ids) == [] and statuses(sessions, ids) == ["skipped"]
    sessions, _, ids = setup(settings, count=4)
    assert len(plan(sessions, ids, cap=3)) == 3
    assert statuses(sessions, ids) == ["sent", "sent", "sent", "skipped"]


def test_daily_users_get_one_digest_a_day(settings):
    sessions, user_id, ids = setup(settings, frequency="daily", count=3)
    assert plan(sessions, ids) == [] and statuses(sessions, ids) == ["queued"] * 3
    now = utcnow()
    with unit_of_work(sessions) as session:
        [digest] = plan_digests(session, base_url="http://x", now=now)
    assert digest.notification_ids == tuple(ids) and "3" in digest.subject
    with unit_of_work(sessions) as session:
        assert plan_digests(session, base_url="http://x", now=now + timedelta(hours=1)) == []
    with unit_of_work(sessions) as session:
        user = session.get(User, user_id)
        [later] = notify_users(
            session,
            [user],
            kind="suggestion.new",
            payload={"suggestion_id": 9},
            dedupe_key="suggestion:9:new:1",
        )
        session.flush()
        later_id = later.id
    plan(sessions, [later_id])
    with unit_of_work(sessions) as session:
        assert plan_digests(session, base_url="http://x", now=now + timedelta(hours=2)) == []  # not a day yet
        [next_day] = plan_digests(session, base_url="http://x", now=now + timedelta(days=1))
    assert next_day.notification_ids == (later_id,)
    with sessions() as session:
        assert session.scalar(select(User.last_digest_at).where(User.id == user_id)) is not None
