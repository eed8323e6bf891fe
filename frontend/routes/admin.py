"""The admin pages: organisations and their users (roles, clusters), review policy per cluster."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.auth.service import change_role
from api.clusters.service import auto_deliver_thresholds, set_policy
from api.deps import ResourcesDep, UowDep
from api.errors import Forbidden, InvalidInput
from api.models import Organisation, User
from api.models.enums import Role, S3Area
from frontend.session import csrf_protected
from frontend.web import WebUser, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])


def _admin(user: User) -> User:
    if user.role != Role.admin.value:
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
    )


@router.post("/admin/users/{user_id}")
def save_role(
    user_id: int,
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    user: WebUser,
    role: Annotated[Role, Form()],
    clusters: Annotated[list[str] | None, Form()] = None,
) -> Response:
    change_role(uow.session, actor=_admin(user), user_id=user_id, role=role, clusters=clusters or [])
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
