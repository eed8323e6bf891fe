"""Posting bodies: create, update, read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, field_validator

from api.http.fields import CleanLine, CleanLongText, RequestBody, keyword_key
from api.matching.explain import posting_advice
from api.models import Posting
from api.models.enums import PostingKind, S3Area

# An expiry further out than this is a typo (or a probe for the date range), not a plan.
MAX_EXPIRY = timedelta(days=3653)
KEYWORD_MAX_LENGTH = 60


def title_field(default=...):  # type: ignore[no-untyped-def]
    return Field(default, min_length=5, max_length=200, description="What is needed or offered, in a line.")


def description_field(default=...):  # type: ignore[no-untyped-def]
    return Field(
        default,
        min_length=30,
        max_length=10_000,
        description="The problem, constraints, volumes and the kind of partner sought (30+ characters).",
    )


def _patch_only(schema: dict) -> None:  # type: ignore[type-arg]
    # A PATCH field may be left out, never sent as null: the schema shows no null default.
    schema.pop("default", None)


TRL = Field(None, ge=1, le=9, description="Technology Readiness Level, 1 to 9.")
LANGUAGE_PATTERN = "^(it|en|mixed)$"
LANGUAGE = Field(None, pattern=LANGUAGE_PATTERN, description="Main language; detected when omitted.")
EXPIRES_AT = Field(None, description="When the posting closes by itself: in the future, within 10 years.")


def _clean_keywords(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    cleaned: list[str] = []
    seen: set[str] = set()
    for keyword in value:
        keyword = " ".join(keyword.split())
        if not keyword:
            continue
        if len(keyword) > KEYWORD_MAX_LENGTH:
            raise ValueError(f"keyword '{keyword[:20]}…' is longer than {KEYWORD_MAX_LENGTH} characters")
        # NFC and NFD spellings, or two cases, of one keyword are one keyword.
        if keyword_key(keyword) not in seen:
            seen.add(keyword_key(keyword))
            cleaned.append(keyword)
    return cleaned


def _future_expiry(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a time without offset is read as UTC
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: give a date within the next 10 years") from None
    now = datetime.now(UTC)
    if value <= now:
        raise ValueError("must be in the future")
    if value > now + MAX_EXPIRY:
        raise ValueError("must be within the next 10 years")
    return value


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


class PostingCreate(RequestBody):
    kind: PostingKind
    title: CleanLine = title_field()
    description: CleanLongText = description_field()
    keywords: list[CleanLine] = Field(
        default_factory=list, max_length=20, description="Up to 20, 60 characters each."
    )
    s3_area: S3Area
    trl: int | None = TRL
    language: str | None = LANGUAGE
    expires_at: datetime | None = EXPIRES_AT

    _keywords = field_validator("keywords")(_clean_keywords)
    _text = field_validator("title", "description")(_not_blank)
    _expiry = field_validator("expires_at")(_future_expiry)


class PostingUpdate(RequestBody):
    """Only the fields sent change; a field that cannot be empty cannot be sent as null either."""

    title: CleanLine = Field(
        None, min_length=5, max_length=200, json_schema_extra=_patch_only, description="A new title."
    )
    description: CleanLongText = Field(
        None, min_length=30, max_length=10_000, json_schema_extra=_patch_only, description="A new text."
    )
    keywords: list[CleanLine] = Field(
        None, max_length=20, json_schema_extra=_patch_only, description="Replaces all keywords."
    )
    s3_area: S3Area = Field(None, json_schema_extra=_patch_only)
    trl: int | None = Field(None, ge=1, le=9, description="null clears the TRL.")
    language: str = Field(None, pattern=LANGUAGE_PATTERN, json_schema_extra=_patch_only)
    expires_at: datetime = Field(
        None, json_schema_extra=_patch_only, description="In the future, within 10 years."
    )

    _keywords = field_validator("keywords")(_clean_keywords)
    _text = field_validator("title", "description")(_not_blank)
    _expiry = field_validator("expires_at")(_future_expiry)


class OrganisationSummary(BaseModel):
    """Who published a posting; a counterpart reads only the type until both sides are interested."""

    id: int | None
    name: str | None
    type: str
    city: str | None

    model_config = {"from_attributes": True}


class MatchOutlook(BaseModel):
    """A matched posting that found no suggestion: how close its nearest candidates came (their
    scores, never who they are), the score a suggestion needs, and what would help."""

    nearest_scores: list[float]
    threshold: float
    advice: list[dict[str, str]]


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
    # Only for the owner, and only while the posting has no suggestion (else null).
    match_outlook: MatchOutlook | None = None

    model_config = {"from_attributes": True}


def match_outlook(posting: Posting) -> MatchOutlook | None:
    nearest = posting.nearest
    if not nearest or posting.pipeline_state != "matched":
        return None
    return MatchOutlook(
        nearest_scores=sorted(nearest.get("scores", {}).values(), reverse=True),
        threshold=float(nearest.get("threshold", 0.0)),
        advice=posting_advice(posting),
    )


def posting_read(
    posting: Posting, hidden: frozenset[str] = frozenset(), *, owner: bool = False
) -> PostingRead:
    """The posting as this reader may see it: `hidden` fields (api.authz.policy) come back null;
    the match outlook only for its owner (`policy.sees_match_outlook`)."""
    read = PostingRead.model_validate(posting)
    if owner:
        read.match_outlook = match_outlook(posting)
    organisation_hidden = {name.split(".", 1)[1] for name in hidden if name.startswith("organisation.")}
    if organisation_hidden:
        read.organisation = read.organisation.model_copy(update=dict.fromkeys(organisation_hidden))
    top_hidden = {name for name in hidden if "." not in name}
    return read.model_copy(update=dict.fromkeys(top_hidden)) if top_hidden else read
