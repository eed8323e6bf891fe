"""HTTP endpoints for accounts: registration, sessions (tokens, logout), passwords, disabling."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.auth import reset, service, sessions
from api.auth.schemas import (
    Message,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RegisterRequest,
    RegisterResponse,
    TokenRequest,
    TokenResponse,
    UserRead,
)
from api.http.deps import AuthenticatedDep, CurrentUser, ResourcesDep, ThrottleDep, UowDep
from api.http.fields import DbId
from api.models import User
from api.organisations.schemas import OrganisationRead

router = APIRouter(tags=["auth"])

RESET_ACCEPTED = "If an account has this e-mail address, a link to reset its password is on its way."


def _open_api_session(request: Request, uow: UowDep, resources: ResourcesDep, user: User) -> str:
    return sessions.open_session(
        uow.session,
        user=user,
        kind=sessions.API,
        minutes=resources.settings.access_token_minutes,
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=RegisterResponse)
def register(
    body: RegisterRequest, request: Request, uow: UowDep, resources: ResourcesDep, throttle: ThrottleDep
) -> RegisterResponse:
    throttle.registration()
    user = service.register_member(uow.session, body)
    return RegisterResponse(
        user=UserRead.model_validate(user),
        organization=OrganisationRead.model_validate(user.organisation),
        access_token=_open_api_session(request, uow, resources, user),
    )


@router.post("/auth/token", response_model=TokenResponse)
def token(
    body: TokenRequest, request: Request, uow: UowDep, resources: ResourcesDep, throttle: ThrottleDep
) -> TokenResponse:
    """A bearer token for a new API session (ended by logout, a password change or disabling)."""
    user = service.authenticate(uow.session, email=str(body.email), password=body.password, throttle=throttle)
    return TokenResponse(access_token=_open_api_session(request, uow, resources, user))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def logout(auth: AuthenticatedDep, uow: UowDep) -> Response:
    """End the session of this token (or cookie): it opens nothing from now on."""
    sessions.revoke(uow.session, auth.session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def change_password(
    body: PasswordChange, auth: AuthenticatedDep, uow: UowDep, throttle: ThrottleDep
) -> Response:
    """Change the password; every other session of the account ends, this one stays."""
    service.change_password(
        uow.session,
        user=auth.user,
        current=auth.session,
        current_password=body.current_password,
        new_password=body.new_password,
        throttle=throttle,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=Message)
def request_password_reset(body: PasswordResetRequest, uow: UowDep, throttle: ThrottleDep) -> Message:
    """E-mail a reset link. The answer is the same whether or not the address has an account."""
    if throttle.password_reset(service.normalise_email(str(body.email))):
        reset.request_reset(uow.session, jobs=uow.jobs, email=str(body.email))
    return Message(detail=RESET_ACCEPTED)


@router.post("/auth/password-reset/confirm", response_model=Message)
def confirm_password_reset(body: PasswordResetConfirm, uow: UowDep) -> Message:
    """Set a new password with the link's token; every session of the account ends."""
    reset.confirm_reset(uow.session, token=body.token, new_password=body.new_password)
    return Message(detail="Password changed: log in with the new one.")


@router.get("/auth/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.post("/admin/users/{user_id}/disable", response_model=UserRead, tags=["admin"])
def disable_user(user_id: DbId, user: CurrentUser, uow: UowDep) -> UserRead:
    """An admin disables an account: every session ends at once and logins are refused."""
    return UserRead.model_validate(
        service.set_disabled(uow.session, actor=user, user_id=user_id, disabled=True)
    )


@router.post("/admin/users/{user_id}/enable", response_model=UserRead, tags=["admin"])
def enable_user(user_id: DbId, user: CurrentUser, uow: UowDep) -> UserRead:
    return UserRead.model_validate(
        service.set_disabled(uow.session, actor=user, user_id=user_id, disabled=False)
    )
