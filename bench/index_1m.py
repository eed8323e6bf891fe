"""The vector index at a million postings: the approximate configuration the product switches to, vs exact.

Draws N synthetic 384-d unit vectors with topic structure (a mixture of a few thousand Gaussian
topics on the sphere, topic sizes and spreads varied, as sentence embeddings of postings cluster
by subject), builds the index the product builds at that size (`embeddings.index.VectorIndex` with
the settings' `IndexConfig`), and times single queries (fresh vectors from the same mixture) on it
and on exact search over the same rows, in the same run (the exact queries spread among the others,
so both see the same load). recall@10 is the share of the exact top 10 the index returns. Exact search is the product's own (FAISS's flat inner-product scan on the settings'
search threads; a plain `IndexFlatIP` on one thread times the same here, numpy's BLAS product slower).
`faiss_p50_ms` times the same queries on the bare FAISS index, so `p50_ms` minus it is the wrapper's
own cost (lock, parameters, id mapping).

    .venv/bin/python bench/index_1m.py [--vectors 1000000] [--queries 300] [--exact-queries 30] [--json]

The last line with --json is one JSON object: build_s, p50_ms, p95_ms, recall@10, bytes (the index's
own estimate, as `clustermatch reindex` reports it), bytes_per_vector, build_rss_mb (the process's
resident memory growth over the build, a check of that estimate), exact_p50_ms, speedup_vs_exact,
faiss_p50_ms (and what was measured: vectors, mode, factory, nlist, nprobe).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import faiss
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


def timed_searches(
    index: VectorIndex,
    queries: np.ndarray,
    k: int,
    bare: bool = False,
    exact: VectorIndex | None = None,
    exact_queries: int = 0,
) -> tuple[list[float], np.ndarray, list[float], list[float]]:
    """Single-query timings and results; with `bare`, each query also goes to the FAISS index inside
    `index` (approximate only), before or after in turn, so the wrapper's own cost is measured under
    the same load; `exact_queries` of them, spread over the run, also go to `exact` (the same load
    again: a shared machine's load moves within a minute)."""
    exact_every = max(1, len(queries) // exact_queries) if exact is not None and exact_queries else 0
    exact_timings: list[float] = []
    inner, params = None, None
    if bare and index.mode == "approximate":
        impl = index._impl
        inner = impl.index
        params = faiss.SearchParametersIVF(nprobe=index.config.nprobe) if impl.ivf is not None else None
    timings, found, bare_timings = [], [], []
    for n, q in enumerate(queries):
        # Every other query goes bare first: the second search of a query finds its lists in cache.
        if inner is not None and n % 2:
            bare_timings.append(_timed_bare(inner, q, k, params))
        start = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        timings.append((time.perf_counter() - start) * 1000)
        found.append(ids[0])
        if inner is not None and not n % 2:  # on the thread count the wrapper just set
            bare_timings.append(_timed_bare(inner, q, k, params))
        if exact_every and n % exact_every == 0 and len(exact_timings) < exact_queries:
            start = time.perf_counter()
            exact.search(q[None, :], k)  # type: ignore[union-attr]
            exact_timings.append((time.perf_counter() - start) * 1000)
    return timings, np.stack(found), bare_timings, exact_timings


def _timed_bare(inner: faiss.Index, q: np.ndarray, k: int, params: faiss.SearchParameters | None) -> float:
    start = time.perf_counter()
    inner.search(q[None, :], k, params=params)
    return (time.perf_counter() - start) * 1000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


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

    rss_before = rss_mb()
    started = time.perf_counter()
    index = VectorIndex.from_arrays(DIM, ids, vectors, config)
    build_s = time.perf_counter() - started
    build_rss_mb = rss_mb() - rss_before
    exact = VectorIndex.from_arrays(DIM, ids, vectors, EXACT)
    del vectors

    for q in queries[:5]:  # warm both
        index.search(q[None, :], 10)
        exact.search(q[None, :], 10)
    timings, found, faiss_timings, exact_timings = timed_searches(
        index, queries, 10, bare=True, exact=exact, exact_queries=args.exact_queries
    )
    _, truth = exact.search(queries, 10)  # the exact top 10 of every query, one batched call
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    result = {
        "build_s": round(build_s, 2),
        "p50_ms": round(percentile(timings, 50), 3),
        "p95_ms": round(percentile(timings, 95), 3),
        "recall@10": round(recall, 4),
        "bytes": int(index.memory_bytes()),
        "bytes_per_vector": round(index.memory_bytes() / args.vectors, 1),
        "build_rss_mb": round(build_rss_mb, 1),
        "exact_p50_ms": round(percentile(exact_timings, 50), 3),
        "speedup_vs_exact": round(percentile(exact_timings, 50) / percentile(timings, 50), 1),
        "faiss_p50_ms": round(percentile(faiss_timings, 50), 3),
        "vectors": args.vectors,
        "mode": index.mode,
        "factory": config.factory,
        "nlist": config.nlist_for(args.vectors) if "{nlist}" in config.factory else None,
        "nprobe": config.nprobe,
    }
    factory = config.factory.format(nlist=result["nlist"])
    print(
        f"{args.vectors} vectors, {index.mode} ({factory}, nprobe {config.nprobe}): built in "
        f"{result['build_s']} s, {result['bytes'] / 2**20:.0f} MiB ({result['bytes_per_vector']:.0f} B a "
        f"vector; RSS +{build_rss_mb:.0f} MiB); p50 {result['p50_ms']} ms (bare FAISS "
        f"{result['faiss_p50_ms']}), p95 {result['p95_ms']} ms, recall@10 {result['recall@10']}; exact p50 "
        f"{result['exact_p50_ms']} ms (x{result['speedup_vs_exact']})"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
