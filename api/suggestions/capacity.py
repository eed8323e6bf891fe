"""Pacing what reaches each organisation: a daily budget of new suggestions per side, best first.

Relevance is judged from the need's side, so one vision lab can fit dozens of manufacturers'
needs; it must hear of all of them without being flooded. Beyond an organisation's budget a pair
waits (status `waiting`) and goes out when the budget frees, best score first: nothing is
dropped, and the set of pairs that eventually go out does not depend on the order of arrival.
A facilitator's approval is a person's decision and goes out at once. The budget is a soft
limit: two matchers deciding at the same moment may each take the last place of the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.core.jobs import JobBuffer
from api.core.settings import Settings
from api.models import Posting, Suggestion
from api.models.enums import SuggestionStatus
from api.notifications.service import dispatch
from api.suggestions.service import announce

DAY = timedelta(days=1)
# One release pass looks at this many waiting pairs at most (best first); the next pass goes on.
RELEASE_BATCH = 500


@dataclass(frozen=True)
class Budget:
    needs: int  # new suggestions a day an organisation receives about its needs
    offers: int  # ... and about its offers

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        return cls(settings.match_daily_budget_needs, settings.match_daily_budget_offers)


def delivered_since(session: Session, organisation_id: int, side: str, since: datetime) -> int:
    """How many suggestions about the organisation's postings of one side reached it since then."""
    column = Suggestion.need_id if side == "need" else Suggestion.offer_id
    return session.scalar(
        select(func.count())
        .select_from(Suggestion)
        .join(Posting, Posting.id == column)
        .where(Posting.organisation_id == organisation_id, Suggestion.delivered_at >= since)
    )


def has_room(session: Session, suggestion: Suggestion, budget: Budget, now: datetime) -> bool:
    """Whether both parties can receive one more suggestion today."""
    since = now - DAY
    return (
        delivered_since(session, suggestion.need.organisation_id, "need", since) < budget.needs
        and delivered_since(session, suggestion.offer.organisation_id, "offer", since) < budget.offers
    )


def deliver_or_wait(session: Session, suggestion: Suggestion, budget: Budget, now: datetime) -> None:
    """Deliver the suggestion now if both parties have room today, else let it wait."""
    if has_room(session, suggestion, budget, now):
        suggestion.delivered_at = now
        suggestion.status = SuggestionStatus.delivered.value
    else:
        suggestion.status = SuggestionStatus.waiting.value
    session.flush()  # the next decision counts this one


def release_waiting(session: Session, *, jobs: JobBuffer, budget: Budget, now: datetime) -> int:
    """Deliver the waiting pairs whose parties have room again, best score first; both are told."""
    waiting = session.scalars(
        select(Suggestion)
        .where(Suggestion.status == SuggestionStatus.waiting.value)
        .order_by(Suggestion.score.desc(), Suggestion.id)
        .limit(RELEASE_BATCH)
    ).unique()
    released, notifications = 0, []
    for suggestion in waiting:
        deliver_or_wait(session, suggestion, budget, now)
        if suggestion.status == SuggestionStatus.delivered.value:
            released += 1
            notifications += announce(session, suggestion)
    dispatch(session, jobs, notifications)
    return released


def demand_for(session: Session, offer_ids: list[int]) -> dict[int, int]:
    """How many needs each offer answers (open or introduced pairs): the desk's "N companies ask
    for the same thing", a joint project waiting to happen."""
    asking = (
        SuggestionStatus.pending_review.value,
        SuggestionStatus.waiting.value,
        SuggestionStatus.delivered.value,
        SuggestionStatus.introduced.value,
    )
    rows = session.execute(
        select(Suggestion.offer_id, func.count())
        .where(Suggestion.offer_id.in_(offer_ids), Suggestion.status.in_(asking))
        .group_by(Suggestion.offer_id)
    )
    return {offer_id: count for offer_id, count in rows}
