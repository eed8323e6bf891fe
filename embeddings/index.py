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
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from embeddings.idmap import IdMap

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
# IVF lists per sqrt(N) (4096 at 1M). Finer lists than 2 sqrt(N) hold smaller residuals, so the same
# 8-bit codes rank more exactly (bench/index_1m.py at 1M: recall@10 0.968 instead of 0.956), and a
# query scans fewer codes for it (nprobe 16 of 4096: p50 0.31 ms, where 32 of 2048 took 0.51 in the
# same conditions). The price is the build: k-means costs ~nlist^2 (52 s instead of 20 at 1M).
NLIST_PER_SQRT_N = 4
# Adds of at least this many rows (builds) run on every core.
BULK_ADD = 10_000
# Searches of at least this many queries at once run on every core.
PARALLEL_QUERIES = 8
# Rows per FAISS call of a bulk add: one add of 300k rows grew the process by 518 MB for 112 MB of
# lists (and kept 395 MB after the index was freed); chunks of this size take the same time.
ADD_CHUNK = 65_536
# Seed of the training sample and k-means: the same rows give the same index.
SEED = 1234


@dataclass(frozen=True)
class IndexConfig:
    """How an index grows: exact up to `exact_max` vectors, then `factory` (a FAISS index factory string;
    `{nlist}` is replaced by ~4 sqrt(N) lists, a power of two), searched with `nprobe` lists (IVF) or
    `ef_search` (HNSW), on `threads` OpenMP threads per search and `build_threads` per build."""

    exact_max: int = 100_000
    factory: str = "IVF{nlist},SQ8"
    nprobe: int = 16
    ef_search: int = 64
    threads: int = 1
    build_threads: int = 0  # 0: every core

    def coarse(self) -> IndexConfig:
        """A cheaper search of the same index (an eighth of the IVF lists, a quarter of HNSW's
        candidates): for callers that need some near neighbours, not the exact nearest."""
        return replace(self, nprobe=max(1, self.nprobe // 8), ef_search=max(16, self.ef_search // 4))

    def nlist_for(self, n: int) -> int:
        return max(16, 2 ** round(math.log2(max(NLIST_PER_SQRT_N * math.sqrt(max(n, 1)), 1))))


EXACT = IndexConfig(exact_max=2**62)  # never approximate (e.g. what nobody searches at scale)


def _threads(n: int) -> None:
    faiss.omp_set_num_threads(n if n > 0 else (os.cpu_count() or 1))


def _search_threads(queries: np.ndarray, config: IndexConfig) -> None:
    # One query runs faster on one thread; a batch (the delivery rule's reverse checks) splits
    # its queries across every core.
    _threads(config.threads if len(queries) < PARALLEL_QUERIES else 0)


class _Exact:
    """Float32 rows in a growable matrix; row r holds id `ids[r]`."""

    kind = "exact"

    def __init__(self, dim: int, capacity: int = 256) -> None:
        self.dim = dim
        self.x = np.empty((capacity, dim), dtype=np.float32)
        self.ids = np.empty(capacity, dtype=np.int64)
        self.n = 0
        self.row_of = IdMap()

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
        _search_threads(queries, config)
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
        # slot -> id (-1: dead or unused); always longer than `slots`, so its last entry (-1) is what
        # FAISS's "no result" slot -1 reads.
        self.slot_ids = np.full(1024, -1, dtype=np.int64)
        self.bitmap = np.zeros(len(self.slot_ids) // 8, dtype=np.uint8)  # bit per slot: alive
        self.slots = 0
        self.dead = 0
        self.slot_of = IdMap()
        # Search parameters built once per (config, bitmap state): creating them costs ~10 us a query.
        self._params_key: tuple[object, ...] | None = None
        self._params: tuple[faiss.SearchParameters, object] | None = None
        self._layout = 0  # bumped whenever `slots` or the bitmap's buffer changes

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
                # Plain k-means, not FAISS's spherical default for inner product: the 8-bit codes of
                # the residuals rank better (recall@10 0.968 vs 0.962 at 1M, same lists and nprobe).
                ivf.cp.spherical = False
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
        if end >= len(self.slot_ids):
            size = max(end + 1, 2 * len(self.slot_ids))
            self.slot_ids = np.concatenate([self.slot_ids, np.full(size - len(self.slot_ids), -1, np.int64)])
            self.bitmap = np.concatenate(
                [self.bitmap, np.zeros((size + 7) // 8 - len(self.bitmap), np.uint8)]
            )
        # Every core for a bulk add (a build); a catch-up's few rows on the search threads, as an
        # OpenMP region on a busy machine waits for each of its threads to be scheduled.
        _threads(0 if len(take) >= BULK_ADD else 1)
        if len(take) >= BULK_ADD and self._lists_by_hand():
            self._add_list_by_list(vectors, take, start)
        else:
            for chunk in range(0, len(take), ADD_CHUNK):
                self.index.add(np.ascontiguousarray(vectors[take[chunk : chunk + ADD_CHUNK]]))
        self._layout += 1
        self.slot_ids[start:end] = ids[take]
        slots = np.arange(start, end)
        np.bitwise_or.at(self.bitmap, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))
        self.slot_of.set_many(ids[take], np.arange(start, end))
        self.slots = end

    def _lists_by_hand(self) -> bool:
        # A bare IVF index (no transform in front) on FAISS's in-memory lists.
        return (
            self.ivf is not None
            and self.index.this == self.ivf.this
            and isinstance(faiss.downcast_InvertedLists(self.ivf.invlists), faiss.ArrayInvertedLists)
        )

    def _add_list_by_list(self, vectors: np.ndarray, take: np.ndarray, start: int) -> None:
        """A bulk add that appends to each inverted list once. FAISS's own add appends row by row, so
        a list's buffer grows by doubling and a fresh 1M index holds ~30% more than its codes."""
        ivf = self.ivf
        lists = np.empty(len(take), dtype=np.int64)
        for chunk in range(0, len(take), ADD_CHUNK):
            part = np.ascontiguousarray(vectors[take[chunk : chunk + ADD_CHUNK]])
            lists[chunk : chunk + len(part)] = ivf.quantizer.assign(part, 1).ravel()
        order = np.argsort(lists, kind="stable")
        bounds = np.searchsorted(lists[order], np.arange(ivf.nlist + 1))
        for list_no in np.flatnonzero(np.diff(bounds)).tolist():
            rows = order[bounds[list_no] : bounds[list_no + 1]]
            x = np.ascontiguousarray(vectors[take[rows]])
            codes = np.empty((len(rows), ivf.code_size), dtype=np.uint8)
            list_nos = np.full(len(rows), list_no, dtype=np.int64)
            ivf.encode_vectors(len(rows), faiss.swig_ptr(x), faiss.swig_ptr(list_nos), faiss.swig_ptr(codes))
            slots = np.ascontiguousarray(rows + start, dtype=np.int64)
            ivf.invlists.add_entries(list_no, len(rows), faiss.swig_ptr(slots), faiss.swig_ptr(codes))
        ivf.ntotal += len(take)
        # The direct map (slot -> list entry) was not told: rebuild it from the lists.
        ivf.make_direct_map(False)
        ivf.make_direct_map(True)

    def remove(self, ids: list[int]) -> int:
        removed = 0
        for i in ids:
            slot = self.slot_of.pop(i, None)
            if slot is not None:
                self._kill(slot)
                removed += 1
        return removed

    def vectors(self, ids: list[int]) -> np.ndarray:
        # One thread: FAISS decodes a batch of over 1000 codes on every core, and on a busy machine
        # that region waits for its threads (16 ms for 1,500 codes, where one thread takes 2).
        _threads(1)
        return self.index.reconstruct_batch(self.slot_of.lookup(ids))

    def _search_params(self, k: int, config: IndexConfig) -> faiss.SearchParameters:
        # Called under the index's lock, as every write is: the cached selector's bitmap is current.
        key = (self._layout, self.dead > 0, config.nprobe, config.ef_search, k)
        if self._params is None or self._params_key != key:
            selector = faiss.IDSelectorBitmap(self.slots, faiss.swig_ptr(self.bitmap)) if self.dead else None
            if self.ivf is not None:
                params = faiss.SearchParametersIVF(nprobe=config.nprobe)
            elif "HNSW" in type(self.index).__name__:
                params = faiss.SearchParametersHNSW(efSearch=max(config.ef_search, k))
            else:
                params = faiss.SearchParameters()
            if selector is not None:
                params.sel = selector
            self._params, self._params_key = (params, selector), key  # the selector outlives its use
        return self._params[0]

    def search(self, queries: np.ndarray, k: int, config: IndexConfig) -> tuple[np.ndarray, np.ndarray]:
        _search_threads(queries, config)
        scores, slots = self.index.search(queries, k, params=self._search_params(k, config))
        return scores, self.slot_ids[slots]  # slot -1 (no result) reads the trailing -1

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

    def search(
        self, queries: np.ndarray, k: int, *, config: IndexConfig | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing slots have id -1. One FAISS call for all rows.
        `config` overrides how an approximate index is searched (e.g. `self.config.coarse()`)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            n = len(self._impl)
            if not n or k <= 0:
                shape = (len(queries), 0)
                return np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.int64)
            return self._impl.search(queries, min(k, n), config or self.config)

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
