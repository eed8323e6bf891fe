"""What a facilitator's cluster dashboard shows: the funnel, speed, unmet demand, cross-cluster pairs."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from api.models import Posting, Suggestion, User
from api.models.enums import Role, S3Area, SuggestionStatus

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


def areas_of(user: User) -> list[str]:
    return [a.value for a in S3Area] if user.role == Role.admin.value else list(user.clusters or [])


def cluster_dashboard(session: Session, user: User) -> ClusterDashboard:
    areas = areas_of(user)
    postings = list(session.scalars(select(Posting).where(Posting.s3_area.in_(areas)).order_by(Posting.id)))
    need, offer = aliased(Posting), aliased(Posting)
    suggestions = list(
        session.scalars(
            select(Suggestion)
            .join(need, Suggestion.need_id == need.id)
            .join(offer, Suggestion.offer_id == offer.id)
            .where(or_(need.s3_area.in_(areas), offer.s3_area.in_(areas)))
            .order_by(Suggestion.id)
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
    return dashboard
