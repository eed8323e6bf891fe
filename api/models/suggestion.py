"""Suggestions: a need/offer pair the matcher proposes, with its score and reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from api.models.base import Base, UTCDateTime, utcnow
from api.models.posting import Posting
from api.models.user import User


class Suggestion(Base):
    __tablename__ = "suggestions"
    __table_args__ = (
        # Exactly one suggestion per pair, whichever side's matching finds it first.
        UniqueConstraint("need_id", "offer_id"),
        Index("ix_suggestions_offer", "offer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("postings.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("postings.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    score_parts: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="delivered")
    need_interested: Mapped[bool | None] = mapped_column(Boolean)
    offer_interested: Mapped[bool | None] = mapped_column(Boolean)
    need_reason: Mapped[str | None] = mapped_column(Text)
    offer_reason: Mapped[str | None] = mapped_column(Text)
    # A facilitator's rejection: the pair is never suggested again.
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the parties first saw it: a withdrawn pair stays visible to them only if they had.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    need: Mapped[Posting] = relationship(foreign_keys=[need_id], lazy="joined")
    offer: Mapped[Posting] = relationship(foreign_keys=[offer_id], lazy="joined")
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    @validates("status")
    def _stamp_delivery(self, _key: str, status: str) -> str:
        # Set wherever the status changes (matcher, approval), so no path can forget it.
        if status == "delivered" and self.delivered_at is None:
            self.delivered_at = utcnow()
        return status
