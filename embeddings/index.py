"""A FAISS vector index keyed by database ids (exact inner-product search).

Flat search is exact and, at the sizes of a regional platform (up to ~100k postings),
a few milliseconds per query; it needs no training, so adding a vector is instant.
FAISS allows concurrent searches but not writes during a search: one lock guards both.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._ids

    def upsert(self, ids: list[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors, replacing any already stored under the same ids."""
        ids_array = np.asarray(ids, dtype=np.int64)
        if len(ids_array) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids_array), self.dim)
        with self._lock:
            present = [i for i in ids_array.tolist() if i in self._ids]
            if present:
                self._index.remove_ids(np.asarray(present, dtype=np.int64))
            self._index.add_with_ids(vectors, ids_array)
            self._ids.update(ids_array.tolist())

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            present = [i for i in ids if i in self._ids]
            if present:
                self._index.remove_ids(np.asarray(present, dtype=np.int64))
                self._ids.difference_update(present)

    def vectors(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, one row each (KeyError for an id not stored)."""
        with self._lock:
            missing = [i for i in ids if i not in self._ids]
            if missing:
                raise KeyError(f"ids not in the index: {missing[:5]}")
            rows = [self._index.reconstruct(int(i)) for i in ids]
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            if not self._ids:
                shape = (len(queries), 0)
                return np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.int64)
            return self._index.search(queries, min(k, len(self._ids)))

    def save(self, path: Path) -> None:
        """Write a snapshot atomically: a temporary file renamed over the old one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            faiss.write_index(self._index, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        raw = faiss.read_index(str(path))
        index = cls(raw.d)
        index._index = raw
        index._ids = set(faiss.vector_to_array(raw.id_map).tolist())
        return index
