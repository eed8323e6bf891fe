"""Each cluster's review policy: which new suggestions skip the facilitators' review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class ClusterPolicy(Base):
    __tablename__ = "cluster_policies"

    s3_area: Mapped[str] = mapped_column(String(32), primary_key=True)
    # None: every suggestion waits for a facilitator; a score: those at or above it go out directly.
    auto_deliver_above: Mapped[float | None] = mapped_column(Float)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
