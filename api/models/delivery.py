"""Deliveries: the outbox of notifications, one row per notification and channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # One delivery per channel: a retried job never sends the same notification twice.
        UniqueConstraint("notification_id", "channel"),
        # The sweeper's and the digest pass's scans.
        Index("ix_deliveries_status", "status", "next_attempt_at"),
        Index("ix_deliveries_recipient", "recipient_id", "channel", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    # Denormalised from the notification: the cap, the digest and the sweeper query by user.
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # "live" or "email"
    # pending -> sent | skipped | failed; e-mail also pending -> deferred (waits for a digest).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # pending: an attempt in flight holds the row until then; deferred: when its digest is due.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # E-mail: the Message-ID key of the mail that carried it (one digest carries several).
    mail_key: Mapped[str | None] = mapped_column(String(64))
