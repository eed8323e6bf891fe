"""Call and consortium bodies: create, update, read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from api.calls.terms import MAX_CONSORTIUM, Programme
from api.http.fields import MAX_DB_INT, CleanLine, CleanLongText, RequestBody
from api.models.enums import OrganisationType, S3Area
from api.postings.schemas import _clean_keywords

# A deadline further out than this is a typo: programmes run for seven years.
MAX_HORIZON = timedelta(days=3653)
LINK_PATTERN = r"^https?://[^\s]+$"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a time without offset is read as UTC
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: give a date within the next 10 years") from None
    if not datetime.now(UTC) - MAX_HORIZON < value < datetime.now(UTC) + MAX_HORIZON:
        raise ValueError("must be within 10 years from today")
    return value


def _future(value: datetime | None) -> datetime | None:
    value = _utc(value)
    if value is not None and value <= datetime.now(UTC):
        raise ValueError("must be in the future: a call past its deadline cannot be published")
    return value


def _unique(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


class ConsortiumRuleBody(RequestBody):
    """Who must apply together. Defaults: one organisation or more, at most five."""

    min_partners: int = Field(1, ge=1, le=MAX_CONSORTIUM, description="At least this many organisations.")
    max_partners: int = Field(MAX_CONSORTIUM, ge=1, le=50, description="At most this many organisations.")
    min_companies: int = Field(0, ge=0, le=MAX_CONSORTIUM, description="Companies or start-ups among them.")
    min_research: int = Field(
        0, ge=0, le=MAX_CONSORTIUM, description="Research labs, university departments or tech centres."
    )
    min_countries: int = Field(1, ge=1, le=MAX_CONSORTIUM, description="Countries the partners come from.")


class CallCreate(RequestBody):
    title: CleanLine = Field(min_length=5, max_length=300, description="The call's title, in a line.")
    description: CleanLongText = Field(
        min_length=30, max_length=20_000, description="What the call funds (Italian and/or English)."
    )
    keywords: list[CleanLine] = Field(default_factory=list, max_length=20, description="Up to 20.")
    language: str | None = Field(None, pattern="^(it|en|mixed)$", description="Detected when omitted.")
    programme: Programme
    link: str | None = Field(None, max_length=500, pattern=LINK_PATTERN, description="The call's page.")
    opens_at: datetime | None = Field(None, description="When applications open (default: now).")
    deadline: datetime = Field(description="When applications close: in the future.")
    s3_areas: list[S3Area] = Field(
        default_factory=list, max_length=8, description="The areas addressed (empty: any)."
    )
    area_required: bool = Field(False, description="Only postings in one of s3_areas are eligible.")
    eligible_types: list[OrganisationType] = Field(
        default_factory=list, max_length=6, description="Who may apply (empty: every type)."
    )
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    budget_min: int | None = Field(None, ge=0, le=MAX_DB_INT, description="Euros per project.")
    budget_max: int | None = Field(None, ge=0, le=MAX_DB_INT, description="Euros per project.")
    consortium_rule: ConsortiumRuleBody = Field(default_factory=ConsortiumRuleBody)
    external_id: CleanLine | None = Field(
        None, min_length=1, max_length=120, description="The source's id: importing again updates the call."
    )

    _keywords = field_validator("keywords")(_clean_keywords)
    _lists = field_validator("s3_areas", "eligible_types")(_unique)
    _opens = field_validator("opens_at")(_utc)
    _deadline = field_validator("deadline")(_future)


class CallRead(BaseModel):
    id: int
    title: str
    description: str
    keywords: list[str]
    language: str
    programme: str
    link: str | None
    opens_at: datetime
    deadline: datetime
    s3_areas: list[str]
    area_required: bool
    eligible_types: list[str]
    trl_min: int | None
    trl_max: int | None
    budget_min: int | None
    budget_max: int | None
    consortium_rule: dict[str, int]
    status: str
    pipeline_state: str
    revision: int
    created_at: datetime
    closed_at: datetime | None
    days_left: int = Field(description="Whole days until the deadline (0 on its last day or after).")

    model_config = {"from_attributes": True}


class CallFitRead(BaseModel):
    """One of your postings that fits a call, and why."""

    call_id: int
    posting_id: int
    posting_title: str
    score: float
    explanation: dict[str, Any]
    notified_at: datetime | None


class FunnelRead(BaseModel):
    call_id: int
    fitting_postings: int
    fitting_organisations: int
    notified: int
    consortia_proposed: int
    consortia_accepted: int
    unmet_reason: str | None = Field(None, description="Why no consortium could be proposed, if none was.")


class MemberRead(BaseModel):
    """A member of a proposal; another organisation's identity is null until both accepted."""

    organisation_id: int | None
    name: str | None
    type: str
    city: str | None
    posting_id: int | None
    posting_kind: str | None
    role: str
    why: dict[str, str] = Field(description='Why it is in the group: {"it": ..., "en": ...}')
    covers: list[str]
    answer: str | None
    contact: dict[str, Any] | None = Field(None, description="Once both organisations accepted")
    yours: bool = False


class ConsortiumRead(BaseModel):
    id: int
    call: CallRead
    status: str
    score: float
    covers: list[str]
    members: list[MemberRead]
    review_note: str | None = Field(None, description="Shown to the call's facilitators")
    created_at: datetime
    updated_at: datetime


class ConsortiumApproval(RequestBody):
    note: CleanLongText | None = Field(None, max_length=2000, description="Kept for the facilitators")


class ConsortiumRejection(RequestBody):
    reason: CleanLongText = Field(min_length=3, max_length=2000, description="Why this group is not proposed")


class ConsortiumAnswer(RequestBody):
    accept: bool = Field(description="true: the organisation joins; false: it declines")
