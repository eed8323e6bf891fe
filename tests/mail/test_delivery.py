"""Who is mailed about what: decisions, at-most-once sends, the daily cap and the digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from api.models import User
from api.models.base import utcnow
from tests.notifications.helpers import MAIL, Mailer


def test_an_instant_user_is_mailed_once_even_when_the_job_runs_twice(settings):
    mailer = Mailer(settings)
    delivery = mailer.notify(mailer.user(), suggestion_id=1)
    assert mailer.deliver(delivery) == "sent"
    assert mailer.deliver(delivery) == "none"
    assert mailer.statuses([delivery]) == ["sent"]
    [mail] = mailer.mails()
    assert mail["Message-ID"] == f"<cm-delivery-{delivery}@example.it>"


def test_the_same_event_of_one_suggestion_is_never_mailed_twice(settings):
    mailer = Mailer(settings)
    user = mailer.user()
    ids = [mailer.notify(user, suggestion_id=5, tag=tag) for tag in ("1.1", "2.1")]
    assert [mailer.deliver(i) for i in ids] == ["sent", "skipped"]
    assert mailer.statuses(ids) == ["sent", "skipped"]
    assert len(mailer.mails()) == 1


def test_off_users_get_nothing_and_the_daily_cap_defers_the_rest_to_a_digest(settings):
    mailer = Mailer(settings, mail=replace(MAIL, daily_cap=3))
    [off] = [mailer.notify(mailer.user("off"), suggestion_id=1)]
    assert mailer.deliver(off) == "skipped" and mailer.mails() == []
    user = mailer.user()
    now = utcnow()
    ids = [mailer.notify(user, suggestion_id=n) for n in range(1, 5)]
    assert [mailer.deliver(i, now=now) for i in ids] == ["sent", "sent", "sent", "deferred"]
    assert len(mailer.mails()) == 3
    # Nothing dropped: the fourth waits until the oldest of today's mails is a day old.
    [waiting] = mailer.rows(ids[3:])
    assert waiting.next_attempt_at >= now + timedelta(days=1) - timedelta(seconds=5)
    assert mailer.digest(user, now=now + timedelta(hours=1)) == 0
    assert mailer.digest(user, now=now + timedelta(days=1, minutes=1)) == 1
    assert mailer.statuses(ids) == ["sent"] * 4
    assert "Need 4" in mailer.mails()[-1].get_body().get_content()


def test_daily_users_get_one_digest_a_day(settings):
    mailer = Mailer(settings)
    user = mailer.user("daily")
    now = utcnow()
    ids = [mailer.notify(user, suggestion_id=n) for n in range(1, 4)]
    assert [mailer.deliver(i, now=now) for i in ids] == ["deferred"] * 3 and mailer.mails() == []
    assert mailer.digest(user, now=now) == 3
    [digest] = mailer.mails()
    assert "3" in digest["Subject"] and mailer.statuses(ids) == ["sent"] * 3
    assert mailer.digest(user, now=now + timedelta(hours=1)) == 0
    later = mailer.notify(user, suggestion_id=9)
    assert mailer.deliver(later, now=now + timedelta(hours=1)) == "deferred"
    assert mailer.digest(user, now=now + timedelta(hours=2)) == 0  # not a day yet
    assert mailer.digest(user, now=now + timedelta(days=1)) == 1
    assert len(mailer.mails()) == 2 and mailer.statuses([later]) == ["sent"]
    with mailer.sessions() as session:
        assert session.scalar(select(User.last_digest_at).where(User.id == user)) is not None
