"""Call fits: a need or offer that is eligible for a call and relevant to it, with the reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, UTCDateTime, utcnow
from api.models.call import Call
from api.models.posting import Posting


class CallFit(Base):
    __tablename__ = "call_fits"
    __table_args__ = (
        # One fit per call and posting, whichever side's matching finds it first.
        UniqueConstraint("call_id", "posting_id"),
        Index("ix_call_fits_posting", "posting_id"),
        # The reconciler looks for fits no proposal has seen yet, across calls.
        Index("ix_call_fits_unseen", "proposals_seen_at", "call_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id", ondelete="CASCADE"))
    # Denormalised from the posting: the funnel, the digest and the reminders count by organisation.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    call_revision: Mapped[int] = mapped_column(Integer, default=1)
    # When the posting's organisation was told; None: a fit found after the call closed.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When consortium proposals last took this fit into account; None: not yet (a proposal job
    # is due: `api.calls.proposals.propose_consortia`, or the reconciler's pass finds it).
    proposals_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship(lazy="joined")
    posting: Mapped[Posting] = relationship(lazy="joined")
