"""Embedding tombstones: postings erased with their embeddings row, for the replicas to drop.

The replicas follow the embeddings table as a change log, and a deleted row leaves nothing to
read there; a tombstone says "remove this posting" in its place. It holds ids only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class EmbeddingTombstone(Base):
    __tablename__ = "embedding_tombstones"

    posting_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
