"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from api.http.fields import RequestBody, SecretText
from api.organisations.schemas import OrganisationCreate, OrganisationRead


class UserRead(BaseModel):
    id: int
    email: str
    role: str
    organisation_id: int | None
    clusters: list[str]
    language: str
    disabled_at: datetime | None = None

    model_config = {"from_attributes": True}


class RegisterRequest(RequestBody):
    email: EmailStr
    password: SecretText = Field(min_length=8, max_length=200, description="At least 8 characters.")
    organization: OrganisationCreate
    language: str = Field("it", pattern="^(it|en)$")


class RegisterResponse(BaseModel):
    user: UserRead
    organization: OrganisationRead
    access_token: str
    token_type: str = "bearer"


class TokenRequest(RequestBody):
    email: EmailStr
    password: SecretText = Field(max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


class PasswordChange(RequestBody):
    current_password: SecretText = Field(max_length=200)
    new_password: SecretText = Field(min_length=8, max_length=200, description="At least 8 characters.")


class PasswordResetRequest(RequestBody):
    email: EmailStr


class PasswordResetConfirm(RequestBody):
    token: SecretText = Field(min_length=1, max_length=200, description="The token from the e-mailed link.")
    new_password: SecretText = Field(min_length=8, max_length=200, description="At least 8 characters.")


class Message(BaseModel):
    detail: str
