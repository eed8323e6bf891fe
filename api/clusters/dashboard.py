"""What a facilitator's cluster dashboard shows: the funnel, speed, unmet demand, cross-cluster pairs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.authz import policy
from api.calls.service import UpcomingCall, upcoming_calls
from api.core.errors import Forbidden
from api.models import Posting, Suggestion, User
from api.models.base import utcnow
from api.models.enums import SuggestionStatus

REACHED_PARTIES = (
    SuggestionStatus.delivered.value,
    SuggestionStatus.introduced.value,
    SuggestionStatus.declined.value,
)
STILL_COUNTS = tuple(
    s.value for s in SuggestionStatus if s not in (SuggestionStatus.rejected, SuggestionStatus.withdrawn)
)


@dataclass
class ClusterDashboard:
    areas: list[str]
    postings: list[Posting]
    suggestions: list[Suggestion]
    funnel: dict[str, int] = field(default_factory=dict)
    median_seconds_to_first_suggestion: float | None = None
    unmet_needs: dict[str, list[Posting]] = field(default_factory=dict)
    cross_cluster: list[Suggestion] = field(default_factory=list)
    # Funding calls of the next 90 days: members that fit, consortia, and why none yet.
    upcoming_calls: list[UpcomingCall] = field(default_factory=list)


def cluster_dashboard(session: Session, user: User) -> ClusterDashboard:
    """The dashboard of the reviewer's clusters; 403 for members."""
    if not policy.can_view_dashboard(user):
        raise Forbidden("The cluster dashboard is for cluster facilitators.")
    areas = policy.dashboard_areas(user)
    postings = list(
        session.scalars(select(Posting).where(policy.dashboard_postings_filter(user)).order_by(Posting.id))
    )
    # The pairs this reviewer reviews: its own organisation's stay out (conflict of interest).
    suggestions = list(
        session.scalars(
            select(Suggestion).where(policy.reviewable_suggestions_filter(user)).order_by(Suggestion.id)
        ).unique()
    )
    dashboard = ClusterDashboard(areas, postings, suggestions)
    dashboard.funnel = {
        "postings": len(postings),
        "suggestions": len(suggestions),
        "approved": sum(s.status in REACHED_PARTIES for s in suggestions),
        "introduced": sum(s.status == SuggestionStatus.introduced.value for s in suggestions),
    }
    first: dict[int, float] = {}
    for s in suggestions:
        for posting in (s.need, s.offer):
            if posting.s3_area in areas:
                seconds = (s.created_at - posting.created_at).total_seconds()
                first[posting.id] = min(first.get(posting.id, seconds), seconds)
    dashboard.median_seconds_to_first_suggestion = statistics.median(first.values()) if first else None
    matched_needs = {s.need_id for s in suggestions if s.status in STILL_COUNTS}
    for posting in postings:
        if posting.kind == "need" and posting.status == "open" and posting.id not in matched_needs:
            dashboard.unmet_needs.setdefault(posting.s3_area, []).append(posting)
    dashboard.cross_cluster = [s for s in suggestions if s.need.s3_area != s.offer.s3_area]
    dashboard.upcoming_calls = upcoming_calls(session, areas=areas, now=utcnow())
    return dashboard
