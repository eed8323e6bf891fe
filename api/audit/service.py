"""Writing and reading the audit log. Services never commit: the caller's unit of work does."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit.origin import current_ip
from api.models import AuditEvent, User


class AuditAction(StrEnum):
    suggestion_approve = "suggestion.approve"
    suggestion_reject = "suggestion.reject"
    user_role_change = "user.role_change"
    user_disable = "user.disable"
    user_enable = "user.enable"
    cluster_policy_change = "cluster.policy_change"
    organisation_export = "organisation.export"
    organisation_delete = "organisation.delete"


def record(
    session: Session,
    *,
    actor: User | None,
    action: AuditAction | str,
    object_type: str,
    object_id: int | str | None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """One audit row in the caller's transaction: it commits (or rolls back) with the act itself."""
    event = AuditEvent(
        # Plain values, so the row still says who it was once the account is gone.
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        actor_role=actor.role if actor else None,
        action=str(action),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details or {},
        ip=ip or current_ip(),
    )
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session, *, action: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """The newest events first, and how many match the filter in all (for paging)."""
    query = select(AuditEvent)
    count = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
        count = count.where(AuditEvent.action == action)
    events = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(events), session.scalar(count) or 0
