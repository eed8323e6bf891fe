"""HTTP endpoint for reading the audit log (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import service
from api.audit.schemas import AuditEventRead, AuditPage
from api.authz import policy
from api.core.errors import Forbidden
from api.http.deps import CurrentUser, UowDep
from api.models import User

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_PAGE = 500


def require_auditor(user: User) -> User:
    if not policy.can_read_audit(user):
        raise Forbidden("The audit log is for administrators.")
    return user


@router.get("", response_model=AuditPage)
def list_audit_events(
    user: CurrentUser,
    uow: UowDep,
    action: service.AuditAction | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> AuditPage:
    """Who did what, when and from where: newest first, filtered by action."""
    require_auditor(user)
    events, total = service.list_events(
        uow.session, action=action.value if action else None, limit=limit, offset=offset
    )
    return AuditPage(
        items=[AuditEventRead.model_validate(e) for e in events], total=total, limit=limit, offset=offset
    )
