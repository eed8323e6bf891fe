"""The facilitators' review desk (suggestions waiting for their clusters) and cluster dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from api.authz import policy
from api.calls import proposals
from api.clusters.dashboard import cluster_dashboard
from api.clusters.export import TABLES, dashboard_csv
from api.core.errors import Forbidden, NotFound
from api.http.deps import ResourcesDep, UowDep
from api.http.fields import DbIdItem
from api.models import User
from api.models.enums import SuggestionStatus
from api.suggestions import capacity
from api.suggestions import service as suggestions
from frontend.session import csrf_protected
from frontend.web import WebUser, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])

# As the API's rejection: a reason of at least 3 characters.
MIN_NOTE = 3
ACTIONS = ("approve", "reject")


def _reviewer(user: User) -> User:
    if not policy.can_use_desk(user):
        raise Forbidden("The review desk is for cluster facilitators.")
    return user


def _desk(request: Request, resources, uow, user: User, **context) -> HTMLResponse:  # type: ignore[no-untyped-def]
    waiting = suggestions.list_suggestions(
        uow.session, user=user, status=SuggestionStatus.pending_review.value, limit=200
    )
    paced = suggestions.list_suggestions(
        uow.session, user=user, status=SuggestionStatus.waiting.value, limit=200
    )
    demand = capacity.demand_for(uow.session, sorted({s.offer_id for s in paced}))
    # Consortium proposals wait here too; each is reviewed on its call's page.
    consortia = proposals.list_consortia(uow.session, user=user, status=proposals.PENDING_REVIEW, limit=200)
    return render(
        request,
        resources,
        "desk.html",
        user=user,
        waiting=waiting,
        paced=paced,
        demand=demand,
        consortia=[c for c in consortia if policy.can_review_consortium(user, c)],
        **context,
    )


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> HTMLResponse:
    return _desk(request, resources, uow, _reviewer(user))


@router.post("/desk/review", response_class=HTMLResponse)
def review(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    ids: Annotated[list[DbIdItem] | None, Form()] = None,
    action: Annotated[str, Form()] = "",  # a missing action is refused below, on the desk page
    note: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Approve or reject one or several suggestions at once (the same note for all)."""
    _reviewer(user)
    if action not in ACTIONS:  # never read an unknown action as one of the two
        return _desk(request, resources, uow, user, error_key="unknown_action", note=note, status_code=422)
    if not ids:
        return _desk(request, resources, uow, user, error_key="nothing_selected", status_code=422)
    if action == "reject" and len(note.strip()) < MIN_NOTE:
        return _desk(request, resources, uow, user, error_key="note_required", note=note, status_code=422)
    for suggestion_id in ids:
        if action == "approve":
            suggestions.approve(uow.session, jobs=uow.jobs, user=user, suggestion_id=suggestion_id, note=note)
        else:  # "reject", checked above
            suggestions.reject(
                uow.session, jobs=uow.jobs, user=user, suggestion_id=suggestion_id, reason=note
            )
    return _desk(request, resources, uow, user, done=len(ids))


@router.get("/desk/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> HTMLResponse:
    board = cluster_dashboard(uow.session, _reviewer(user))
    unmet = sorted(((area, len(items)) for area, items in board.unmet_needs.items()), key=lambda x: -x[1])
    return render(request, resources, "cluster_dashboard.html", user=user, board=board, unmet=unmet)


@router.get("/desk/dashboard/{table}.csv")
def export_csv(table: str, uow: UowDep, user: WebUser) -> Response:
    """Each dashboard table as CSV, cells neutralised against spreadsheet formulas."""
    if table not in TABLES:
        raise NotFound(f"No table {table!r}: choose one of {', '.join(TABLES)}.")
    board = cluster_dashboard(uow.session, _reviewer(user))
    return Response(
        dashboard_csv(board, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="clustermatch-{table}.csv"'},
    )
