"""Embeddings: what the match index holds of each posting (vectors, terms), kept in the
database so every index can be rebuilt.

The table doubles as the change log that the in-memory FAISS replicas follow: every change
bumps `changed_at`, and a closed posting keeps its row with `active = False`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, UTCDateTime, utcnow


class Embedding(Base):
    __tablename__ = "embeddings"

    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    # float32, little-endian, L2-normalised.
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # the whole text (mean of its passages)
    head_vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # title and keywords
    # English-pivot stems and their counts, for the lexical index.
    terms: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # The multilingual second encoder's vector of the raw text, and that encoder's id ("" none).
    multi_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    multi_model: Mapped[str] = mapped_column(String(200), default="", server_default="")
    posting_revision: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
