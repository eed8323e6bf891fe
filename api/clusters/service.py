"""Review policies per cluster, and what a new suggestion's first status is."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit import service as audit
from api.authz import policy as authz
from api.core.errors import Forbidden
from api.models import ClusterPolicy, User
from api.models.enums import S3Area, SuggestionStatus


def auto_deliver_thresholds(session: Session, default: float | None) -> dict[str, float | None]:
    """Every cluster's auto-delivery score (None: its suggestions wait for review)."""
    own = {p.s3_area: p.auto_deliver_above for p in session.scalars(select(ClusterPolicy))}
    return {area.value: own[area.value] if area.value in own else default for area in S3Area}


def initial_status(session: Session, areas: set[str], score: float, *, default: float | None) -> str:
    """Delivered directly only when every cluster of the pair lets a score this high through."""
    thresholds = auto_deliver_thresholds(session, default)
    limits = [thresholds.get(area, default) for area in areas]
    if limits and all(limit is not None and score >= limit for limit in limits):
        return SuggestionStatus.delivered.value
    return SuggestionStatus.pending_review.value


def set_policy(
    session: Session, *, user: User, s3_area: str, auto_deliver_above: float | None
) -> ClusterPolicy:
    if not authz.can_manage_cluster_policy(user, s3_area):
        raise Forbidden("Only an admin or a facilitator of this cluster can change its review policy.")
    policy = session.get(ClusterPolicy, s3_area) or ClusterPolicy(s3_area=s3_area)
    audit.record(
        session,
        actor=user,
        action=audit.AuditAction.cluster_policy_change,
        object_type="cluster",
        object_id=s3_area,
        details={"from": policy.auto_deliver_above, "to": auto_deliver_above},
    )
    policy.auto_deliver_above = auto_deliver_above
    policy.updated_by_id = user.id
    session.add(policy)
    session.flush()
    return policy
