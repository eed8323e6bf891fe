"""Request and response bodies of the auth endpoints."""

from __future__ import annotations

from pydantic import BaseModel, EmailStr, Field

from api.organisations.schemas import OrganisationCreate, OrganisationRead


class UserRead(BaseModel):
    id: int
    email: str
    role: str
    organisation_id: int | None
    clusters: list[str]
    language: str

    model_config = {"from_attributes": True}


class RegisterRequest(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=200, description="At least 8 characters.")
    organization: OrganisationCreate
    language: str = Field("it", pattern="^(it|en)$")


class RegisterResponse(BaseModel):
    user: UserRead
    organization: OrganisationRead
    access_token: str
    token_type: str = "bearer"


class TokenRequest(BaseModel):
    email: EmailStr
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
