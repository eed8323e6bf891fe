"""The vector index at a million postings: the approximate configuration the product switches to, vs exact.

Draws N synthetic 384-d unit vectors with topic structure (a mixture of a few thousand Gaussian
topics on the sphere, topic sizes and spreads varied, as sentence embeddings of postings cluster
by subject), builds the index the product builds at that size (`embeddings.index.VectorIndex` with
the settings' `IndexConfig`), and times single queries (fresh vectors from the same mixture) on it
and on exact search over the same rows, in the same run. recall@10 is the share of the exact top 10
the index returns.

    .venv/bin/python bench/index_1m.py [--vectors 1000000] [--queries 300] [--exact-queries 30] [--json]

The last line with --json is one JSON object: build_s, p50_ms, p95_ms, recall@10, bytes,
exact_p50_ms, speedup_vs_exact (and what was measured: vectors, mode, factory, nprobe).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.core.settings import Settings  # noqa: E402
from api.matching.replica import index_config  # noqa: E402
from embeddings.index import EXACT, VectorIndex  # noqa: E402

DIM = 384


class TopicMixture:
    """Unit vectors around `topics` random centres; each topic has its own size and spread."""

    def __init__(self, rng: np.random.Generator, dim: int = DIM, topics: int = 3000) -> None:
        self.rng, self.dim = rng, dim
        centres = rng.normal(size=(topics, dim)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.weights = rng.dirichlet(np.full(topics, 0.7))  # a few big subjects, many small ones
        # Noise of norm ~s around a centre: cosine to the centre ~1/sqrt(1+s^2), 0.7..0.95.
        self.spread = rng.uniform(0.35, 1.0, size=topics).astype(np.float32)

    def topics(self, n: int) -> np.ndarray:
        return self.rng.choice(len(self.weights), size=n, p=self.weights)

    def draw(self, n: int, topics: np.ndarray | None = None) -> np.ndarray:
        """n unit vectors (of the given topics, else drawn by topic weight)."""
        topics = self.topics(n) if topics is None else topics
        out = np.empty((n, self.dim), dtype=np.float32)
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            topic = topics[start : start + m]
            noise = self.rng.standard_normal(size=(m, self.dim), dtype=np.float32)
            chunk = self.centres[topic] + noise * (self.spread[topic] / np.sqrt(self.dim))[:, None]
            out[start : start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
        return out


def timed_searches(index: VectorIndex, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    timings, found = [], []
    for q in queries:
        start = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        timings.append((time.perf_counter() - start) * 1000)
        found.append(ids[0])
    return timings, np.stack(found)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--exact-queries", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    config = index_config(Settings())
    rng = np.random.default_rng(11)
    mixture = TopicMixture(rng)
    vectors = mixture.draw(args.vectors)
    ids = np.arange(1, args.vectors + 1, dtype=np.int64)
    queries = mixture.draw(args.queries)

    started = time.perf_counter()
    index = VectorIndex.from_arrays(DIM, ids, vectors, config)
    build_s = time.perf_counter() - started
    exact = VectorIndex.from_arrays(DIM, ids, vectors, EXACT)
    del vectors

    for q in queries[:5]:  # warm both
        index.search(q[None, :], 10)
        exact.search(q[None, :], 10)
    timings, found = timed_searches(index, queries, 10)
    exact_timings, _ = timed_searches(exact, queries[: args.exact_queries], 10)
    _, truth = exact.search(queries, 10)  # the exact top 10 of every query, one batched call
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    result = {
        "build_s": round(build_s, 2),
        "p50_ms": round(percentile(timings, 50), 3),
        "p95_ms": round(percentile(timings, 95), 3),
        "recall@10": round(recall, 4),
        "bytes": int(index.memory_bytes()),
        "exact_p50_ms": round(percentile(exact_timings, 50), 3),
        "speedup_vs_exact": round(percentile(exact_timings, 50) / percentile(timings, 50), 1),
        "vectors": args.vectors,
        "mode": index.mode,
        "factory": config.factory,
        "nprobe": config.nprobe,
    }
    print(
        f"{args.vectors} vectors, {index.mode} ({config.factory}, nprobe {config.nprobe}): built in "
        f"{result['build_s']} s, {result['bytes'] / 2**20:.0f} MiB; p50 {result['p50_ms']} ms, p95 "
        f"{result['p95_ms']} ms, recall@10 {result['recall@10']}; exact p50 {result['exact_p50_ms']} ms "
        f"(x{result['speedup_vs_exact']})"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
