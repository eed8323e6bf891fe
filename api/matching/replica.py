"""A process-local replica of the database's match index: vectors, terms and facts per posting.

FAISS and the lexical index live in process memory, and any number of worker processes on any
number of machines search. Each process therefore keeps its own replica and, before every
search, catches up with the embeddings table, which doubles as the change log: every insert,
re-embedding or deactivation bumps `changed_at`. A catch-up re-reads a safety margin before
the previous one, so a transaction that committed after that catch-up began is still picked
up (the margin must exceed the longest write transaction plus the clock skew between machines).
An erased organisation's postings lose their embeddings rows; each leaves a tombstone instead
(`embedding_tombstones`), read with the same margin.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from api.models import Embedding, EmbeddingTombstone, Posting
from api.models.base import utcnow
from embeddings.index import VectorIndex
from embeddings.lexical import LexicalIndex

log = logging.getLogger(__name__)

FULL_LOAD_CHUNK = 2000
KINDS = ("need", "offer")


def vector_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


def opposite(kind: str) -> str:
    return "offer" if kind == "need" else "need"


@dataclass(frozen=True)
class PostingFacts:
    """What scoring needs of a posting besides its text."""

    kind: str
    organisation_id: int
    s3_area: str
    trl: int | None
    language: str


@dataclass(frozen=True)
class Probe:
    """A posting as the ranking sees it: its facts, vectors and terms."""

    posting_id: int
    facts: PostingFacts
    vector: np.ndarray
    head_vector: np.ndarray
    terms: dict[str, int]
    # The second encoder's vector of the raw text (None: no second encoder, or not embedded yet).
    multi_vector: np.ndarray | None = None


class IndexReplica:
    def __init__(
        self, *, model: str, dim: int, margin_seconds: float, multi_model: str = "", multi_dim: int = 0
    ) -> None:
        self.model = model
        self.dim = dim
        # The second encoder's stored id ("" none): only vectors it made enter its index.
        self.multi_model = multi_model
        self.multi_dim = multi_dim if multi_model else 0
        self.margin = timedelta(seconds=margin_seconds)
        self._sync_lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self.indexes = {kind: VectorIndex(self.dim) for kind in KINDS}  # whole-text vectors
        self.heads = {kind: VectorIndex(self.dim) for kind in KINDS}  # title + keywords vectors
        # Raw-text vectors of the second encoder; a posting it has not embedded (yet) holds zeros,
        # so its cosine reads 0 until `reindex` catches up.
        self.multi = {kind: VectorIndex(self.multi_dim) for kind in KINDS} if self.multi_dim else None
        self.lexical = LexicalIndex()
        self.facts: dict[int, PostingFacts] = {}
        self._synced_from: datetime | None = None

    def sync(self, session: Session, *, progress: bool = False) -> int:
        """Apply the changes since the last catch-up; returns how many rows were read."""
        with self._sync_lock:
            started = utcnow()
            query = (
                select(
                    Embedding.posting_id,
                    Embedding.kind,
                    Embedding.active,
                    Embedding.vector,
                    Embedding.head_vector,
                    Embedding.terms,
                    Embedding.multi_vector,
                    Embedding.multi_model,
                    Posting.organisation_id,
                    Posting.s3_area,
                    Posting.trl,
                    Posting.language,
                )
                .join(Posting, Posting.id == Embedding.posting_id)
                .where(Embedding.model == self.model)
            )
            total = None
            if self._synced_from is not None:
                query = query.where(Embedding.changed_at >= self._synced_from - self.margin)
            elif progress:
                total = session.scalar(
                    select(func.count()).select_from(Embedding).where(Embedding.model == self.model)
                )
            count = 0
            if self._synced_from is not None:
                # Erased postings leave no embeddings row to read: their tombstones say so.
                # Applied before the changes, so a later posting that reuses the id stays in.
                self._drop_erased(session, self._synced_from - self.margin)
            rows = session.execute(query.execution_options(yield_per=FULL_LOAD_CHUNK))
            with tqdm(total=total, desc="indexing", unit="posting", disable=not progress) as bar:
                for chunk in rows.partitions(FULL_LOAD_CHUNK):
                    self.apply(chunk)
                    count += len(chunk)
                    bar.update(len(chunk))
            self._synced_from = started
            return count

    def _drop_erased(self, session: Session, since: datetime) -> None:
        erased = session.execute(
            select(EmbeddingTombstone.posting_id, EmbeddingTombstone.kind).where(
                EmbeddingTombstone.deleted_at >= since
            )
        ).all()
        for kind in KINDS:
            ids = [posting_id for posting_id, erased_kind in erased if erased_kind == kind]
            if ids:
                self.indexes[kind].remove(ids)
                self.heads[kind].remove(ids)
                if self.multi is not None:
                    self.multi[kind].remove(ids)
                for posting_id in ids:
                    self.lexical.remove(posting_id)
                    self.facts.pop(posting_id, None)

    def apply(self, rows: list) -> None:  # type: ignore[type-arg]
        """Apply embedding rows as the catch-up query returns them (posting facts joined)."""
        for kind in KINDS:
            active = [r for r in rows if r.kind == kind and r.active and r.head_vector is not None]
            inactive = [r.posting_id for r in rows if r.kind == kind and not r.active]
            if active:
                ids = [r.posting_id for r in active]
                self.indexes[kind].upsert(ids, np.stack([vector_from_bytes(r.vector) for r in active]))
                self.heads[kind].upsert(ids, np.stack([vector_from_bytes(r.head_vector) for r in active]))
                if self.multi is not None:
                    self.multi[kind].upsert(ids, np.stack([self._multi_of(r) for r in active]))
                for r in active:
                    self.lexical.upsert(r.posting_id, kind, r.terms or {})
                    self.facts[r.posting_id] = PostingFacts(
                        kind, r.organisation_id, r.s3_area, r.trl, r.language
                    )
            if inactive:
                self.indexes[kind].remove(inactive)
                self.heads[kind].remove(inactive)
                if self.multi is not None:
                    self.multi[kind].remove(inactive)
                for posting_id in inactive:
                    self.lexical.remove(posting_id)
                    self.facts.pop(posting_id, None)

    def _multi_of(self, row) -> np.ndarray:  # type: ignore[no-untyped-def]
        raw = getattr(row, "multi_vector", None)
        if raw is None or getattr(row, "multi_model", "") != self.multi_model:
            return np.zeros(self.multi_dim, dtype=np.float32)
        return vector_from_bytes(raw)

    def __contains__(self, posting_id: int) -> bool:
        return posting_id in self.facts

    def probe(self, posting_id: int) -> Probe:
        """A stored posting as a probe (for checking the other side of a pair)."""
        facts = self.facts[posting_id]
        return Probe(
            posting_id,
            facts,
            self.indexes[facts.kind].vectors([posting_id])[0],
            self.heads[facts.kind].vectors([posting_id])[0],
            self.lexical.terms_of(posting_id),
            self.multi[facts.kind].vectors([posting_id])[0] if self.multi is not None else None,
        )

    def search(self, kind: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = self.indexes[kind].search(vector.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_multi(self, kind: str, vector: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        """Nearest raw-text vectors of the second encoder (none without one)."""
        if self.multi is None or vector is None or not vector.any():
            return []
        scores, ids = self.multi[kind].search(vector.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def reset(self) -> None:
        with self._sync_lock:
            self._clear()
