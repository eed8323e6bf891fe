"""Suggestion bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.http.fields import CleanLongText, RequestBody
from api.postings.schemas import PostingRead


class SuggestionRead(BaseModel):
    id: int
    need: PostingRead
    offer: PostingRead
    score: float
    score_parts: dict[str, float]
    explanation: dict[str, Any]
    status: str
    your_side: str | None = Field(None, description="need or offer, when you are a party")
    need_interested: bool | None
    offer_interested: bool | None
    contact: dict[str, Any] | None = Field(
        None, description="The other side's contact, once both sides are interested"
    )
    feedback: dict[str, Any] | None = Field(
        None, description="The parties' answers and a facilitator's rejection, shown to facilitators"
    )
    created_at: datetime
    updated_at: datetime


class SuggestionApproval(RequestBody):
    note: CleanLongText | None = Field(None, max_length=2000, description="Kept for the facilitators")


class SuggestionRejection(RequestBody):
    reason: CleanLongText = Field(
        min_length=3, max_length=2000, description="Why this pair is not a good match"
    )


class SuggestionResponseRequest(RequestBody):
    interested: bool
    reason: CleanLongText | None = Field(None, max_length=2000)
