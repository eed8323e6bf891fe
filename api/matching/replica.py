"""A process-local FAISS replica of the database's embeddings, one index per posting kind.

FAISS lives in process memory, and any number of worker processes on any number of machines
search. Each process therefore keeps its own replica and, before every search, catches up
with the embeddings table, which doubles as the change log: every insert, re-embedding or
deactivation bumps `changed_at`. A catch-up re-reads a safety margin before the previous one,
so a transaction that committed after that catch-up began is still picked up (the margin
must exceed the longest write transaction plus the clock skew between machines).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from api.models import Embedding
from api.models.base import utcnow
from embeddings.index import VectorIndex

log = logging.getLogger(__name__)

FULL_LOAD_CHUNK = 2000


def vector_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


class IndexReplica:
    def __init__(self, *, model: str, dim: int, margin_seconds: float) -> None:
        self.model = model
        self.dim = dim
        self.margin = timedelta(seconds=margin_seconds)
        self.indexes = {"need": VectorIndex(dim), "offer": VectorIndex(dim)}
        self._synced_from: datetime | None = None
        self._sync_lock = threading.Lock()

    def sync(self, session: Session, *, progress: bool = False) -> int:
        """Apply the changes since the last catch-up; returns how many rows were read."""
        with self._sync_lock:
            started = utcnow()
            query = select(Embedding.posting_id, Embedding.kind, Embedding.active, Embedding.vector).where(
                Embedding.model == self.model
            )
            total = None
            if self._synced_from is not None:
                query = query.where(Embedding.changed_at >= self._synced_from - self.margin)
            elif progress:
                total = session.scalar(
                    select(func.count()).select_from(Embedding).where(Embedding.model == self.model)
                )
            rows = session.execute(query.execution_options(yield_per=FULL_LOAD_CHUNK))
            count = 0
            with tqdm(total=total, desc="indexing", unit="vec", disable=not progress) as bar:
                for chunk in rows.partitions(FULL_LOAD_CHUNK):
                    self._apply(chunk)
                    count += len(chunk)
                    bar.update(len(chunk))
            self._synced_from = started
            return count

    def _apply(self, rows: list) -> None:  # type: ignore[type-arg]
        for kind, index in self.indexes.items():
            active = [r for r in rows if r.kind == kind and r.active]
            inactive = [r.posting_id for r in rows if r.kind == kind and not r.active]
            if active:
                vectors = np.stack([vector_from_bytes(r.vector) for r in active])
                index.upsert([r.posting_id for r in active], vectors)
            if inactive:
                index.remove(inactive)

    def search(self, kind: str, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = self.indexes[kind].search(vector.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def reset(self) -> None:
        with self._sync_lock:
            self.indexes = {kind: VectorIndex(self.dim) for kind in self.indexes}
            self._synced_from = None
