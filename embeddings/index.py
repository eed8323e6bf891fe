"""A FAISS vector index keyed by database ids that grows with the data: exact while small, approximate once large.

- **Exact** (up to `IndexConfig.exact_max` vectors): float32 rows in one numpy matrix searched by FAISS's
  exhaustive inner product. An upsert of a stored id overwrites its row; a removal moves the last row
  into the hole: both O(dim), never O(N) (FAISS's flat `remove_ids` shifts the whole index).
- **Approximate** (beyond it): the index `IndexConfig.factory` makes (default IVF + 8-bit scalar
  quantisation, about 400 bytes per 384-d vector), trained on the data. Rows are append-only FAISS
  positions ("slots"); a removal or a re-embedding clears the old slot's bit in a bitmap that every
  search passes to FAISS as an `IDSelectorBitmap`, so a dead row is never returned and costs O(1) to
  drop. Stored vectors are read back from the quantised codes (cosines exact to ~1e-3).
- **Rebuilt aside**: crossing the threshold, growing 4x past the size the index was trained for, or
  a quarter of the slots dead starts a rebuild in a background thread from a snapshot of the rows;
  searches and writes go on against the current index meanwhile (writes are also journalled), and
  the new index replaces it atomically once the journal has been replayed on it.

FAISS allows concurrent searches but not writes during a search: one lock guards both. FAISS's
OpenMP threads are set on each call (the setting is per calling thread): a single query on an exact
index is slower on two threads than on one.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

# Rebuild an approximate index once it holds this many times the vectors it was trained for.
REGROW_FACTOR = 4
# Rebuild (compact) an approximate index once this share of its slots is dead.
COMPACT_DEAD_FRACTION = 0.25
# Go back to exact search below this share of the threshold (hysteresis: no flapping at the edge).
SHRINK_FRACTION = 0.5
# Training sample per IVF list: k-means on 20 points a list is within 1% of FAISS's 39 in recall
# here, at half the training time (a 1M build on two cores is dominated by training and assignment).
TRAIN_PER_LIST = 20
# Adds of at least this many rows (builds) run on every core.
BULK_ADD = 10_000
# Seed of the training sample and k-means: the same rows give the same index.
SEED = 1234


@dataclass(frozen=True)
class IndexConfig:
    """How an index grows: exact up to `exact_max` vectors, then `factory` (a FAISS index factory string;
    `{nlist}` is replaced by ~2 sqrt(N) lists, a power of two), searched with `nprobe` lists (IVF) or
    `ef_search` (HNSW), on `threads` OpenMP threads per search and `build_threads` per build."""

    exact_max: int = 100_000
    factory: str = "IVF{nlist},SQ8"
    nprobe: int = 32
    ef_search: int = 64
    threads: int = 1
    build_threads: int = 0  # 0: every core

    def nlist_for(self, n: int) -> int:
        return max(16, 2 ** round(math.log2(max(2 * math.sqrt(max(n, 1)), 1))))


EXACT = IndexConfig(exact_max=2**62)  # never approximate (e.g. what nobody searches at scale)


# Ids below this are mapped through a numpy array indexed by id (4 bytes an id up to the largest,
# where a dict entry costs ~100): database ids are dense. Larger ids go to a dict.
DENSE_IDS = 1 << 26


class _IdMap:
    """id -> row (or slot), for the int ids of a database table."""

    __slots__ = ("dense", "extra")

    def __init__(self) -> None:
        self.dense = np.full(1024, -1, dtype=np.int32)
        self.extra: dict[int, int] = {}

    def get(self, i: int) -> int | None:
        if 0 <= i < len(self.dense):
            v = int(self.dense[i])
            return v if v >= 0 else None
        return self.extra.get(i)

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int) and self.get(i) is not None

    def set_many(self, ids: np.ndarray, rows: np.ndarray) -> None:
        small = (ids >= 0) & (ids < DENSE_IDS)
        if small.any():
            top = int(ids[small].max())
            if top >= len(self.dense):
                grown = np.full(max(top + 1, 2 * len(self.dense)), -1, dtype=np.int32)
                grown[: len(self.dense)] = self.dense
                self.dense = grown
            self.dense[ids[small]] = rows[small]
        for i, r in zip(ids[~small].tolist(), rows[~small].tolist(), strict=True):
            self.extra[i] = r

    def pop(self, i: int, default: None = None) -> int | None:
        v = self.get(i)
        if v is not None:
            if 0 <= i < len(self.dense):
                self.dense[i] = -1
            else:
                del self.extra[i]
        return v

    def lookup(self, ids: list[int]) -> np.ndarray:
        """The rows of these ids (KeyError if one is absent)."""
        arr = np.asarray(ids, dtype=np.int64)
        if not self.extra and (arr.size == 0 or (arr.min() >= 0 and arr.max() < len(self.dense))):
            rows = self.dense[arr].astype(np.int64)
            if (rows < 0).any():
                raise KeyError(int(arr[np.flatnonzero(rows < 0)[0]]))
            return rows
        out = np.empty(len(ids), dtype=np.int64)
        for n, i in enumerate(ids):
            v = self.get(i)
            if v is None:
                raise KeyError(i)
            out[n] = v
        return out

    def nbytes(self) -> int:
        return self.dense.nbytes + 100 * len(self.extra)


def _threads(n: int) -> None:
    faiss.omp_set_num_threads(n if n > 0 else (os.cpu_count() or 1))


class _Exact:
    """Float32 rows in a growable matrix; row r holds id `ids[r]`."""

    kind = "exact"

    def __init__(self, dim: int, capacity: int = 256) -> None:
        self.dim = dim
        self.x = np.empty((capacity, dim), dtype=np.float32)
        self.ids = np.empty(capacity, dtype=np.int64)
        self.n = 0
        self.row_of = _IdMap()

    def __len__(self) -> int:
        return self.n

    def _reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.x):
            return
        size = max(need, 2 * len(self.x))
        x = np.empty((size, self.dim), dtype=np.float32)
        x[: self.n] = self.x[: self.n]
        ids = np.empty(size, dtype=np.int64)
        ids[: self.n] = self.ids[: self.n]
        self.x, self.ids = x, ids

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        fresh = []
        for j, i in enumerate(ids.tolist()):
            row = self.row_of.get(i)
            if row is None:
                fresh.append(j)
            else:
                self.x[row] = vectors[j]
        if fresh:
            # A batch may repeat an id: the last row wins, as with successive upserts.
            last = {int(ids[j]): j for j in fresh}
            take = np.fromiter(last.values(), dtype=np.int64, count=len(last))
            self._reserve(len(take))
            start = self.n
            self.x[start : start + len(take)] = vectors[take]
            self.ids[start : start + len(take)] = ids[take]
            self.row_of.set_many(ids[take], np.arange(start, start + len(take)))
            self.n += len(take)

    def remove(self, ids: list[int]) -> int:
        removed = 0
        for i in ids:
            row = self.row_of.pop(i, None)
            if row is None:
                continue
            last = self.n - 1
            if row != last:
                self.x[row] = self.x[last]
                moved = int(self.ids[last])
                self.ids[row] = moved
                self.row_of.set_many(np.array([moved]), np.array([row]))
            self.n = last
            removed += 1
        return removed

    def vectors(self, ids: list[int]) -> np.ndarray:
        return self.x[self.row_of.lookup(ids)]

    def search(self, queries: np.ndarray, k: int, config: IndexConfig) -> tuple[np.ndarray, np.ndarray]:
        _threads(config.threads)
        if len(queries) == 1:
            scores, rows = faiss.knn(queries, self.x[: self.n], k, metric=faiss.METRIC_INNER_PRODUCT)
            return scores, np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1)
        # Several queries: one matrix product (BLAS), far faster here than FAISS's per-query scan.
        sims = queries @ self.x[: self.n].T
        top = (
            np.argpartition(-sims, k - 1, axis=1)[:, :k]
            if k < self.n
            else np.tile(np.arange(self.n), (len(queries), 1))
        )
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        rows = np.take_along_axis(top, order, axis=1)
        return np.take_along_axis(top_sims, order, axis=1), self.ids[rows]

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        return self.ids[: self.n].copy(), self.x[: self.n].copy()

    def dead_fraction(self) -> float:
        return 0.0

    def memory_bytes(self) -> int:
        # Rows in use, ids, and the id -> row map.
        return self.n * (self.dim * 4 + 8) + self.row_of.nbytes()


class _Approximate:
    """An append-only FAISS index whose positions are slots; dead slots are masked at search time."""

    kind = "approximate"

    def __init__(self, dim: int, index: faiss.Index, trained_for: int) -> None:
        self.dim = dim
        self.index = index
        self.trained_for = trained_for
        self.ivf = faiss.try_extract_index_ivf(index)
        if self.ivf is not None:
            self.ivf.make_direct_map(True)  # reconstruct(slot) for stored vectors
        self.slot_ids = np.empty(0, dtype=np.int64)  # slot -> id (-1: dead)
        self.bitmap = np.zeros(0, dtype=np.uint8)  # bit per slot: alive
        self.slots = 0
        self.dead = 0
        self.slot_of = _IdMap()

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray, config: IndexConfig) -> _Approximate:
        n = len(ids)
        factory = config.factory.format(nlist=config.nlist_for(n))
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        _threads(config.build_threads)
        if not index.is_trained:
            ivf = faiss.try_extract_index_ivf(index)
            sample_size = min(n, TRAIN_PER_LIST * ivf.nlist if ivf is not None else 100_000)
            rng = np.random.default_rng(SEED)
            sample = (
                vectors[np.sort(rng.choice(n, size=sample_size, replace=False))]
                if sample_size < n
                else vectors
            )
            if ivf is not None:
                ivf.cp.seed = SEED
                ivf.cp.niter = 10
                ivf.cp.min_points_per_centroid = 1  # the sample size above is on purpose
            index.train(np.ascontiguousarray(sample))
        built = cls(dim, index, trained_for=n)
        built.upsert(ids, vectors)
        return built

    def __len__(self) -> int:
        return self.slots - self.dead

    def _kill(self, slot: int) -> None:
        self.slot_ids[slot] = -1
        self.bitmap[slot >> 3] &= np.uint8(~(1 << (slot & 7)) & 0xFF)
        self.dead += 1

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        last = {int(i): j for j, i in enumerate(ids.tolist())}
        for i in last:
            slot = self.slot_of.get(i)
            if slot is not None:
                self._kill(slot)
        take = np.fromiter(last.values(), dtype=np.int64, count=len(last))
        start, end = self.slots, self.slots + len(take)
        if end > len(self.slot_ids):
            size = max(end, 2 * len(self.slot_ids), 1024)
            self.slot_ids = np.concatenate([self.slot_ids, np.full(size - len(self.slot_ids), -1, np.int64)])
            self.bitmap = np.concatenate(
                [self.bitmap, np.zeros((size + 7) // 8 - len(self.bitmap), np.uint8)]
            )
        # Every core for a bulk add (a build); a catch-up's few rows on the search threads, as an
        # OpenMP region on a busy machine waits for each of its threads to be scheduled.
        _threads(0 if len(take) >= BULK_ADD else 1)
        self.index.add(np.ascontiguousarray(vectors[take]))
        self.slot_ids[start:end] = ids[take]
        slots = np.arange(start, end)
        np.bitwise_or.at(self.bitmap, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))
        self.slot_of.set_many(ids[take], np.arange(start, end))
        self.slots = end

    def remove(self, ids: list[int]) -> int:
        removed = 0
        for i in ids:
            slot = self.slot_of.pop(i, None)
            if slot is not None:
                self._kill(slot)
                removed += 1
        return removed

    def vectors(self, ids: list[int]) -> np.ndarray:
        return self.index.reconstruct_batch(self.slot_of.lookup(ids))

    def search(self, queries: np.ndarray, k: int, config: IndexConfig) -> tuple[np.ndarray, np.ndarray]:
        _threads(config.threads)
        selector = faiss.IDSelectorBitmap(self.slots, faiss.swig_ptr(self.bitmap)) if self.dead else None
        if self.ivf is not None:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=config.nprobe)
        elif "HNSW" in type(self.index).__name__:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(config.ef_search, k))
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, slots = self.index.search(queries, k, params=params)
        ids = np.where(slots >= 0, self.slot_ids[np.maximum(slots, 0)], -1)
        return scores, ids

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        alive = np.flatnonzero(self.slot_ids[: self.slots] >= 0)
        return self.slot_ids[alive].copy(), self.index.reconstruct_batch(alive)

    def dead_fraction(self) -> float:
        return self.dead / self.slots if self.slots else 0.0

    def memory_bytes(self) -> int:
        storage = getattr(self.index, "storage", None)  # HNSW: the codes live in its storage index
        codec = faiss.downcast_index(storage) if storage is not None else self.index
        per_vector = codec.sa_code_size() + 8  # codes + slot id
        if self.ivf is not None:
            per_vector += 16  # the inverted list's id + the direct map's entry
            fixed = self.ivf.nlist * self.dim * 4  # centroids
        else:
            hnsw = getattr(self.index, "hnsw", None)
            per_vector += 4 * 2 * hnsw.nb_neighbors(1) + 8 if hnsw is not None else 0
            fixed = 0
        return self.slots * per_vector + fixed + self.slot_of.nbytes()


def _build(dim: int, ids: np.ndarray, vectors: np.ndarray, config: IndexConfig) -> _Exact | _Approximate:
    if len(ids) > config.exact_max:
        return _Approximate.build(dim, ids, vectors, config)
    exact = _Exact(dim, capacity=max(256, len(ids)))
    exact.upsert(ids, vectors)
    return exact


class VectorIndex:
    def __init__(self, dim: int, config: IndexConfig | None = None) -> None:
        self.dim = dim
        self.config = config or IndexConfig()
        self._impl: _Exact | _Approximate = _Exact(dim)
        self._lock = threading.Lock()
        self._journal: list[tuple[str, object, object]] | None = None  # writes during a rebuild
        self._builder: threading.Thread | None = None
        self.rebuilds = 0

    @classmethod
    def from_arrays(
        cls, dim: int, ids: np.ndarray, vectors: np.ndarray, config: IndexConfig | None = None
    ) -> VectorIndex:
        """An index holding these rows, built at once in the configuration their number calls for."""
        index = cls(dim, config)
        ids = np.asarray(ids, dtype=np.int64)
        index._impl = _build(
            dim, ids, np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim), index.config
        )
        return index

    def __len__(self) -> int:
        return len(self._impl)

    def __contains__(self, item_id: int) -> bool:
        impl = self._impl
        return int(item_id) in (impl.row_of if isinstance(impl, _Exact) else impl.slot_of)

    @property
    def mode(self) -> str:
        """ "exact" or "approximate"."""
        return self._impl.kind

    def upsert(self, ids: list[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors, replacing any already stored under the same ids."""
        ids_array = np.asarray(ids, dtype=np.int64)
        if len(ids_array) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids_array), self.dim)
        with self._lock:
            self._impl.upsert(ids_array, vectors)
            if self._journal is not None:
                self._journal.append(("upsert", ids_array, vectors))
        self._maybe_rebuild()

    def remove(self, ids: list[int] | np.ndarray) -> None:
        ids = [int(i) for i in ids]
        if not ids:
            return
        with self._lock:
            self._impl.remove(ids)
            if self._journal is not None:
                self._journal.append(("remove", ids, None))
        self._maybe_rebuild()

    def vectors(self, ids: list[int] | np.ndarray) -> np.ndarray:
        """The stored vectors of these ids, one row each (KeyError for an id not stored)."""
        ids = [int(i) for i in ids]
        with self._lock:
            try:
                rows = self._impl.vectors(ids) if ids else np.zeros((0, self.dim), dtype=np.float32)
            except KeyError:
                missing = [i for i in ids if i not in self]
                raise KeyError(f"ids not in the index: {missing[:5]}") from None
        return rows

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing slots have id -1. One FAISS call for all rows."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            n = len(self._impl)
            if not n or k <= 0:
                shape = (len(queries), 0)
                return np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.int64)
            return self._impl.search(queries, min(k, n), self.config)

    def memory_bytes(self) -> int:
        """Estimated bytes held (vectors or codes, ids, maps)."""
        return self._impl.memory_bytes()

    # -- growth -----------------------------------------------------------------------------------------

    def _wanted(self) -> bool:
        impl, limit = self._impl, self.config.exact_max
        if isinstance(impl, _Exact):
            return len(impl) > limit
        return (
            len(impl) < SHRINK_FRACTION * limit
            or len(impl) > REGROW_FACTOR * impl.trained_for
            or impl.dead_fraction() > COMPACT_DEAD_FRACTION
        )

    def _maybe_rebuild(self) -> None:
        if self._builder is None and self._wanted():
            self.rebuild(wait=False)

    def rebuild(self, *, wait: bool = True) -> None:
        """Rebuild the index aside from a snapshot of its rows, then swap it in (searches go on meanwhile)."""
        with self._lock:
            if self._builder is not None:
                builder = self._builder
            else:
                ids, vectors = self._impl.items()
                self._journal = []
                builder = self._builder = threading.Thread(
                    target=self._build_aside, args=(ids, vectors), name="faiss-rebuild", daemon=True
                )
                builder.start()
        if wait:
            builder.join()

    def _build_aside(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        try:
            fresh = _build(self.dim, ids, vectors, self.config)
            with self._lock:
                for op, op_ids, op_vectors in self._journal or []:
                    if op == "upsert":
                        fresh.upsert(op_ids, op_vectors)  # type: ignore[arg-type]
                    else:
                        fresh.remove(op_ids)  # type: ignore[arg-type]
                self._impl = fresh
                self.rebuilds += 1
            log.info("vector index rebuilt: %d vectors, %s", len(fresh), fresh.kind)
        except Exception:
            log.exception("vector index rebuild failed; the current index stays")
        finally:
            with self._lock:
                self._journal = None
                self._builder = None

    def wait_for_rebuild(self) -> None:
        builder = self._builder
        if builder is not None:
            builder.join()

    # -- snapshots --------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write a snapshot atomically: a temporary file renamed over the old one (ids in the FAISS map)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            ids, vectors = self._impl.items()
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        if len(ids):
            flat.add_with_ids(vectors, ids)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        faiss.write_index(flat, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, config: IndexConfig | None = None) -> VectorIndex:
        raw = faiss.read_index(str(path))
        ids = faiss.vector_to_array(raw.id_map).astype(np.int64)
        inner = faiss.downcast_index(raw.index)
        vectors = inner.reconstruct_n(0, raw.ntotal) if raw.ntotal else np.zeros((0, raw.d), np.float32)
        return cls.from_arrays(raw.d, ids, vectors, config)
