"""Matching one new posting against a replica of a million postings, and the memory that replica takes.

Builds a worker's replica of N synthetic postings (default 1,000,000, half needs and half offers)
straight from arrays (`IndexReplica.from_arrays`: loading a million rows through a database would
take most of the run), in the index configuration the settings give at that size: topic-structured
384-d pivot and head vectors, 512-d second-encoder vectors of the same topics, and a lexical corpus
of ~80 stems a posting from a Zipf vocabulary tilted by topic. Then, for each new posting, times what
a matching step does after reading the database (`api.matching.service.match_posting`): apply its
row to the replica as a catch-up would, rank its candidates (vector, lexical and second-encoder
retrieval, calibrated scoring) and apply the delivery rule (`api.matching.ranking.match_probe`: an
offer's candidate needs searched in one batch and settled from a cheap part of their rankings,
the undecided ones ranked in full). Reports p50/p95 of that time and the process's resident memory
holding the replica.

    .venv/bin/python bench/match_1m.py [--postings 1000000] [--queries 100] [--json]

The last line with --json is one JSON object: p50_ms, p95_ms, worker_rss_mb (and postings, build_s,
replica_mb: the replica's own estimate of its structures, by part).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from index_1m import TopicMixture, rss_mb  # noqa: E402

from api.core.settings import Settings  # noqa: E402
from api.matching.ranking import match_probe  # noqa: E402
from api.matching.replica import IndexReplica, PostingFacts, index_config  # noqa: E402
from embeddings.lexical import LexicalIndex  # noqa: E402
from embeddings.scoring import Calibration  # noqa: E402

DIM, MULTI_DIM, MULTI_MODEL = 384, 512, "bench-multi"
AREAS = ("agrifood", "mechatronics_automotive", "construction", "health_wellbeing", "culture_creative",
         "services_innovation", "energy_sustainability", "urban_tourism")  # fmt: skip
VOCABULARY = 30_000
DRAWS_PER_POSTING = 120  # Zipf draws; their distinct stems (~80) are the posting's terms
CHUNK = 50_000
RANKINGS = [0]  # rankings done (the posting's own and the delivery rule's reverse checks)


class Corpus:
    """Synthetic postings: vectors by topic, bags of stems, facts."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pivot = TopicMixture(rng, DIM)
        self.multi = TopicMixture(rng, MULTI_DIM, topics=len(self.pivot.weights))
        self.vocabulary = [f"t{t}" for t in range(VOCABULARY)]

    def vectors(self, topics: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pivot = self.pivot.draw(len(topics), topics)
        head = pivot + self.rng.standard_normal(size=pivot.shape, dtype=np.float32) * np.float32(0.04)
        head /= np.linalg.norm(head, axis=1, keepdims=True)
        return pivot, head, self.multi.draw(len(topics), topics)

    def bags(self, topics: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, term ids, counts): each posting's distinct stems and their counts."""
        n = len(topics)
        draws = (self.rng.zipf(1.3, size=(n, DRAWS_PER_POSTING)) + topics[:, None] * 37) % VOCABULARY
        keys = np.arange(n, dtype=np.int64)[:, None] * VOCABULARY + draws
        unique, counts = np.unique(keys.ravel(), return_counts=True)
        rows = unique // VOCABULARY
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        return indptr, (unique % VOCABULARY).astype(np.int32), counts.astype(np.int32)

    def facts(self, kinds: list[str]) -> list[PostingFacts]:
        orgs = self.rng.integers(1, 20_000, size=len(kinds)).tolist()
        areas = self.rng.integers(len(AREAS), size=len(kinds)).tolist()
        trls = self.rng.integers(1, 10, size=len(kinds)).tolist()
        langs = self.rng.integers(2, size=len(kinds)).tolist()
        return [
            PostingFacts(kind, org, AREAS[a], trl, ("it", "en")[lang])
            for kind, org, a, trl, lang in zip(kinds, orgs, areas, trls, langs, strict=True)
        ]


def build_replica(corpus: Corpus, n: int, settings: Settings) -> IndexReplica:
    ids = np.arange(1, n + 1, dtype=np.int64)
    kinds = ["need" if i % 2 else "offer" for i in ids.tolist()]
    topics = corpus.pivot.topics(n)
    pivot, head, multi = corpus.vectors(topics)
    lexical = LexicalIndex()
    for start in range(0, n, CHUNK):
        part = slice(start, min(n, start + CHUNK))
        indptr, terms, counts = corpus.bags(topics[part])
        for kind in ("need", "offer"):
            rows = [r for r in range(part.stop - part.start) if kinds[start + r] == kind]
            lengths = np.diff(indptr)[rows]
            take = np.concatenate([np.arange(indptr[r], indptr[r + 1]) for r in rows])
            lexical.upsert_many(
                kind,
                ids[part][rows],
                corpus.vocabulary,
                np.concatenate([[0], np.cumsum(lengths)]),
                terms[take],
                counts[take],
            )
    return IndexReplica.from_arrays(
        model="bench",
        dim=DIM,
        margin_seconds=settings.index_sync_margin_seconds,
        ids=ids,
        facts=corpus.facts(kinds),
        vectors=pivot,
        head_vectors=head,
        terms=lexical,
        multi_model=MULTI_MODEL,
        multi_vectors=multi,
        index=index_config(settings),
    )


def new_rows(corpus: Corpus, first_id: int, count: int) -> list[SimpleNamespace]:
    """New postings as the catch-up query returns them."""
    topics = corpus.pivot.topics(count)
    pivot, head, multi = corpus.vectors(topics)
    indptr, terms, counts = corpus.bags(topics)
    kinds = ["need" if (first_id + n) % 2 else "offer" for n in range(count)]
    facts = corpus.facts(kinds)
    return [
        SimpleNamespace(
            posting_id=first_id + n,
            kind=kinds[n],
            active=True,
            vector=pivot[n].astype("<f4").tobytes(),
            head_vector=head[n].astype("<f4").tobytes(),
            multi_vector=multi[n].astype("<f4").tobytes(),
            multi_model=MULTI_MODEL,
            terms={
                corpus.vocabulary[t]: int(c)
                for t, c in zip(
                    terms[indptr[n] : indptr[n + 1]], counts[indptr[n] : indptr[n + 1]], strict=True
                )
            },
            organisation_id=facts[n].organisation_id,
            s3_area=facts[n].s3_area,
            trl=facts[n].trl,
            language=facts[n].language,
        )
        for n in range(count)
    ]


def match_one(
    replica: IndexReplica, row: SimpleNamespace, calibration: Calibration, candidates: int, limit: int
) -> int:
    """What `match_posting` does between its database reads: catch up, rank, reverse checks, rule."""
    replica.apply([row])
    match = match_probe(
        replica, replica.probe(row.posting_id), calibration, candidates=candidates, limit=limit
    )
    RANKINGS[0] += match.ranking_of.cache_info().currsize  # type: ignore[attr-defined]
    return len(match.chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    settings = Settings()
    calibration = Calibration.load(settings.match_calibration)
    corpus = Corpus(np.random.default_rng(7))

    started = time.perf_counter()
    replica = build_replica(corpus, args.postings, settings)
    gc.collect()
    build_s = time.perf_counter() - started
    rows = new_rows(corpus, args.postings + 1, args.queries + 3)
    for row in rows[:3]:  # warm: the lexical index merges its bulk load on the first search
        match_one(replica, row, calibration, settings.match_candidates, settings.match_max_per_posting)

    timings, delivered = [], 0
    RANKINGS[0] = 0
    for row in rows[3:]:
        start = time.perf_counter()
        delivered += match_one(
            replica, row, calibration, settings.match_candidates, settings.match_max_per_posting
        )
        timings.append((time.perf_counter() - start) * 1000)
    gc.collect()
    result = {
        "p50_ms": round(float(np.percentile(timings, 50)), 2),
        "p95_ms": round(float(np.percentile(timings, 95)), 2),
        "worker_rss_mb": round(rss_mb(), 1),
        "postings": args.postings,
        "reverse_rankings_per_match": round(RANKINGS[0] / max(len(timings), 1), 1),
        "build_s": round(build_s, 1),
        "replica_mb": {part: round(b / 2**20, 1) for part, b in replica.memory_bytes().items()},
        "modes": {kind: replica.indexes[kind].mode for kind in ("need", "offer")},
    }
    print(
        f"match one new posting against {args.postings} postings ({args.queries} runs, {delivered} "
        f"suggestions in all): p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms; process RSS "
        f"{result['worker_rss_mb']} MB (replica estimate {result['replica_mb']}), built in {result['build_s']} s"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
