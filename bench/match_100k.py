"""Matching one new posting against a large index: the matcher's work beyond the embedding.

Fills a replica with N synthetic postings (default 100,000: half needs, half offers; unit
vectors of the model's dimension; ~80 English-pivot terms each from a Zipf vocabulary, as real
postings have), then, for each new posting: adds it to the replica as a catch-up would, ranks
its candidates (vector + lexical retrieval, scoring) and applies the delivery rule
(`api.matching.ranking.match_probe`, what the matcher runs: an offer's candidate needs are settled
from a cheap part of their rankings, and fully ranked only when that cannot decide). Prints the
median, p90 and max of that time; with --json the last line is one JSON object (p50_ms, p90_ms,
p95_ms, max_ms, rankings_per_match).

    .venv/bin/python bench/match_100k.py [--postings 100000] [--queries 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.matching.ranking import match_probe, rank  # noqa: E402
from api.matching.replica import IndexReplica  # noqa: E402
from embeddings.scoring import default_calibration  # noqa: E402

DIM = 384
MULTI_DIM, MULTI_MODEL = 512, "bench-multi"  # the second encoder's vectors (USE-m is 512-d)
AREAS = ("agrifood", "mechatronics_automotive", "construction", "health_wellbeing", "culture_creative",
         "services_innovation", "energy_sustainability", "urban_tourism")  # fmt: skip
VOCABULARY = 30_000
TERMS_PER_POSTING = 80
LIMIT = 10  # the default CLUSTERMATCH_MATCH_MAX_PER_POSTING
CANDIDATES = 50


def synthetic_rows(rng: np.random.Generator, first_id: int, count: int) -> list[SimpleNamespace]:
    vectors = rng.normal(size=(2 * count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    multi = rng.normal(size=(count, MULTI_DIM)).astype(np.float32)
    multi /= np.linalg.norm(multi, axis=1, keepdims=True)
    rows = []
    for n in range(count):
        terms = Counter(f"t{t}" for t in rng.zipf(1.3, size=TERMS_PER_POSTING * 2) % VOCABULARY)
        rows.append(
            SimpleNamespace(
                posting_id=first_id + n,
                kind="need" if (first_id + n) % 2 else "offer",
                active=True,
                vector=vectors[2 * n].astype("<f4").tobytes(),
                head_vector=vectors[2 * n + 1].astype("<f4").tobytes(),
                multi_vector=multi[n].astype("<f4").tobytes(),
                multi_model=MULTI_MODEL,
                terms=dict(terms.most_common(TERMS_PER_POSTING)),
                organisation_id=int(rng.integers(1, 5000)),
                s3_area=AREAS[int(rng.integers(len(AREAS)))],
                trl=int(rng.integers(1, 10)),
                language=("it", "en")[int(rng.integers(2))],
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    calibration = default_calibration()
    replica = IndexReplica(
        model="bench", dim=DIM, margin_seconds=120, multi_model=MULTI_MODEL, multi_dim=MULTI_DIM
    )

    started = time.perf_counter()
    chunk = 5_000
    for first in tqdm(range(0, args.postings, chunk), desc="filling the replica", unit="chunk"):
        replica.apply(synthetic_rows(rng, first + 1, min(chunk, args.postings - first)))
    warm = synthetic_rows(rng, args.postings + 1, 1)[0]
    replica.apply([warm])
    rank(replica, replica.probe(warm.posting_id), calibration, candidates=CANDIDATES)  # first merge
    print(f"replica: {args.postings} postings loaded in {time.perf_counter() - started:.1f} s")

    rankings = 0

    timings, delivered = [], 0
    for row in tqdm(synthetic_rows(rng, args.postings + 2, args.queries), desc="matching", unit="posting"):
        start = time.perf_counter()
        replica.apply([row])
        match = match_probe(
            replica, replica.probe(row.posting_id), calibration, candidates=CANDIDATES, limit=LIMIT
        )
        rankings += 1 + match.ranking_of.cache_info().currsize  # type: ignore[attr-defined]
        delivered += len(match.chosen)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    print(
        f"match one new posting against {args.postings} postings ({args.queries} runs): "
        f"median {statistics.median(timings):.1f} ms, p90 {timings[int(0.9 * len(timings))]:.1f} ms, "
        f"max {timings[-1]:.1f} ms; {rankings / args.queries:.1f} rankings per match (its own and "
        f"the delivery rule's checks), {delivered} suggestions delivered in all"
    )
    if args.json:
        result = {
            "p50_ms": round(statistics.median(timings), 2),
            "p90_ms": round(timings[int(0.9 * len(timings))], 2),
            "p95_ms": round(timings[int(0.95 * len(timings))], 2),
            "max_ms": round(timings[-1], 2),
            "rankings_per_match": round(rankings / args.queries, 1),
            "postings": args.postings,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
