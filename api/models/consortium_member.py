"""Consortium members: one organisation of a proposal, why it is there, and its answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, UTCDateTime
from api.models.organisation import Organisation


class ConsortiumMember(Base):
    __tablename__ = "consortium_members"
    __table_args__ = (
        # Never an organisation twice in one proposal.
        UniqueConstraint("consortium_id", "organisation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    # The posting that makes it fit the call (its need or offer), if any.
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id", ondelete="SET NULL"))
    # Why it is in the group and which part of the call it covers.
    why: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # None until the organisation answers the invitation: "accepted" or "declined".
    answer: Mapped[str | None] = mapped_column(String(8))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
