"""Posting bodies: create, update, read."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from api.models.enums import PostingKind, S3Area


def title_field(default=...):  # type: ignore[no-untyped-def]
    return Field(default, min_length=5, max_length=200, description="What is needed or offered, in a line.")


def description_field(default=...):  # type: ignore[no-untyped-def]
    return Field(
        default,
        min_length=30,
        max_length=10_000,
        description="The problem, constraints, volumes and the kind of partner sought (30+ characters).",
    )


TRL = Field(None, ge=1, le=9, description="Technology Readiness Level, 1 to 9.")
LANGUAGE = Field(None, pattern="^(it|en|mixed)$", description="Main language; detected when omitted.")


def _clean_keywords(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    cleaned: list[str] = []
    for keyword in value:
        keyword = " ".join(keyword.split())
        if not keyword:
            continue
        if len(keyword) > 60:
            raise ValueError(f"keyword '{keyword[:20]}…' is longer than 60 characters")
        if keyword.lower() not in {k.lower() for k in cleaned}:
            cleaned.append(keyword)
    return cleaned


class PostingCreate(BaseModel):
    kind: PostingKind
    title: str = title_field()
    description: str = description_field()
    keywords: list[str] = Field(
        default_factory=list, max_length=20, description="Up to 20, 60 characters each."
    )
    s3_area: S3Area
    trl: int | None = TRL
    language: str | None = LANGUAGE
    expires_at: datetime | None = None

    _keywords = field_validator("keywords")(_clean_keywords)

    @field_validator("title", "description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class PostingUpdate(BaseModel):
    title: str | None = title_field(None)
    description: str | None = description_field(None)
    keywords: list[str] | None = Field(None, max_length=20)
    s3_area: S3Area | None = None
    trl: int | None = TRL
    language: str | None = LANGUAGE
    expires_at: datetime | None = None

    _keywords = field_validator("keywords")(_clean_keywords)


class OrganisationSummary(BaseModel):
    id: int
    name: str
    type: str
    city: str

    model_config = {"from_attributes": True}


class PostingRead(BaseModel):
    id: int
    kind: str
    organisation: OrganisationSummary
    title: str
    description: str
    keywords: list[str]
    s3_area: str
    trl: int | None
    language: str
    status: str
    pipeline_state: str
    pipeline_error: str | None
    revision: int
    created_at: datetime
    updated_at: datetime
    matched_at: datetime | None
    expires_at: datetime | None
    closed_at: datetime | None

    model_config = {"from_attributes": True}
