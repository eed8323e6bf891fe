"""Log in, register, log out, passwords (change, forgotten, reset), and switch language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import reset
from api.auth import service as auth_service
from api.auth.schemas import RegisterRequest
from api.core.errors import Conflict, DomainError, Forbidden, InvalidInput, TooManyRequests
from api.http.deps import ResourcesDep, ThrottleDep, UowDep
from api.models.enums import OrganisationType
from frontend.i18n import LANGUAGES, language_of, translator
from frontend.session import (
    csrf_protected,
    current_session,
    remember_language,
    sign_in,
    sign_out,
)
from frontend.web import MaybeUser, WebUser, field_errors, home_of, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])


def _too_many(
    request: Request, resources: ResourcesDep, template: str, exc: TooManyRequests, **context: object
) -> Response:
    t = translator(language_of(request))
    response = render(
        request,
        resources,
        template,
        error=t("too_many_attempts", seconds=exc.retry_after),
        status_code=429,
        **context,
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


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
    throttle: ThrottleDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    t = translator(language_of(request))
    try:
        user = auth_service.authenticate(uow.session, email=email, password=password, throttle=throttle)
    except TooManyRequests as exc:
        return _too_many(request, resources, "login.html", exc, email=email)
    except DomainError as exc:
        known = exc.message == auth_service.WRONG_CREDENTIALS
        error = t("wrong_credentials") if known else t("account_disabled")
        return render(request, resources, "login.html", error=error, email=email, status_code=401)
    response = redirect(home_of(user))
    sign_in(response, request, resources, uow.session, user)
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
    throttle: ThrottleDep,
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
        throttle.registration()
        body = RegisterRequest(
            email=email,
            password=password,
            organization={"name": org_name, "type": org_type, "city": city, "clusters": clusters or []},
            language=language_of(request),
        )
        user = auth_service.register_member(uow.session, body)
    except TooManyRequests as exc:
        return _too_many(
            request, resources, "register.html", exc, org_types=[t.value for t in OrganisationType], form=form
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        return _register_again(request, resources, form, errors)
    except DomainError as exc:
        uow.session.rollback()
        t = translator(language_of(request))
        message = t("email_taken") if isinstance(exc, Conflict) else str(exc)
        return _register_again(request, resources, form, {"form": message})
    response = redirect("/app")
    sign_in(response, request, resources, uow.session, user)
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
def logout(request: Request, uow: UowDep) -> RedirectResponse:
    response = redirect("/")
    sign_out(response, request, uow.session)
    return response


@router.post("/app/password")
def change_password(
    request: Request,
    uow: UowDep,
    user: WebUser,
    throttle: ThrottleDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
) -> RedirectResponse:
    found = current_session(request, uow.session)
    try:
        auth_service.change_password(
            uow.session,
            user=user,
            current=found[0] if found else None,
            current_password=current_password,
            new_password=new_password,
            throttle=throttle,
        )
    except TooManyRequests:
        return redirect("/app/profile?password_error=limited#password")
    except Forbidden:
        return redirect("/app/profile?password_error=wrong#password")
    except InvalidInput:
        return redirect("/app/profile?password_error=short#password")
    return redirect("/app/profile?password=changed#password")


@router.get("/password-forgot", response_class=HTMLResponse)
def forgot_page(request: Request, resources: ResourcesDep) -> HTMLResponse:
    return render(request, resources, "password_forgot.html")


@router.post("/password-forgot", response_class=HTMLResponse)
def forgot(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    throttle: ThrottleDep,
    email: Annotated[str, Form()] = "",
) -> Response:
    try:
        if throttle.password_reset(auth_service.normalise_email(email)):
            reset.request_reset(uow.session, jobs=uow.jobs, email=email)
    except TooManyRequests as exc:
        return _too_many(request, resources, "password_forgot.html", exc)
    # The same page whether or not the address has an account.
    return render(
        request,
        resources,
        "password_forgot.html",
        sent=True,
        minutes=resources.settings.password_reset_minutes,
    )


@router.get("/password-reset", response_class=HTMLResponse)
def reset_page(request: Request, resources: ResourcesDep) -> HTMLResponse:
    # The token is in the link's fragment (never sent to a server); app.js puts it in the form.
    return render(request, resources, "password_reset.html")


@router.post("/password-reset", response_class=HTMLResponse)
def reset_password(
    request: Request,
    resources: ResourcesDep,
    uow: UowDep,
    token: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
) -> Response:
    t = translator(language_of(request))
    try:
        reset.confirm_reset(uow.session, token=token[:200], new_password=new_password)
    except InvalidInput:
        return render(
            request, resources, "password_reset.html", error=t("password_error_short"), status_code=422
        )
    except DomainError:
        return render(
            request, resources, "password_reset.html", error=t("reset_link_invalid"), status_code=400
        )
    return render(request, resources, "login.html", notice=t("reset_done"))


@router.get("/lang/{code}")
def switch_language(code: str, request: Request) -> RedirectResponse:
    back = request.headers.get("referer") or "/"
    response = redirect(back if back.startswith(str(request.base_url)) else "/")
    if code in LANGUAGES:
        remember_language(response, code)
    return response
