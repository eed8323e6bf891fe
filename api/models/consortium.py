"""Consortium proposals: a small group of organisations that could apply to a call together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, UTCDateTime, utcnow
from api.models.call import Call
from api.models.consortium_member import ConsortiumMember


class Consortium(Base):
    __tablename__ = "consortia"
    __table_args__ = (
        # The same group is proposed once per call, however often the builder runs.
        UniqueConstraint("call_id", "member_key"),
        Index("ix_consortia_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    # The sorted organisation ids, comma-separated.
    member_key: Mapped[str] = mapped_column(String(200))
    # pending_review -> invited -> formed | incomplete; or rejected by a facilitator.
    status: Mapped[str] = mapped_column(String(16), default="pending_review")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    # Why the group, what of the call it covers, what it leaves uncovered.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    call: Mapped[Call] = relationship(lazy="joined")
    members: Mapped[list[ConsortiumMember]] = relationship(
        lazy="selectin", order_by="ConsortiumMember.id", cascade="all, delete-orphan"
    )
