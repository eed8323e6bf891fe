"""Bulk ingest: N distinct postings over HTTP by several clients, until every one is `matched`,
against the raw encoders encoding the same postings' representation texts in the same run.

Starts `clustermatch run` (embedded Redis and SQLite, the demo loaded, the default worker
settings) on its own port and data dir, or uses a running one (`--url` with its `--data-dir`).
The postings come from bench/corpus.py (needs and offers over the 8 areas, Italian and
English), each published by one of `--orgs` companies or labs. The clock runs from the first
POST to the moment the last posting is `matched` (read from the database file, so the check
costs the stack nothing).

Then, once the machine is quiet again (a shared stack goes on delivering the import's
notifications for a while), the raw rate: the encoders a worker runs (bench/post_to_suggestion.py says which), in
this process, over the representation texts of a sample of the same postings, in full batches
(`embedding_batch_size` texts a call: the best the pipeline's batcher can do, so the ratio
cannot flatter the pipeline). `ingest_over_raw` = postings_per_s / raw_encode_postings_per_s.

    .venv/bin/python bench/ingest.py [--postings 2000] [--clients 8] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import queue
import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import THEMES, postings  # noqa: E402
from bench.stack import DEFAULT_PORT, BenchStack, register, wait_matched, wait_quiet  # noqa: E402

TARGET = 0.8


def matched_count(db: Path, first_id: int) -> tuple[int, int]:
    """(matched, failed) among postings with id >= first_id."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = dict(
            conn.execute(
                "SELECT pipeline_state, count(*) FROM postings WHERE id >= ? GROUP BY pipeline_state",
                (first_id,),
            ).fetchall()
        )
    return rows.get("matched", 0), rows.get("failed", 0)


def raw_rate(bodies: list[dict], sample: int) -> dict[str, float]:
    """Postings per second of the worker's encoders alone on the same postings' texts: batched
    as the pipeline's batcher can at best (`embedding_batch_size` texts a call), and, for
    reference, one posting a call."""
    from api.core.settings import Settings
    from embeddings.representation import represent
    from workers.resources import build_encoders

    settings = Settings()
    batch_size = settings.embedding_batch_size
    pivot, second = build_encoders(settings)
    step = max(1, len(bodies) // sample)
    reps = [represent(b["title"], b["description"], b["keywords"]) for b in bodies[::step][:sample]]
    pivot.encode(reps[0].texts)
    started = time.perf_counter()
    pivot.encode([text for rep in reps for text in rep.texts], batch_size=batch_size)
    if second:
        second.encode([rep.raw for rep in reps], batch_size=batch_size)
    batched = time.perf_counter() - started
    one_by_one = reps[: min(30, max(10, len(reps) // 10))]
    started = time.perf_counter()
    for rep in one_by_one:
        pivot.encode(rep.texts)
        if second:
            second.encode([rep.raw])
    single = time.perf_counter() - started
    return {
        "raw_sample": len(reps),
        "raw_texts_per_posting": round(sum(len(r.texts) for r in reps) / len(reps), 2),
        "raw_encode_postings_per_s": round(len(reps) / batched, 2),
        "raw_one_call_per_posting_per_s": round(len(one_by_one) / single, 2),
    }


def run(n: int, *, clients: int, orgs: int, url: str | None, data_dir: Path | None, port: int, seed: int,
        raw_sample: int) -> dict:  # fmt: skip
    bodies = postings(n, seed=seed)
    areas = sorted({t.area for t in THEMES})
    stack = None if url else BenchStack(port=port)
    if stack:
        stack.start()
        data_dir = stack.data_dir
    if data_dir is None:
        raise SystemExit("--url needs the stack's --data-dir (where its SQLite file is)")
    base = url or stack.base_url  # type: ignore[union-attr]
    db = Path(data_dir) / "clustermatch.sqlite3"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            companies = [register(client, base, org_type="company", clusters=areas) for _ in range(orgs)]
            labs = [register(client, base, org_type="research_lab", clusters=areas) for _ in range(orgs)]
            # The model loaded and the demo's backlog drained before the clock starts.
            warm = client.post(
                "/api/v1/postings",
                json=bodies[0],
                headers=companies[0] if bodies[0]["kind"] == "need" else labs[0],
            )
            warm.raise_for_status()
            wait_matched(
                client, base, companies[0] if bodies[0]["kind"] == "need" else labs[0], warm.json()["id"]
            )
            first_id = warm.json()["id"] + 1
        work: queue.Queue[tuple[dict[str, str], dict]] = queue.Queue()
        for i, body in enumerate(bodies):
            owners = companies if body["kind"] == "need" else labs
            work.put((owners[i % len(owners)], body))
        errors: list[str] = []

        def post_all() -> None:
            with httpx.Client(base_url=base, timeout=60) as c:
                while True:
                    try:
                        headers, body = work.get_nowait()
                    except queue.Empty:
                        return
                    response = c.post("/api/v1/postings", json=body, headers=headers)
                    if response.status_code != 201:
                        errors.append(f"{response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        threads = [threading.Thread(target=post_all) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        posted_s = time.perf_counter() - started
        accepted = n - len(errors)
        while True:
            matched, failed = matched_count(db, first_id)
            if matched + failed >= accepted:
                break
            if time.perf_counter() - started > 3600:
                raise RuntimeError(f"only {matched} of {accepted} postings matched after an hour")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    finally:
        if stack:
            stack.stop()
    # A shared stack (--url) is still delivering the import's notifications: time the raw
    # encoders on a quiet machine only, or the ratio would flatter the pipeline.
    settled = wait_quiet(timeout=180)
    raw = raw_rate(bodies, raw_sample)
    per_s = matched / seconds
    result = {
        "postings": matched,
        "failed": failed,
        "post_errors": len(errors),
        "clients": clients,
        "seconds": round(seconds, 1),
        "posted_seconds": round(posted_s, 1),
        "postings_per_s": round(per_s, 2),
        **raw,
        "ingest_over_raw": round(per_s / raw["raw_encode_postings_per_s"], 2),
        "settled_before_raw_s": settled,
    }
    result["targets_met"] = result["ingest_over_raw"] >= TARGET and failed == 0 and not errors and n >= 2000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postings", type=int, default=2000, help="how many (size flag; default 2000)")
    parser.add_argument("--quick", action="store_true", help="300 postings")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--orgs", type=int, default=20, help="companies, and as many labs, that publish")
    parser.add_argument("--raw-sample", type=int, default=500, help="postings the raw encoders are timed on")
    parser.add_argument("--url", help="a running stack instead of starting one (with --data-dir)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    n = 300 if args.quick else args.postings
    result = run(n, clients=args.clients, orgs=args.orgs, url=args.url, data_dir=args.data_dir, port=args.port,
                 seed=args.seed, raw_sample=min(args.raw_sample, n))  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"ingest: {result['postings']} postings matched in {result['seconds']} s "
            f"({result['postings_per_s']}/s); raw encoders {result['raw_encode_postings_per_s']} postings/s; "
            f"ratio {result['ingest_over_raw']}"
        )


if __name__ == "__main__":
    main()
