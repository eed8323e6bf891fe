"""50 concurrent authenticated clients reading their suggestions and notifications.

Starts `clustermatch run` (the demo loaded) on its own port and data dir, or uses a running
one (`--url`). Each client is a member of its own organisation with one need that fits a demo
offer (so every client has a suggestion and notifications to read); once all are matched, the
clients loop for `--seconds`: `GET /api/v1/suggestions`, `GET /api/v1/notifications`, and the
first suggestion by id, one request after the other, over one keep-alive connection each
(httpx async), with `--think` seconds between two requests of a client (a person reading,
not a load generator; 0 makes it one). Every answer other than 200 counts as an error.

    .venv/bin/python bench/api_read.py [--clients 50] [--seconds 20] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import THEMES, latency_needs  # noqa: E402
from bench.stack import DEFAULT_PORT, BenchStack, register, wait_matched  # noqa: E402

TARGET_P95_MS = 200


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(base: str, clients: int, seed: int) -> list[dict[str, str]]:
    """One member per client, each with a matched need."""
    areas = sorted({t.area for t in THEMES})
    needs = latency_needs(clients, seed=seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        members = [register(client, base, org_type="company", clusters=areas) for _ in range(clients)]
        ids = []
        for headers, need in zip(members, needs, strict=True):
            response = client.post("/api/v1/postings", json=need, headers=headers)
            response.raise_for_status()
            ids.append(response.json()["id"])
        for headers, posting_id in zip(members, ids, strict=True):
            wait_matched(client, base, headers, posting_id)
    return members


async def read_loop(
    base: str, headers: dict[str, str], until: float, think: float, timings: list[float], errors: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        suggestion_id = None
        while time.perf_counter() < until:
            paths = ["/api/v1/suggestions", "/api/v1/notifications"]
            if suggestion_id is not None:
                paths.append(f"/api/v1/suggestions/{suggestion_id}")
            for path in paths:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {exc!r}")
                    continue
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code}")
                elif path == "/api/v1/suggestions" and response.json():
                    suggestion_id = response.json()[0]["id"]
                await asyncio.sleep(think)


async def read_all(
    base: str, members: list[dict[str, str]], seconds: float, think: float
) -> tuple[list[float], list[str]]:
    timings: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(read_loop(base, headers, until, think, timings, errors) for headers in members))
    return timings, errors


def run(clients: int, seconds: float, *, think: float, url: str | None, port: int, seed: int) -> dict:
    stack = None if url else BenchStack(port=port)
    if stack:
        stack.start()
    base = url or stack.base_url  # type: ignore[union-attr]
    try:
        members = prepare(base, clients, seed)
        started = time.perf_counter()
        timings, errors = asyncio.run(read_all(base, members, seconds, think))
        elapsed = time.perf_counter() - started
    finally:
        if stack:
            stack.stop()
    result = {
        "clients": clients,
        "think_s": think,
        "seconds": round(elapsed, 1),
        "requests": len(timings),
        "requests_per_s": round(len(timings) / elapsed, 1),
        "errors": len(errors),
        "p50_ms": round(statistics.median(timings), 1) if timings else None,
        "p95_ms": round(percentile(timings, 0.95), 1) if timings else None,
    }
    if errors:
        result["first_error"] = errors[0]
    result["targets_met"] = (
        bool(timings) and not errors and result["p95_ms"] <= TARGET_P95_MS and clients >= 50
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (size flag; default 50)")
    parser.add_argument("--seconds", type=float, default=20, help="how long they read (default 20)")
    parser.add_argument(
        "--think", type=float, default=0.1, help="a client's pause between two requests (0: flat out)"
    )
    parser.add_argument("--quick", action="store_true", help="10 seconds")
    parser.add_argument("--url", help="a running stack instead of starting one")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    result = run(
        args.clients,
        10 if args.quick else args.seconds,
        think=args.think,
        url=args.url,
        port=args.port,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"api reads: {result['clients']} clients, {result['requests']} requests in {result['seconds']} s, "
            f"{result['errors']} errors, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms"
        )


if __name__ == "__main__":
    main()
