"""Postings: a company's technology need or a lab's capability offer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, UTCDateTime, utcnow
from api.models.organisation import Organisation


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (
        # The reconciler scans for postings stuck in a pipeline state.
        Index("ix_postings_pipeline", "pipeline_state", "pipeline_updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    s3_area: Mapped[str] = mapped_column(String(32), index=True)
    # For a need: the lowest Technology Readiness Level that helps; for an offer: its level.
    trl: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8), default="it")
    status: Mapped[str] = mapped_column(String(8), default="open")

    pipeline_state: Mapped[str] = mapped_column(String(16), default="pending")
    pipeline_error: Mapped[str | None] = mapped_column(Text)
    pipeline_attempts: Mapped[int] = mapped_column(Integer, default=0)
    pipeline_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every edit that changes what is embedded; stale pipeline messages compare it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Matched without a suggestion: {"scores": {candidate id: score} of the best few, "threshold":
    # the delivery threshold}, for the owner to see how close it came (the ids never leave the API).
    nearest: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # The revision last matched with the open funding calls (`calls.matching`); behind `revision`
    # once matched, the calls job was lost and the reconciler sends it again.
    calls_matched_revision: Mapped[int | None] = mapped_column(Integer)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
