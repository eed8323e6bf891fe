"""Daily budgets: beyond its budget an organisation's pairs wait and go out later, best first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.models import Notification, Suggestion
from api.models.base import utcnow
from api.suggestions.capacity import Budget, deliver_or_wait, release_waiting
from tests import factories
from tests.samples import VISION_NEED, VISION_OFFER

BUDGET = Budget(needs=10, offers=2)


def popular_lab(session, needs: int) -> list[int]:  # type: ignore[no-untyped-def]
    """One lab's offer and `needs` companies' needs, paired best first (0.9, 0.8, ...)."""
    jobs = JobBuffer()
    offer = factories.posting(session, jobs, factories.member(session, "research_lab"), VISION_OFFER)
    made = []
    for n in range(needs):
        need = factories.posting(session, jobs, factories.member(session), VISION_NEED)
        made.append(factories.suggestion(session, need.id, offer.id, status="waiting", score=0.9 - n / 10).id)
    return made


def statuses(session, ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    return [session.get(Suggestion, i).status for i in ids]


def test_a_lab_over_its_daily_budget_receives_the_rest_later_best_first(settings) -> None:  # type: ignore[no-untyped-def]
    sessions = sessions_for(settings.resolved_database_url)
    now = utcnow()
    with unit_of_work(sessions) as session:
        ids = popular_lab(session, needs=5)
        for suggestion_id in ids:
            deliver_or_wait(session, session.get(Suggestion, suggestion_id), BUDGET, now)
        assert statuses(session, ids) == ["delivered"] * 2 + ["waiting"] * 3

    with unit_of_work(sessions) as session:
        # Still the same day: nothing more goes out, nothing is dropped.
        assert release_waiting(session, jobs=JobBuffer(), budget=BUDGET, now=now + timedelta(hours=1)) == 0
        assert statuses(session, ids) == ["delivered"] * 2 + ["waiting"] * 3

    jobs = JobBuffer()
    with unit_of_work(sessions) as session:
        tomorrow = now + timedelta(days=1, seconds=1)
        assert release_waiting(session, jobs=jobs, budget=BUDGET, now=tomorrow) == 2
        # The best two of the rest, not the oldest or a random pair.
        assert statuses(session, ids) == ["delivered"] * 4 + ["waiting"]
        told = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "suggestion.new")
        )
        assert told == 4  # both parties of each released pair
    assert jobs.pending, "the released pairs' notifications are delivered after the commit"

    with unit_of_work(sessions) as session:
        assert (
            release_waiting(
                session, jobs=JobBuffer(), budget=BUDGET, now=tomorrow + timedelta(days=1, seconds=1)
            )
            == 1
        )
        assert statuses(session, ids) == ["delivered"] * 5
