"""The facilitators' review desk: the suggestions waiting for their clusters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from api.deps import ResourcesDep, UowDep
from api.errors import Forbidden
from api.models import User
from api.models.enums import Role, SuggestionStatus
from api.suggestions import service as suggestions
from frontend.session import check_csrf
from frontend.web import WebUser, render

router = APIRouter(include_in_schema=False)

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
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Approve or reject one or several suggestions at once (the same note for all)."""
    check_csrf(resources, request, csrf)
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
