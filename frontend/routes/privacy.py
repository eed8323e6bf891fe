"""Privacy pages: a member's export and erasure of its organisation; the admins' audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.audit import service as audit
from api.audit.endpoints import require_auditor
from api.audit.export import audit_csv
from api.http.deps import ResourcesDep, UowDep
from api.http.fields import DbId
from api.privacy import service as privacy
from api.privacy.endpoints import export_response
from frontend.session import SESSION_COOKIE, csrf_protected
from frontend.web import WebUser, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])

PAGE_SIZE = 50
CSV_LIMIT = 100_000


@router.get("/app/organisation/export")
def export_organisation(uow: UowDep, user: WebUser) -> Response:
    return export_response(privacy.export_organisation(uow.session, user=user))


@router.post("/app/organisation/delete")
def delete_organisation(
    uow: UowDep, user: WebUser, confirm: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    privacy.delete_own_organisation(uow.session, jobs=uow.jobs, user=user, confirm=confirm)
    response = redirect("/?deleted=1")
    # The sessions went with the accounts (ON DELETE CASCADE): only the cookie is left to drop.
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/admin/organisations/{organisation_id}/delete")
def admin_delete_organisation(organisation_id: DbId, uow: UowDep, user: WebUser) -> Response:
    privacy.delete_organisation(uow.session, jobs=uow.jobs, actor=user, organisation_id=organisation_id)
    return redirect("/admin?deleted=1#organisations")


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    action: audit.AuditAction | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    require_auditor(user)
    events, total = audit.list_events(
        uow.session,
        action=action.value if action else None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        resources,
        "audit.html",
        user=user,
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        action=action.value if action else "",
        actions=[a.value for a in audit.AuditAction],
    )


@router.get("/admin/audit.csv")
def audit_export(uow: UowDep, user: WebUser, action: audit.AuditAction | None = None) -> Response:
    require_auditor(user)
    events, _ = audit.list_events(uow.session, action=action.value if action else None, limit=CSV_LIMIT)
    return Response(
        audit_csv(events),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="clustermatch-audit.csv"'},
    )
