"""Funding calls (STEP, FESR-ER, FSE+, Horizon Europe...): the third kind of posting, published
by facilitators and admins, embedded by the same encoder and matched against needs and offers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        # The reconciler closes calls past their deadline and re-enqueues stuck ones.
        Index("ix_calls_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(8), default="it")
    programme: Mapped[str] = mapped_column(String(24))
    link: Mapped[str | None] = mapped_column(String(500))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    # S3 area keys the call addresses (empty: any); `area_required` makes them a hard filter.
    s3_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    area_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Organisation types that may apply (empty: every type).
    eligible_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    trl_min: Mapped[int | None] = mapped_column(Integer)
    trl_max: Mapped[int | None] = mapped_column(Integer)
    # Euros per project, as the call states them.
    budget_min: Mapped[int | None] = mapped_column(Integer)
    budget_max: Mapped[int | None] = mapped_column(Integer)
    # `api.calls.terms.ConsortiumRule.to_dict()`.
    consortium_rule: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # An identifier from the source a call was imported from: importing the file again updates it.
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True)

    # The pipeline, as for postings: pending -> embedded -> matched (or failed).
    revision: Mapped[int] = mapped_column(Integer, default=1)
    pipeline_state: Mapped[str] = mapped_column(String(16), default="pending")
    pipeline_error: Mapped[str | None] = mapped_column(Text)
    pipeline_attempts: Mapped[int] = mapped_column(Integer, default=0)
    pipeline_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The call's vectors live on its row: there are tens of open calls, searched by brute force.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    head_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    passage_vectors: Mapped[bytes | None] = mapped_column(LargeBinary)  # (passages, dim) float32
    multi_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    terms: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    model: Mapped[str] = mapped_column(String(200), default="")
    multi_model: Mapped[str] = mapped_column(String(200), default="")
    embedded_revision: Mapped[int | None] = mapped_column(Integer)
    # Why the group builder proposed no consortium (the dashboard shows it); None when it did.
    unmet_reason: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
