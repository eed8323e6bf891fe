"""The admin pages: organisations and their users (roles, clusters), review policy per cluster,
failed jobs (dead letters) and their retry."""

from __future__ import annotations

from typing import Annotated, Literal

import redis
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.auth import service as auth_service
from api.auth.service import change_role
from api.authz import policy
from api.clusters.service import auto_deliver_thresholds, set_policy
from api.core.errors import Forbidden, InvalidInput
from api.http.deps import ResourcesDep, UowDep
from api.http.fields import DbId
from api.models import Organisation, User
from api.models.enums import Role, S3Area
from api.operations.deadletters import DeadLetter, list_dead_letters, retry_dead_letters
from frontend.session import csrf_protected
from frontend.web import WebUser, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])

DEAD_LETTERS_SHOWN = 50


def _admin(user: User) -> User:
    if not policy.can_administer(user):
        raise Forbidden("The admin pages are for administrators.")
    return user


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, resources: ResourcesDep, uow: UowDep, user: WebUser) -> HTMLResponse:
    _admin(user)
    return render(
        request,
        resources,
        "admin.html",
        user=user,
        organisations=list(uow.session.scalars(select(Organisation).order_by(Organisation.name))),
        users=list(uow.session.scalars(select(User).order_by(User.email))),
        roles=[r.value for r in Role],
        policies=auto_deliver_thresholds(uow.session, resources.settings.review_auto_deliver_above),
        dead_letters=_dead_letters(resources),
        retried=request.query_params.get("retried"),
    )


def _dead_letters(resources: ResourcesDep) -> list[DeadLetter] | None:
    """The newest dead letters, or None when Redis does not answer (the page still renders)."""
    try:
        return list_dead_letters(resources.redis, limit=DEAD_LETTERS_SHOWN)
    except redis.RedisError:
        return None


@router.post("/admin/jobs/retry")
def retry_jobs(
    resources: ResourcesDep, user: WebUser, job_id: Annotated[str | None, Form()] = None
) -> Response:
    """One dead letter (job_id), or all of them, sent again."""
    _admin(user)
    sent = retry_dead_letters(resources.redis, resources.broker, [job_id] if job_id else None)
    return redirect(f"/admin?retried={len(sent)}#jobs")


@router.post("/admin/users/{user_id}")
def save_role(
    user_id: DbId,
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    role: Annotated[Role, Form()],
    clusters: Annotated[list[str] | None, Form()] = None,
) -> Response:
    change_role(uow.session, actor=_admin(user), user_id=user_id, role=role, clusters=clusters or [])
    return redirect("/admin#users")


@router.post("/admin/users/{user_id}/{action}")
def set_disabled(user_id: DbId, action: Literal["disable", "enable"], uow: UowDep, user: WebUser) -> Response:
    """Disabling ends every session of the account at once and refuses its logins."""
    auth_service.set_disabled(uow.session, actor=_admin(user), user_id=user_id, disabled=action == "disable")
    return redirect("/admin#users")


@router.post("/admin/policies/{s3_area}")
def save_policy(
    s3_area: S3Area,
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    auto_deliver_above: Annotated[str, Form()] = "",
) -> Response:
    text = auto_deliver_above.strip().replace(",", ".")
    try:
        threshold = float(text) if text else None
    except ValueError:
        raise InvalidInput(
            f"'{auto_deliver_above}' is not a score: write a number between 0 and 1, or leave it empty."
        ) from None
    if threshold is not None and not 0 <= threshold <= 1:
        raise InvalidInput("The score must be between 0 and 1.")
    set_policy(uow.session, user=_admin(user), s3_area=s3_area.value, auto_deliver_above=threshold)
    return redirect("/admin#policies")
