"""The facilitators' review desk (suggestions waiting for their clusters) and cluster dashboard."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.clusters.dashboard import cluster_dashboard
from api.deps import ResourcesDep, UowDep
from api.errors import Forbidden, NotFound
from api.models import User
from api.models.enums import Role, SuggestionStatus
from api.suggestions import service as suggestions
from frontend.session import csrf_protected
from frontend.web import WebUser, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])

MIN_NOTE = 3


def _reviewer(user: User) -> User:
    if user.role not in (Role.facilitator.value, Role.admin.value):
        raise Forbidden("The review desk is for cluster facilitators.")
    return user


def _desk(request: Request, resources, uow, user: User, **context) -> HTMLResponse:  # type: ignore[no-untyped-def]
    waiting = suggestions.list_suggestions(
        uow.session, user=user, status=SuggestionStatus.pending_review.value, limit=200
    )
    return render(request, resources, "desk.html", user=user, waiting=waiting, **context)


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> HTMLResponse:
    return _desk(request, resources, uow, _reviewer(user))


@router.post("/desk/review", response_class=HTMLResponse)
def review(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    action: Annotated[str, Form()],
    ids: Annotated[list[int] | None, Form()] = None,
    note: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Approve or reject one or several suggestions at once (the same note for all)."""
    _reviewer(user)
    if not ids:
        return _desk(request, resources, uow, user, error_key="nothing_selected", status_code=422)
    if action == "reject" and len(note.strip()) < MIN_NOTE:
        return _desk(request, resources, uow, user, error_key="note_required", note=note, status_code=422)
    for suggestion_id in ids:
        if action == "approve":
            suggestions.approve(uow.session, jobs=uow.jobs, user=user, suggestion_id=suggestion_id, note=note)
        else:
            suggestions.reject(
                uow.session, jobs=uow.jobs, user=user, suggestion_id=suggestion_id, reason=note
            )
    return _desk(request, resources, uow, user, done=len(ids))


@router.get("/desk/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> HTMLResponse:
    board = cluster_dashboard(uow.session, _reviewer(user))
    unmet = sorted(((area, len(items)) for area, items in board.unmet_needs.items()), key=lambda x: -x[1])
    return render(request, resources, "cluster_dashboard.html", user=user, board=board, unmet=unmet)


CSV_TABLES = ("postings", "suggestions", "unmet_needs", "cross_cluster")


@router.get("/desk/dashboard/{table}.csv")
def export_csv(table: str, uow: UowDep, user: WebUser) -> Response:
    """Each dashboard table as CSV (UTF-8 with BOM, so spreadsheets read the accents)."""
    if table not in CSV_TABLES:
        raise NotFound(f"No table {table!r}: choose one of {', '.join(CSV_TABLES)}.")
    board = cluster_dashboard(uow.session, _reviewer(user))
    out = io.StringIO()
    writer = csv.writer(out)
    if table == "postings":
        writer.writerow(
            [
                "id",
                "kind",
                "title",
                "organisation",
                "s3_area",
                "trl",
                "status",
                "pipeline_state",
                "created_at",
            ]
        )
        for p in board.postings:
            writer.writerow(
                [
                    p.id,
                    p.kind,
                    p.title,
                    p.organisation.name,
                    p.s3_area,
                    p.trl,
                    p.status,
                    p.pipeline_state,
                    p.created_at.isoformat(),
                ]
            )
    elif table == "unmet_needs":
        writer.writerow(["id", "title", "organisation", "s3_area", "created_at"])
        for items in board.unmet_needs.values():
            for p in items:
                writer.writerow([p.id, p.title, p.organisation.name, p.s3_area, p.created_at.isoformat()])
    else:
        rows = board.suggestions if table == "suggestions" else board.cross_cluster
        writer.writerow(
            [
                "id",
                "score",
                "status",
                "need_id",
                "need",
                "need_area",
                "offer_id",
                "offer",
                "offer_area",
                "created_at",
            ]
        )
        for s in rows:
            writer.writerow(
                [
                    s.id,
                    s.score,
                    s.status,
                    s.need_id,
                    s.need.title,
                    s.need.s3_area,
                    s.offer_id,
                    s.offer.title,
                    s.offer.s3_area,
                    s.created_at.isoformat(),
                ]
            )
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="clustermatch-{table}.csv"'},
    )
