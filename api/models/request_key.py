"""Idempotency keys of posting creations: a client that retries a POST whose answer it never
got (a dropped connection, a killed API process) sends the same key and gets the same posting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class RequestKey(Base):
    __tablename__ = "request_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_request_keys_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    # Set in the same transaction as the key; NULL never outlives it.
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
