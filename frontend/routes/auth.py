"""Log in, register, log out, and switch language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import service as auth_service
from api.auth.schemas import RegisterRequest
from api.deps import ResourcesDep, UowDep
from api.errors import DomainError
from api.models.enums import OrganisationType
from frontend.i18n import LANGUAGES, language_of
from frontend.session import csrf_protected, remember_language, sign_in, sign_out
from frontend.web import MaybeUser, field_errors, home_of, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, resources: ResourcesDep, user: MaybeUser) -> Response:
    if user is not None:
        return redirect(home_of(user))
    return render(request, resources, "login.html")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        user = auth_service.authenticate(uow.session, email=email, password=password)
    except DomainError as exc:
        return render(request, resources, "login.html", error=str(exc), email=email, status_code=401)
    response = redirect(home_of(user))
    sign_in(response, resources, user)
    # The account's language wins over the browser's from now on.
    remember_language(response, user.language)
    return response


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, resources: ResourcesDep) -> HTMLResponse:
    return render(request, resources, "register.html", org_types=[t.value for t in OrganisationType], form={})


@router.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    org_name: Annotated[str, Form()] = "",
    org_type: Annotated[str, Form()] = "company",
    city: Annotated[str, Form()] = "",
    clusters: Annotated[list[str] | None, Form()] = None,
) -> Response:
    form = {
        "email": email,
        "org_name": org_name,
        "org_type": org_type,
        "city": city,
        "clusters": clusters or [],
    }
    try:
        body = RegisterRequest(
            email=email,
            password=password,
            organization={"name": org_name, "type": org_type, "city": city, "clusters": clusters or []},
            language=language_of(request),
        )
        user = auth_service.register_member(uow.session, body)
    except ValidationError as exc:
        errors = field_errors(exc)
        return _register_again(request, resources, form, errors)
    except DomainError as exc:
        uow.session.rollback()
        return _register_again(request, resources, form, {"form": str(exc)})
    response = redirect("/app")
    sign_in(response, resources, user)
    return response


def _register_again(request: Request, resources, form: dict, errors: dict[str, str]) -> HTMLResponse:  # type: ignore[no-untyped-def]
    return render(
        request,
        resources,
        "register.html",
        org_types=[t.value for t in OrganisationType],
        form=form,
        errors=errors,
        status_code=422,
    )


@router.post("/logout")
def logout() -> RedirectResponse:
    response = redirect("/")
    sign_out(response)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, request: Request) -> RedirectResponse:
    back = request.headers.get("referer") or "/"
    response = redirect(back if back.startswith(str(request.base_url)) else "/")
    if code in LANGUAGES:
        remember_language(response, code)
    return response
