"""Call reminders: each distance from a call's deadline (30, 14, 3 days) is reminded once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class CallReminder(Base):
    __tablename__ = "call_reminders"
    __table_args__ = (
        # Two worker processes passing at once: the second insert fails, its pass sends nothing.
        UniqueConstraint("call_id", "days_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    days_before: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
