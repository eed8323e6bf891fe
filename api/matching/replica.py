"""A process-local replica of the database's match index: vectors, terms and facts per posting.

FAISS and the lexical index live in process memory, and any number of worker processes on any
number of machines search. Each process therefore keeps its own replica and, before every
search, catches up with the embeddings table, which doubles as the change log: every insert,
re-embedding or deactivation bumps `changed_at`. A catch-up re-reads a safety margin before
the previous one, so a transaction that committed after that catch-up began is still picked
up (the margin must exceed the longest write transaction plus the clock skew between machines).
An erased organisation's postings lose their embeddings rows; each leaves a tombstone instead
(`embedding_tombstones`), read with the same margin.

Each row is applied once: the replica remembers the (changed_at, active, revision) it applied for
the rows inside the margin window; a catch-up reads the window's versions first and the full rows
(vectors, terms) of only those it has not applied (a row that changed since has a new
`changed_at`); a tombstone is applied once the same way. The vector
indexes grow with the data (`embeddings.index`: exact while small, approximate once large, rebuilt
aside without blocking searches); `IndexReplica.from_arrays` builds a replica straight from arrays
(benchmarks at a million postings, where loading through a database would take most of the run).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from tqdm import tqdm

from api.core.settings import Settings
from api.models import Embedding, EmbeddingTombstone, Posting
from api.models.base import utcnow
from embeddings.index import IndexConfig, VectorIndex
from embeddings.lexical import LexicalIndex

log = logging.getLogger(__name__)

FULL_LOAD_CHUNK = 2000
# Tombstones are kept this long (`prune_tombstones`, run by the reconciler); a replica whose last
# catch-up is older than that, margin included, may have missed one and loads in full instead.
TOMBSTONES_KEPT = timedelta(days=7)
CATCH_UP_CHUNK = 500  # ids per IN (...) of a catch-up
KINDS = ("need", "offer")


def prune_tombstones(session: Session, *, now: datetime) -> int:
    """Delete the tombstones older than TOMBSTONES_KEPT; returns how many."""
    statement = delete(EmbeddingTombstone).where(EmbeddingTombstone.deleted_at < now - TOMBSTONES_KEPT)
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def vector_from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4")


def opposite(kind: str) -> str:
    return "offer" if kind == "need" else "need"


def index_config(settings: Settings) -> IndexConfig:
    """How the replica's vector indexes grow, from the settings."""
    return IndexConfig(
        exact_max=settings.index_exact_max_vectors,
        factory=settings.index_factory,
        nprobe=settings.index_nprobe,
        ef_search=settings.index_ef_search,
        threads=settings.index_search_threads,
    )


# Head vectors are only read back for scoring, never searched: once large they are kept as 8-bit
# codes (a quarter of float32) without any search structure.
HEAD_FACTORY = "SQ8"


@dataclass(frozen=True, slots=True)
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
        self,
        *,
        model: str,
        dim: int,
        margin_seconds: float,
        multi_model: str = "",
        multi_dim: int = 0,
        index: IndexConfig | None = None,
    ) -> None:
        self.model = model
        self.index_config = index or IndexConfig()
        self.dim = dim
        # The second encoder's stored id ("" none): only vectors it made enter its index.
        self.multi_model = multi_model
        self.multi_dim = multi_dim if multi_model else 0
        self.margin = timedelta(seconds=margin_seconds)
        self._sync_lock = threading.Lock()
        self._clear()

    def empty_copy(self) -> IndexReplica:
        """A new, empty replica of the same model, encoders and index configuration."""
        return IndexReplica(
            model=self.model,
            dim=self.dim,
            margin_seconds=self.margin.total_seconds(),
            multi_model=self.multi_model,
            multi_dim=self.multi_dim,
            index=self.index_config,
        )

    def _clear(self) -> None:
        config, heads = self.index_config, replace(self.index_config, factory=HEAD_FACTORY)
        self.indexes = {kind: VectorIndex(self.dim, config) for kind in KINDS}  # whole-text vectors
        self.heads = {kind: VectorIndex(self.dim, heads) for kind in KINDS}  # title + keywords vectors
        # Raw-text vectors of the second encoder; a posting it has not embedded (yet) holds zeros,
        # so its cosine reads 0 until `reindex` catches up.
        self.multi = {kind: VectorIndex(self.multi_dim, config) for kind in KINDS} if self.multi_dim else None
        self.lexical = LexicalIndex()
        self.facts: dict[int, PostingFacts] = {}
        self._synced_from: datetime | None = None
        # What was applied inside the margin window: posting id -> (changed_at, active, revision),
        # and the tombstones applied, (posting id, deleted_at).
        self._applied: dict[int, _Version] = {}
        self._erased: set[tuple[int, object]] = set()
        self.rows_applied = 0  # rows that reached the indexes (not skipped as already applied)

    def memory_bytes(self) -> dict[str, int]:
        """Estimated bytes held per structure (vector indexes, lexical index)."""
        out = {
            "vectors": sum(ix.memory_bytes() for ix in self.indexes.values()),
            "heads": sum(ix.memory_bytes() for ix in self.heads.values()),
            "lexical": self.lexical.memory_bytes(),
        }
        if self.multi is not None:
            out["multi"] = sum(ix.memory_bytes() for ix in self.multi.values())
        return out

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
                    Embedding.changed_at,
                    Embedding.posting_revision,
                    Posting.organisation_id,
                    Posting.s3_area,
                    Posting.trl,
                    Posting.language,
                )
                .join(Posting, Posting.id == Embedding.posting_id)
                .where(Embedding.model == self.model)
            )
            if self._synced_from is not None and started - self._synced_from + self.margin >= TOMBSTONES_KEPT:
                log.info(
                    "replica idle since %s, beyond the tombstones kept: loading in full", self._synced_from
                )
                self._clear()
            if self._synced_from is None:
                count = self._load_all(session, query, progress=progress)
            else:
                since = self._synced_from - self.margin
                # Erased postings leave no embeddings row to read: their tombstones say so.
                # Applied before the changes, so a later posting that reuses the id stays in.
                self._drop_erased(session, since)
                # The window's versions first (a few bytes a row), then the full rows of only
                # those not applied yet: a busy window is not read again vector by vector.
                window = session.execute(
                    select(
                        Embedding.posting_id,
                        Embedding.changed_at,
                        Embedding.active,
                        Embedding.posting_revision,
                    ).where(Embedding.model == self.model, Embedding.changed_at >= since)
                ).all()
                fresh = [r.posting_id for r in window if self._applied.get(r.posting_id) != _version(r)]
                for start in range(0, len(fresh), CATCH_UP_CHUNK):
                    chunk = fresh[start : start + CATCH_UP_CHUNK]
                    self._apply_new(session.execute(query.where(Embedding.posting_id.in_(chunk))).all())
                count = len(window)
            self._synced_from = started
            self._forget_before(started - self.margin)
            return count

    def _load_all(self, session: Session, query, *, progress: bool) -> int:  # type: ignore[no-untyped-def]
        total = None
        if progress:
            total = session.scalar(
                select(func.count()).select_from(Embedding).where(Embedding.model == self.model)
            )
        count = 0
        rows = session.execute(query.execution_options(yield_per=FULL_LOAD_CHUNK))
        with tqdm(total=total, desc="indexing", unit="posting", disable=not progress) as bar:
            for chunk in rows.partitions(FULL_LOAD_CHUNK):
                self._apply_new(chunk)
                count += len(chunk)
                bar.update(len(chunk))
        return count

    def _apply_new(self, rows) -> None:  # type: ignore[no-untyped-def]
        """Apply the rows whose version this replica has not applied yet, and remember them."""
        fresh = [r for r in rows if self._applied.get(r.posting_id) != _version(r)]
        self.apply(fresh)
        for r in fresh:
            self._applied[r.posting_id] = _version(r)

    def _forget_before(self, horizon: datetime) -> None:
        """Drop the memory of rows the next catch-up cannot read again (changed before its window)."""
        self._applied = {
            i: v
            for i, v in self._applied.items()
            if v.changed_at is None or _aware(v.changed_at) >= _aware(horizon)
        }
        self._erased = {e for e in self._erased if _aware(e[1]) >= _aware(horizon)}  # type: ignore[arg-type]

    def _drop_erased(self, session: Session, since: datetime) -> None:
        rows = session.execute(
            select(
                EmbeddingTombstone.posting_id, EmbeddingTombstone.kind, EmbeddingTombstone.deleted_at
            ).where(EmbeddingTombstone.deleted_at >= since)
        ).all()
        erased = [(i, kind, at) for i, kind, at in rows if (i, at) not in self._erased]
        for posting_id, _, at in erased:
            self._erased.add((posting_id, at))
            # A row of this id applied earlier is read again if still in the window (re-used id).
            self._applied.pop(posting_id, None)
        for kind in KINDS:
            ids = [posting_id for posting_id, erased_kind, _ in erased if erased_kind == kind]
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
        self.rows_applied += len(rows)
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
                    self.facts[r.posting_id] = _facts(kind, r.organisation_id, r.s3_area, r.trl, r.language)
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

    def holds(self, posting_id: int, revision: int) -> bool:
        """Whether a recent catch-up applied this posting revision's vectors (a step that only
        scores this posting needs no other catch-up; False just means "catch up first")."""
        version = self._applied.get(posting_id)
        return version is not None and bool(version.active) and version.revision == revision

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
        return _hits(scores[0].tolist(), ids[0].tolist())

    def search_multi(self, kind: str, vector: np.ndarray | None, k: int) -> list[tuple[int, float]]:
        """Nearest raw-text vectors of the second encoder (none without one)."""
        if self.multi is None or vector is None or not vector.any():
            return []
        scores, ids = self.multi[kind].search(vector.reshape(1, -1), k)
        return _hits(scores[0].tolist(), ids[0].tolist())

    def reset(self) -> None:
        with self._sync_lock:
            self._clear()

    def near(self, probe: Probe, k: int) -> list[tuple[int, float]]:
        """Some near neighbours of the opposite kind by the vector (a coarse search of an approximate
        index): for a lower bound on a posting's best score, which any of its candidates gives."""
        index = self.indexes[opposite(probe.facts.kind)]
        scores, ids = index.search(probe.vector.reshape(1, -1), k, config=index.config.coarse())
        return _hits(scores[0].tolist(), ids[0].tolist())

    def with_reverse_searches(self, ids: Sequence[int], k: int) -> IndexReplica:
        """This replica for one matching step, with `near(probe, k)` of these stored postings done up front.

        The delivery rule checks each candidate need of an offer in turn, starting from some of its
        near offers (`ranking.surely_ranked`): here those vectors are read in one batch and searched
        in one FAISS call for all of them. The few needs that then get a full ranking search as
        usual. The view shares every index with the replica; it is for reading only.
        """
        view = object.__new__(_PreparedReplica)
        view.__dict__.update(self.__dict__)
        view.nearby = {}
        view.probes = {}
        wanted = [int(i) for i in dict.fromkeys(ids) if i in self.facts]
        for kind in KINDS:
            group = [i for i in wanted if self.facts[i].kind == kind]
            if not group:
                continue
            target = self.indexes[opposite(kind)]
            vectors = self.indexes[kind].vectors(group)
            heads = self.heads[kind].vectors(group)
            multi = self.multi[kind].vectors(group) if self.multi is not None else None
            for n, posting_id in enumerate(group):
                view.probes[posting_id] = Probe(
                    posting_id,
                    self.facts[posting_id],
                    vectors[n],
                    heads[n],
                    self.lexical.terms_of(posting_id),
                    multi[n] if multi is not None else None,
                )
            scores, found = target.search(vectors, k, config=target.config.coarse())
            for n, (row_scores, row_ids) in enumerate(zip(scores.tolist(), found.tolist(), strict=True)):
                view.nearby[(group[n], k)] = _hits(row_scores, row_ids)
        return view

    @classmethod
    def from_arrays(
        cls,
        *,
        model: str,
        dim: int,
        margin_seconds: float,
        ids: np.ndarray,
        facts: Sequence[PostingFacts],
        vectors: np.ndarray,
        head_vectors: np.ndarray,
        terms: Sequence[Mapping[str, int]] | LexicalIndex,
        multi_model: str = "",
        multi_vectors: np.ndarray | None = None,
        index: IndexConfig | None = None,
    ) -> IndexReplica:
        """A replica holding these postings, its indexes built at once from arrays (row n = posting ids[n]).

        For benchmarks and tools that hold the rows already: a database load applies the same rows
        through `sync`. `terms` is each posting's bag of terms, or a lexical index already holding
        them (`LexicalIndex.upsert_many` loads a million in seconds). The replica catches up from a
        database like any other afterwards, starting with a full read (it has no catch-up time yet).
        """
        replica = cls(
            model=model,
            dim=dim,
            margin_seconds=margin_seconds,
            multi_model=multi_model,
            multi_dim=multi_vectors.shape[1] if multi_vectors is not None else 0,
            index=index,
        )
        ids = np.asarray(ids, dtype=np.int64)
        kinds = np.array([f.kind for f in facts])
        for kind in KINDS:
            rows = np.flatnonzero(kinds == kind)
            config = replica.index_config
            replica.indexes[kind] = VectorIndex.from_arrays(dim, ids[rows], vectors[rows], config)
            replica.heads[kind] = VectorIndex.from_arrays(
                dim, ids[rows], head_vectors[rows], replace(config, factory=HEAD_FACTORY)
            )
            if replica.multi is not None and multi_vectors is not None:
                replica.multi[kind] = VectorIndex.from_arrays(
                    multi_vectors.shape[1], ids[rows], multi_vectors[rows], config
                )
        if isinstance(terms, LexicalIndex):
            replica.lexical = terms
        else:
            for posting_id, fact, bag in zip(ids.tolist(), facts, terms, strict=True):
                replica.lexical.upsert(posting_id, fact.kind, bag)
        for posting_id, fact in zip(ids.tolist(), facts, strict=True):
            replica.facts[posting_id] = _facts(
                fact.kind, fact.organisation_id, fact.s3_area, fact.trl, fact.language
            )
        return replica


class _PreparedReplica(IndexReplica):
    """A replica view whose `near` searches for a set of stored postings were done in one batch
    (`with_reverse_searches`)."""

    nearby: dict[tuple[int, int], list[tuple[int, float]]]
    probes: dict[int, Probe]

    def probe(self, posting_id: int) -> Probe:
        found = self.probes.get(posting_id)
        return found if found is not None else super().probe(posting_id)

    def near(self, probe: Probe, k: int) -> list[tuple[int, float]]:
        found = self.nearby.get((probe.posting_id, k))
        return found if found is not None else super().near(probe, k)


def _hits(scores: list[float], ids: list[int]) -> list[tuple[int, float]]:
    # Python lists (numpy's tolist()): a loop over numpy scalars took ~30 ms for the 90 x 50 hits
    # of a batch of reverse searches.
    return [(i, s) for i, s in zip(ids, scores, strict=True) if i >= 0]


class _Version(NamedTuple):
    """What identifies one state of an embeddings row (a change always moves `changed_at`)."""

    changed_at: datetime | None
    active: bool
    revision: int


def _version(row) -> _Version:  # type: ignore[no-untyped-def]
    return _Version(row.changed_at, row.active, row.posting_revision)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# Facts repeat a few strings a million times over: one shared copy each.
def _facts(kind: str, organisation_id: int, s3_area: str, trl: int | None, language: str) -> PostingFacts:
    return PostingFacts(sys.intern(kind), organisation_id, sys.intern(s3_area), trl, sys.intern(language))
