"""Review policy bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.http.fields import RequestBody
from api.models.enums import S3Area


class ReviewPolicy(BaseModel):
    s3_area: S3Area
    auto_deliver_above: float | None = Field(
        None, description="Suggestions scoring at least this go out without review; null: all are reviewed"
    )


class ReviewPolicyUpdate(RequestBody):
    auto_deliver_above: float | None = Field(None, ge=0.0, le=1.0)
