"""An in-memory TF-IDF (cosine) index over the analysed terms of needs and offers.

Weights: w(t, d) = (1 + ln count) * idf(t), idf(t) = ln((1 + N) / (1 + df(t))) + 1, with N and df
counted over every live document of both kinds, so a need and an offer live in one weight space;
the query is weighted the same way (a term no document holds has df = 0, so it still counts in the
query's norm). Score = cosine of the two weight vectors.

Layout, one shard per kind (a search only wants one kind, so it only touches that kind's postings):
- a merged CSC matrix (rows = slots, columns = vocabulary ids, values = 1 + ln count). Column-major
  because a query slices out just its own columns: a search costs the length of its terms' posting
  lists, not the size of the corpus as a row-major mat-vec would;
- the docs upserted since the last merge, in flat numpy buffers scored with `bincount`. A search folds
  them into the matrix when pending docs plus dead slots exceed `merge_threshold` (checked lazily, so a
  bulk load pays for few merges); an upsert only forces a merge when the buffer outgrows the matrix,
  which bounds memory for a kind nobody searches.
A removal clears the slot's alive flag (df drops at once); the next merge drops dead slots.

Doc norms depend on idf, which moves with every upsert. Writing idf(t) = A - B(t), A = ln(1 + N) + 1,
B(t) = ln(1 + df(t)), gives |d|^2 = A^2 S0 - 2 A S1 + S2 with S_k(d) = sum_t tf(t, d)^2 B(t)^k. A change
of N only moves the scalar A; a change of df(t) only moves S1, S2 of the docs holding t. So a search
re-syncs S1, S2 over just the columns whose df changed since the last sync, for the cost of a few
posting lists instead of a pass over the whole matrix; a very common term (a long posting list whose
B barely moves) waits until its B has moved by NORM_TOLERANCE. Search scores only pick candidates;
`similarity` scores a document exactly, from its own terms.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from embeddings.idmap import IdMap

KINDS = ("need", "offer")
# Stored tf weights (1 + ln count) are float32: half the memory of float64, and far more precise
# than the scores' 4 decimals. Norms and query weights are computed in float64.
WEIGHT = np.float32
# Counts are stored as uint16: a stem rarely occurs 65,535 times in one posting, and beyond that
# 1 + ln count barely moves.
MAX_COUNT = 2**16 - 1
# How far a term's B = ln(1 + df) may move before the norms of the documents holding it are
# brought up to date (`_Shard.sync`). A term of df d moves by ~1/d a new document, so a sync costs
# about min(d, 1 / NORM_TOLERANCE) per term of each upsert, amortised. As idf >= 1 (typically 3-10),
# a norm drifts by well under 1% meanwhile: enough to pick candidates, which are scored exactly.
NORM_TOLERANCE = 1e-2


class _Growable:
    """A 1-D numpy array with amortised O(1) appends (upserts arrive one at a time)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: type) -> None:
        self.data = np.empty(256, dtype=dtype)
        self.size = 0

    def extend(self, values: np.ndarray | Sequence) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end

    def view(self) -> np.ndarray:
        return self.data[: self.size]


class _DocStore:
    """Every live document's terms (vocabulary ids and counts), in flat arrays: 6 bytes a term and
    ~30 a document, where two small numpy arrays and a dict entry each took ~400 bytes a document.

    A document is a slot (its kind, and where its terms start and how many); a removal or a
    replacement leaves its old terms behind as garbage, compacted away once it outweighs the rest.
    """

    def __init__(self) -> None:
        self.slot_of = IdMap()
        self.doc = _Growable(np.int64)  # id of each slot
        self.kind = _Growable(np.int8)  # -1 once removed
        self.start = _Growable(np.int64)
        self.length = _Growable(np.int32)
        self.cols = _Growable(np.int32)
        self.counts = _Growable(np.uint16)
        self.live = 0
        self.garbage = 0  # terms of removed slots

    def add_many(
        self, doc_ids: np.ndarray, kind: int, lengths: np.ndarray, cols: np.ndarray, counts: np.ndarray
    ) -> None:
        """Documents not stored yet, their terms one after the other (counts above 65,535 are clipped)."""
        base = self.doc.size
        self.start.extend(self.cols.size + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
        self.length.extend(lengths)
        self.kind.extend(np.full(len(doc_ids), kind, dtype=np.int8))
        self.doc.extend(doc_ids)
        self.cols.extend(cols)
        self.counts.extend(np.minimum(counts, 2**16 - 1))
        self.slot_of.set_many(np.asarray(doc_ids, dtype=np.int64), np.arange(base, base + len(doc_ids)))
        self.live += len(doc_ids)

    def get(self, doc_id: int) -> tuple[int, np.ndarray, np.ndarray] | None:
        """(kind, vocabulary ids, counts) of a live document."""
        slot = self.slot_of.get(doc_id)
        if slot is None:
            return None
        a = int(self.start.data[slot])
        b = a + int(self.length.data[slot])
        return int(self.kind.data[slot]), self.cols.data[a:b], self.counts.data[a:b]

    def gather(self, doc_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(found: positions in doc_ids of the live ones with terms, their lengths, all their
        vocabulary ids and counts one document after the other)."""
        slots = self.slot_of.lookup(doc_ids, missing=-1)
        found = np.flatnonzero(slots >= 0)
        live = slots[found]
        lengths = self.length.data[live].astype(np.int64)
        found, live, lengths = found[lengths > 0], live[lengths > 0], lengths[lengths > 0]
        at = _ranges(self.start.data[live], lengths)
        return found, lengths, self.cols.data[at], self.counts.data[at]

    def pop(self, doc_id: int) -> tuple[int, np.ndarray] | None:
        """Remove a document; (kind, vocabulary ids) it had."""
        slot = self.slot_of.pop(doc_id)
        if slot is None:
            return None
        kind = int(self.kind.data[slot])
        a = int(self.start.data[slot])
        n = int(self.length.data[slot])
        cols = self.cols.data[a : a + n].copy()
        self.kind.data[slot] = -1
        self.live -= 1
        self.garbage += n
        if self.garbage > max(1 << 16, self.cols.size - self.garbage):
            self._compact()
        return kind, cols

    def nbytes(self) -> int:
        parts = (self.doc, self.kind, self.start, self.length, self.cols, self.counts)
        return self.slot_of.nbytes() + sum(g.size * g.data.itemsize for g in parts)

    def _compact(self) -> None:
        keep = np.flatnonzero(self.kind.view() >= 0)
        lengths = self.length.view()[keep]
        at = _ranges(self.start.view()[keep], lengths)
        doc, kind = self.doc.view()[keep], self.kind.view()[keep]
        cols, counts = self.cols.view()[at], self.counts.view()[at]
        self.__init__()  # type: ignore[misc]
        for k in np.unique(kind).tolist():
            mine = kind == k
            self.add_many(
                doc[mine], k, lengths[mine], cols[np.repeat(mine, lengths)], counts[np.repeat(mine, lengths)]
            )


class StoredTerms(Mapping[str, int]):
    """A stored document's terms as the index holds them (vocabulary ids and counts, in its order).

    Read as a mapping it is the document's {term: count}; as a query of this index it skips the
    word-by-word lookups (the delivery rule makes a hundred queries a step of stored postings)."""

    __slots__ = ("cols", "counts", "vocabulary", "_as_dict")

    def __init__(self, cols: np.ndarray, counts: np.ndarray, vocabulary: list[str]) -> None:
        self.cols, self.counts = cols.astype(np.int64), counts.astype(np.int64)
        self.vocabulary = vocabulary  # the index's own list, append-only: an id keeps its term
        self._as_dict: dict[str, int] | None = None

    def _terms(self) -> dict[str, int]:
        if self._as_dict is None:
            self._as_dict = {
                self.vocabulary[col]: count
                for col, count in zip(self.cols.tolist(), self.counts.tolist(), strict=True)
            }
        return self._as_dict

    def __getitem__(self, term: str) -> int:
        return self._terms()[term]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._terms())

    def __len__(self) -> int:
        return len(self.cols)


class _Query(NamedTuple):
    cols: np.ndarray  # vocabulary ids of the query terms the index knows
    weights: np.ndarray  # their query weights (1 + ln count) * idf
    norm: float  # over all query terms, unknown ones included
    a: float  # A = ln(1 + N) + 1
    b: np.ndarray  # B = ln(1 + df), per vocabulary id


class _Shard:
    """The documents of one kind: a merged matrix plus the pending upserts."""

    def __init__(self) -> None:
        self.mat = sp.csc_array((0, 0), dtype=WEIGHT)
        self.ids = np.empty(0, dtype=np.int64)
        self.alive = np.empty(0, dtype=bool)
        self.slot_of = IdMap()
        self.dead = 0
        self.s = np.empty((0, 3))  # S0, S1, S2 per slot
        self.b_ref = np.empty(0)  # the B that S1, S2 are in sync with, per matrix column
        self.reset_pending()

    def reset_pending(self) -> None:
        self.p_ids = _Growable(np.int64)
        self.p_alive = _Growable(np.bool_)
        self.p_rows = _Growable(np.int32)  # pending row of each posting
        self.p_cols = _Growable(np.int32)
        self.p_w = _Growable(WEIGHT)
        self.pend_of = IdMap()

    def add_pending(self, doc_id: int, cols: np.ndarray, weights: np.ndarray) -> None:
        row = self.p_ids.size
        self.pend_of.set_many(np.array([doc_id]), np.array([row]))
        self.p_ids.extend([doc_id])
        self.p_alive.extend([True])
        self.p_rows.extend(np.full(len(cols), row, dtype=np.int32))
        self.p_cols.extend(cols)
        self.p_w.extend(weights)

    def discard(self, doc_id: int) -> None:
        row = self.pend_of.pop(doc_id, None)
        if row is not None:
            self.p_alive.view()[row] = False
        else:
            self.alive[self.slot_of.pop(doc_id)] = False
            self.dead += 1

    def merge(self, b: np.ndarray) -> None:
        """Rebuild the matrix from its live slots plus the live pending docs, at full vocabulary width."""
        width = len(b)
        parts, ids = [], []
        if self.mat.shape[0] > self.dead:
            old = self.mat if not self.dead else self.mat[np.flatnonzero(self.alive), :]
            # Columns are CSC's major axis: widening to new vocabulary ids only extends indptr.
            tail = np.full(width - old.shape[1], old.indptr[-1], dtype=old.indptr.dtype)
            parts.append(
                sp.csc_array(
                    (old.data, old.indices, np.concatenate([old.indptr, tail])), shape=(old.shape[0], width)
                )
            )
            ids.append(self.ids[self.alive])
        p_alive = self.p_alive.view()
        n_new = int(p_alive.sum())
        if n_new:
            rows = self.p_rows.view()
            keep = p_alive[rows]
            # int32 rows: int64 coordinates would make scipy widen every index array of the merged matrix.
            new_row = (np.cumsum(p_alive) - 1).astype(np.int32)
            parts.append(
                sp.csc_array(
                    (self.p_w.view()[keep], (new_row[rows[keep]], self.p_cols.view()[keep])),
                    shape=(n_new, width),
                )
            )
            ids.append(self.p_ids.view()[p_alive])
        if not parts:
            self.mat = sp.csc_array((0, width), dtype=WEIGHT)
        elif len(parts) == 1:
            self.mat = parts[0]
        else:
            self.mat = sp.vstack(parts, format="csc")  # scipy's fast path: no COO round trip
        self.ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
        self.alive = np.ones(len(self.ids), dtype=bool)
        self.slot_of = IdMap()
        self.slot_of.set_many(self.ids, np.arange(len(self.ids)))
        self.dead = 0
        squared = sp.csc_array(
            (np.square(self.mat.data), self.mat.indices, self.mat.indptr), shape=self.mat.shape
        )
        self.s = squared @ np.column_stack([np.ones(width), b, b * b])
        self.b_ref = b.copy()
        self.reset_pending()

    def sync(self, b: np.ndarray) -> None:
        """Bring S1, S2 up to date with B, touching only the columns whose B moved by more than
        NORM_TOLERANCE since they were last in sync.

        A column's posting list is long exactly when its B moves slowly (a term in half of a million
        documents moves by 2e-6 a new document), so a common term is re-synced once every many
        upserts; a rare one (df under 1 / NORM_TOLERANCE) on each. The norms drift by less than
        NORM_TOLERANCE (relative, as idf >= 1) meanwhile: searches only pick candidates, which
        `similarity` then scores exactly.
        """
        n_slots, width = self.mat.shape
        if not n_slots or not width:
            return
        changed = np.flatnonzero(np.abs(b[:width] - self.b_ref) > NORM_TOLERANCE)
        if not changed.size:
            return
        old, new = self.b_ref[changed], b[changed]
        self.b_ref[changed] = new
        sub = self.mat[:, changed]
        if not sub.nnz:
            return
        # Only the slots on the changed columns' posting lists move: accumulate over those (a
        # sparse-by-dense product would write a dense column of every slot on each sync).
        squared = np.square(sub.data)
        column = np.repeat(np.arange(changed.size), np.diff(sub.indptr))
        slots, at = np.unique(sub.indices, return_inverse=True)
        self.s[slots, 1] += np.bincount(at, weights=squared * (new - old)[column], minlength=slots.size)
        self.s[slots, 2] += np.bincount(
            at, weights=squared * (new * new - old * old)[column], minlength=slots.size
        )

    def cosines(self, q: _Query) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc ids, cosine, alive) over every slot and pending row; dead ones score 0."""
        n_slots, width = self.mat.shape
        idf = q.a - q.b
        ids, scores, alive = [], [], []
        if n_slots:
            inside = q.cols < width
            cols = q.cols[inside]
            # The matrix holds bare tf weights, so both idf factors go on the query side.
            num = self.mat[:, cols] @ (q.weights[inside] * idf[cols]) if cols.size else np.zeros(n_slots)
            norms = _norms(self.s, q.a)
            ids.append(self.ids)
            alive.append(self.alive)
            scores.append(_cosine(num, norms, q.norm, self.alive))
        n_pending = self.p_ids.size
        if n_pending:
            rows, pcols, w = self.p_rows.view(), self.p_cols.view(), self.p_w.view()
            dense = np.zeros(len(q.b))
            dense[q.cols] = q.weights * idf[q.cols]
            num = np.bincount(rows, weights=w * dense[pcols], minlength=n_pending)
            norms = np.sqrt(np.bincount(rows, weights=np.square(w * idf[pcols]), minlength=n_pending))
            ids.append(self.p_ids.view())
            alive.append(self.p_alive.view())
            scores.append(_cosine(num, norms, q.norm, alive[-1]))
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=bool)
        return np.concatenate(ids), np.concatenate(scores), np.concatenate(alive)


def _touched(shard: _Shard, queries: Sequence[_Query]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(doc ids, cosine) of the docs sharing a term with each query.

    Only the docs on a query's posting lists are scored (the others score 0): its terms' columns are
    read straight from the CSC arrays and summed per slot, so a search costs the length of those
    lists, not the size of the shard. Summed by sorting the slots (`unique`): at 500k slots that
    was faster than scipy's sparse product or a slot-sized accumulator, and the sorted slots make
    the per-slot reads below near-sequential (`take`: fancy indexing was 4x slower there). A search
    at a million postings: 4.7 -> 2.4 ms.
    """
    width = shard.mat.shape[1]
    indptr, indices, data = shard.mat.indptr, shard.mat.indices, shard.mat.data
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for q in queries:
        inside = q.cols < width
        cols = q.cols[inside]
        lengths = indptr[cols + 1] - indptr[cols]
        if not lengths.sum():
            out.append((np.empty(0, dtype=np.int64), np.empty(0)))
            continue
        at = _ranges(indptr[cols], lengths)
        term_weights = q.weights[inside] * (q.a - q.b[cols])
        slots, position = np.unique(indices[at], return_inverse=True)
        sums = np.bincount(position, weights=data[at] * np.repeat(term_weights, lengths))
        norms = _norms(np.take(shard.s, slots, axis=0), q.a)
        out.append((shard.ids.take(slots), _cosine(sums, norms, q.norm, shard.alive.take(slots))))
    if shard.p_ids.size:
        for j, q in enumerate(queries):
            p_ids, p_cos, p_alive = _pending_cosines(shard, q)
            ids, cos = out[j]
            out[j] = (np.concatenate([ids, p_ids[p_alive]]), np.concatenate([cos, p_cos[p_alive]]))
    return out


def _pending_cosines(shard: _Shard, q: _Query) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_pending = shard.p_ids.size
    idf = q.a - q.b
    rows, pcols, w = shard.p_rows.view(), shard.p_cols.view(), shard.p_w.view()
    dense = np.zeros(len(q.b))
    dense[q.cols] = q.weights * idf[q.cols]
    num = np.bincount(rows, weights=w * dense[pcols], minlength=n_pending)
    norms = np.sqrt(np.bincount(rows, weights=np.square(w * idf[pcols]), minlength=n_pending))
    alive = shard.p_alive.view()
    return shard.p_ids.view(), _cosine(num, norms, q.norm, alive), alive


def _weights_at(queries: Sequence[_Query], owner: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The weight in query `owner[n]` of vocabulary id `cols[n]` (0 for a term it lacks), for all
    queries in one sorted lookup: a mask per query would cost (queries x terms)."""
    if not len(cols):
        return np.zeros(0)
    width = max(len(q.b) for q in queries) + 1
    keys = np.concatenate([n * width + np.sort(q.cols) for n, q in enumerate(queries)])
    weights = np.concatenate([q.weights[np.argsort(q.cols)] for q in queries])
    if not keys.size:
        return np.zeros(len(cols))
    wanted = owner.astype(np.int64) * width + cols
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, weights[at], 0.0)


def _top(ids: np.ndarray, cos: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top-k (id, score) with score > 0, best first, ties by smaller id."""
    hits = np.flatnonzero(cos > 0)
    if hits.size > k:
        # Keep everything tied with the k-th best so the id tie-break below sees all of them.
        kth = np.partition(cos[hits], hits.size - k)[hits.size - k]
        hits = hits[cos[hits] >= kth]
    order = np.lexsort((ids[hits], -cos[hits]))[:k]
    best = hits[order]
    return list(zip(ids[best].tolist(), cos[best].tolist(), strict=True))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start+1, ... of each (start, length) range, one range after the other."""
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    at = np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - lengths, lengths)
    return at + np.repeat(np.asarray(starts, dtype=np.int64), lengths)


def _norms(s: np.ndarray, a: float) -> np.ndarray:
    """Doc norms |d| = sqrt(A^2 S0 - 2 A S1 + S2) from the slots' (S0, S1, S2) rows (module doc)."""
    return np.sqrt(np.maximum(a * a * s[:, 0] - 2.0 * a * s[:, 1] + s[:, 2], 0.0))


def _cosine(num: np.ndarray, norms: np.ndarray, qnorm: float, alive: np.ndarray) -> np.ndarray:
    out = np.zeros(len(num))
    if qnorm > 0:
        np.divide(num, norms * qnorm, out=out, where=alive & (norms > 0))
    return np.clip(out, 0.0, 1.0, out=out)  # rounding can overshoot 1 for identical bags


# 1 + ln count of the small counts, from `math.log` as a term-by-term loop would take it.
_TF_TABLE = np.array([0.0] + [1.0 + math.log(c) for c in range(1, 1024)])


def _tf_weights(counts: np.ndarray) -> np.ndarray:
    """1 + ln count per count (0 for a count of 0)."""
    tf = _TF_TABLE[np.minimum(counts, len(_TF_TABLE) - 1)]
    for n in np.flatnonzero(counts >= len(_TF_TABLE)).tolist():
        tf[n] = 1.0 + math.log(int(counts[n]))
    return tf


def _positive_counts(terms: Mapping[str, int]) -> list[tuple[str, int]]:
    """Terms with their counts; zero counts are dropped, negative ones are a caller bug."""
    items = []
    for term, count in terms.items():
        if count < 0:
            raise ValueError(f"negative count for term {term!r}: {count}")
        if count:
            items.append((term, count))
    return items


class LexicalIndex:
    """TF-IDF cosine index over bags of terms of needs and offers, keyed by database ids.

    One lock guards everything: searches may merge or re-sync norms, so they mutate too.
    """

    def __init__(self, *, merge_threshold: int = 2000) -> None:
        self._merge_threshold = merge_threshold
        self._vocab: dict[str, int] = {}
        self._terms: list[str] = []
        self._df = np.zeros(1024, dtype=np.int64)  # capacity grows; valid up to len(self._terms)
        self._b: np.ndarray | None = None  # ln(1 + df) per vocabulary id, until df next changes
        self._docs = _DocStore()
        self._shards = {kind: _Shard() for kind in KINDS}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return self._docs.live

    def __contains__(self, doc_id: int) -> bool:
        with self._lock:
            return self._docs.slot_of.get(int(doc_id)) is not None

    def upsert(self, doc_id: int, kind: str, terms: Mapping[str, int]) -> None:
        """Add a document, replacing any stored under the same id (whatever its kind)."""
        shard = self._shard(kind)
        doc_id = int(doc_id)
        items = _positive_counts(terms)
        with self._lock:
            cols = np.fromiter((self._term_id(term) for term, _ in items), dtype=np.int32, count=len(items))
            counts = np.minimum(np.array([count for _, count in items], dtype=np.int64), MAX_COUNT)
            self._remove_locked(doc_id)
            self._df[cols] += 1  # cols are unique: plain fancy-index add is exact
            self._b = None
            self._docs.add_many(np.array([doc_id]), KINDS.index(kind), np.array([len(cols)]), cols, counts)
            shard.add_pending(doc_id, cols, (1.0 + np.log(counts)).astype(WEIGHT))
            if shard.p_ids.size > max(self._merge_threshold, shard.mat.shape[0]):
                shard.merge(np.log1p(self._df[: len(self._terms)].astype(np.float64)))

    def upsert_many(
        self,
        kind: str,
        doc_ids: Sequence[int] | np.ndarray,
        vocabulary: Sequence[str],
        indptr: np.ndarray,
        term_index: np.ndarray,
        counts: np.ndarray,
    ) -> None:
        """Add many documents of one kind at once (a bulk load): document n holds the terms
        `vocabulary[term_index[indptr[n]:indptr[n + 1]]]` (unique within a document) with `counts`."""
        shard = self._shard(kind)
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        if (counts <= 0).any():
            raise ValueError("counts must be positive")
        counts = np.minimum(counts, MAX_COUNT)
        with self._lock:
            for doc_id in doc_ids.tolist():
                self._remove_locked(doc_id)
            col_of = np.fromiter(
                (self._term_id(t) for t in vocabulary), dtype=np.int32, count=len(vocabulary)
            )
            cols = col_of[np.asarray(term_index)]
            np.add.at(self._df, cols, 1)
            self._b = None
            lengths = np.diff(np.asarray(indptr, dtype=np.int64))
            self._docs.add_many(doc_ids, KINDS.index(kind), lengths, cols, counts)
            base = shard.p_ids.size
            shard.pend_of.set_many(doc_ids, np.arange(base, base + len(doc_ids)))
            shard.p_ids.extend(doc_ids)
            shard.p_alive.extend(np.ones(len(doc_ids), dtype=bool))
            shard.p_rows.extend(np.repeat(np.arange(base, base + len(doc_ids), dtype=np.int32), lengths))
            shard.p_cols.extend(cols)
            shard.p_w.extend((1.0 + np.log(counts)).astype(WEIGHT))

    def remove(self, doc_id: int) -> None:
        with self._lock:
            self._remove_locked(int(doc_id))

    def memory_bytes(self) -> int:
        """Estimated bytes held: merged matrices, pending buffers, per-document terms, maps."""
        with self._lock:
            total = self._df.nbytes + sum(len(t) + 80 for t in self._terms)  # vocabulary
            total += self._docs.nbytes()  # each document's terms
            for shard in self._shards.values():
                m = shard.mat
                total += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
                total += shard.ids.nbytes + shard.alive.nbytes + shard.s.nbytes
                total += shard.slot_of.nbytes() + shard.pend_of.nbytes()
                total += sum(
                    g.data.nbytes for g in (shard.p_ids, shard.p_alive, shard.p_rows, shard.p_cols, shard.p_w)
                )
            return int(total)

    def idf(self, term: str) -> float:
        """How rare a term is across all live documents (a term never seen is the rarest)."""
        with self._lock:
            col = self._vocab.get(term)
            df = int(self._df[col]) if col is not None else 0
            return math.log((1 + self._docs.live) / (1 + df)) + 1.0

    def terms_of(self, doc_id: int) -> StoredTerms:
        with self._lock:
            found = self._docs.get(int(doc_id))
            if found is None:
                raise KeyError(doc_id)
            _, cols, counts = found
            return StoredTerms(cols, counts, self._terms)  # copies: the store's arrays move

    def scores(self, kind: str, terms: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids int64, cosine float32) for every live document of `kind`, zero scores included."""
        ids, cos, alive = self._score_kind(kind, terms)
        return ids[alive], cos[alive]

    def search(self, kind: str, terms: Mapping[str, int], k: int) -> list[tuple[int, float]]:
        """Top-k (doc id, score) of `kind` with score > 0, best first, ties by smaller id."""
        return self.search_many(kind, [terms], k)[0]

    def search_many(
        self, kind: str, bags: Sequence[Mapping[str, int]], k: int
    ) -> list[list[tuple[int, float]]]:
        """`search` for several queries at once (one lock, one weighting of all the bags)."""
        if k <= 0 or not bags:
            return [[] for _ in bags]
        shard = self._shard(kind)
        with self._lock:
            queries = self._queries(bags)
            if shard.p_ids.size + shard.dead > self._merge_threshold:
                shard.merge(queries[0].b)
            else:
                shard.sync(queries[0].b)
            scored = _touched(shard, queries)
        # Rank on the float32 values callers see, so equal reported scores are ties.
        return [_top(ids, cos.astype(np.float32), k) for ids, cos in scored]

    def similarity(self, terms: Mapping[str, int], doc_ids: Sequence[int]) -> np.ndarray:
        """Cosine (float32) of the query against each given id, 0.0 for ids not in the index."""
        return self.similarity_many([terms], [doc_ids])

    def similarity_many(
        self, bags: Sequence[Mapping[str, int]], doc_ids_of: Sequence[Sequence[int]]
    ) -> np.ndarray:
        """`similarity` of each bag against its own list of ids, the lists one after the other:
        every document's terms weighted in one pass for all of them."""
        out = np.zeros(sum(len(ids) for ids in doc_ids_of), dtype=np.float32)
        if not len(out):
            return out
        with self._lock:
            queries = self._queries(bags)
            owner = np.repeat(np.arange(len(bags)), [len(ids) for ids in doc_ids_of])
            ids = [i for group in doc_ids_of for i in group]
            # A query without weight (no terms) scores 0 against everything.
            asked = np.flatnonzero(np.array([q.norm > 0 for q in queries])[owner])
            found, lengths, cols, counts = self._docs.gather([ids[n] for n in asked.tolist()])
            found = asked[found]
            if not found.size:
                return out
            seg = np.repeat(np.arange(len(found)), lengths)
            q = queries[0]  # every query of one call sees the same N and df
            w = (1.0 + np.log(counts.astype(np.float64))) * (q.a - q.b[cols])
            norms = np.sqrt(np.bincount(seg, weights=w * w, minlength=len(found)))
            # Each query's weights over its own documents' terms (the documents are grouped by query).
            q_weights = _weights_at(queries, owner[found][seg], cols)
            dots = np.bincount(seg, weights=w * q_weights, minlength=len(found))
            q_norms = np.array([queries[n].norm for n in owner[found].tolist()])
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(norms > 0, np.minimum(1.0, dots / (norms * q_norms)), 0.0)
            out[found] = values
        return out

    # -- internals (callers hold the lock) ------------------------------------------------------------------

    def _shard(self, kind: str) -> _Shard:
        try:
            return self._shards[kind]
        except KeyError:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}") from None

    def _term_id(self, term: str) -> int:
        col = self._vocab.get(term)
        if col is None:
            col = self._vocab[term] = len(self._terms)
            self._terms.append(term)
            if col >= len(self._df):
                self._df = np.concatenate([self._df, np.zeros(len(self._df), dtype=np.int64)])
        return col

    def _remove_locked(self, doc_id: int) -> None:
        found = self._docs.pop(doc_id)
        if found is None:
            return
        kind, cols = found
        self._df[cols] -= 1
        self._b = None
        self._shards[KINDS[kind]].discard(doc_id)

    def _query(self, terms: Mapping[str, int]) -> _Query:
        return self._queries([terms])[0]

    def _queries(self, bags: Sequence[Mapping[str, int]]) -> list[_Query]:
        """The queries' weights, looked up for all bags at once (the delivery rule weighs a hundred
        a step); the same numbers a term-by-term loop gives (tf from `math.log`, terms in order)."""
        a = math.log1p(self._docs.live) + 1.0
        if self._b is None:  # a search re-uses it: it only moves with an upsert or a removal
            self._b = np.log1p(self._df[: len(self._terms)].astype(np.float64))
        b = self._b
        sizes = [len(terms) for terms in bags]
        get = self._vocab.get
        cols_of, counts_of = [], []
        for terms in bags:
            if isinstance(terms, StoredTerms) and terms.vocabulary is self._terms:
                cols_of.append(terms.cols)  # a stored document's: vocabulary ids already
                counts_of.append(terms.counts)
            else:
                counts_of.append(np.fromiter(terms.values(), dtype=np.int64, count=len(terms)))
                cols_of.append(np.fromiter((get(t, -1) for t in terms), dtype=np.int64, count=len(terms)))
        counts = np.concatenate(counts_of) if bags else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(cols_of) if bags else np.zeros(0, dtype=np.int64)
        if (counts < 0).any():
            for terms in bags:
                _positive_counts(terms)  # raises, naming the term
        tf = _tf_weights(counts)
        known = (counts > 0) & (cols >= 0)
        weights = np.zeros(len(counts))
        weights[known] = tf[known] * (a - b[cols[known]])
        unknown = (counts > 0) & (cols < 0)
        queries, end = [], 0
        for size in sizes:
            start, end = end, end + size
            mine = known[start:end]
            q_cols, q_weights = cols[start:end][mine], weights[start:end][mine]
            missing = 0.0
            if unknown[start:end].any():
                for w in tf[start:end][unknown[start:end]].tolist():
                    missing += (w * a) ** 2  # df = 0: idf = A
            norm = math.sqrt(float(q_weights @ q_weights) + missing)
            queries.append(_Query(q_cols, q_weights, norm, a, b))
        return queries

    def _score_kind(self, kind: str, terms: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        shard = self._shard(kind)
        with self._lock:
            q = self._query(terms)
            if shard.p_ids.size + shard.dead > self._merge_threshold:
                shard.merge(q.b)
            else:
                shard.sync(q.b)
            ids, cos, alive = shard.cosines(q)
        # Rank on the float32 values callers see, so equal reported scores are ties.
        return ids, cos.astype(np.float32), alive
