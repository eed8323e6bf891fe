"""HTTP endpoints for registration and access tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.auth import service
from api.auth.schemas import (
    RegisterRequest,
    RegisterResponse,
    TokenRequest,
    TokenResponse,
    UserRead,
)
from api.auth.security import create_access_token
from api.deps import CurrentUser, ResourcesDep, UowDep
from api.organisations.schemas import OrganisationRead

router = APIRouter(tags=["auth"])


def _token(resources: ResourcesDep, user_id: int) -> str:
    return create_access_token(
        user_id, secret=resources.secret_key, minutes=resources.settings.access_token_minutes
    )


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=RegisterResponse)
def register(body: RegisterRequest, uow: UowDep, resources: ResourcesDep) -> RegisterResponse:
    user = service.register_member(uow.session, body)
    return RegisterResponse(
        user=UserRead.model_validate(user),
        organization=OrganisationRead.model_validate(user.organisation),
        access_token=_token(resources, user.id),
    )


@router.post("/auth/token", response_model=TokenResponse)
def token(body: TokenRequest, uow: UowDep, resources: ResourcesDep) -> TokenResponse:
    user = service.authenticate(uow.session, email=str(body.email), password=body.password)
    return TokenResponse(access_token=_token(resources, user.id))


@router.get("/auth/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)
