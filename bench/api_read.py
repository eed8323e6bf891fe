"""50 concurrent authenticated clients reading their suggestions and notifications.

Starts `clustermatch run` (the demo loaded) on its own port and data dir, or uses a running
one (`--url`). Each client is a member of its own organisation with one need that fits a demo
offer (so every client has a suggestion and notifications to read); once all are matched, the
clients loop for `--seconds`: `GET /api/v1/suggestions`, `GET /api/v1/notifications`, and the
first suggestion by id, one request after the other, over one keep-alive connection each,
with `--think` seconds between two requests of a client (a person reading, not a load
generator; 0 makes it one). Every answer other than 200 counts as an error.

The clients run in this process, on the machine's cores that also run the stack, so what
they cost is taken from the server: `--client raw` (the default) is a minimal HTTP/1.1
keep-alive GET over asyncio streams, a fraction of httpx's CPU per request; `--client httpx`
is httpx's AsyncClient. `client_cpu_pct` is this process's CPU over the reading time (100 =
one core), `client_cpu_ms_per_request` the same per request; with a stack of its own (no
`--url`), `api_cpu_pct` and `api_cpu_ms_per_request` are the same for the API's processes.

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
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import THEMES, latency_needs  # noqa: E402
from bench.stack import DEFAULT_PORT, BenchStack, cpu_seconds, register, wait_matched  # noqa: E402

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


class RawClient:
    """GET over one keep-alive HTTP/1.1 connection (reopened after an error or a close)."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float) -> None:
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        fixed = {"Host": url.netloc, "Accept": "application/json", **headers}
        self.head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._get(path), self.timeout)
        except BaseException:
            await self.aclose()
            raise

    async def _get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        assert reader is not None
        writer.write(f"GET {path} HTTP/1.1\r\n{self.head}\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip().lower()
        if "content-length" in fields:
            body = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            body = b"".join(chunks)
        else:
            body = await reader.read()
            fields["connection"] = "close"
        if fields.get("connection") == "close":
            await self.aclose()
        return status, body

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class HttpxClient:
    def __init__(self, base: str, headers: dict[str, str], timeout: float) -> None:
        self.client = httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout)

    async def get(self, path: str) -> tuple[int, bytes]:
        response = await self.client.get(path)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self.client.aclose()


CLIENTS = {"raw": RawClient, "httpx": HttpxClient}


async def read_loop(
    client: RawClient | HttpxClient, until: float, think: float, timings: list[float], errors: list[str]
) -> None:
    suggestion_id = None
    try:
        while time.perf_counter() < until:
            paths = ["/api/v1/suggestions", "/api/v1/notifications"]
            if suggestion_id is not None:
                paths.append(f"/api/v1/suggestions/{suggestion_id}")
            for path in paths:
                started = time.perf_counter()
                try:
                    status, body = await client.get(path)
                except (
                    httpx.HTTPError,
                    OSError,
                    asyncio.IncompleteReadError,
                    TimeoutError,
                    ValueError,
                ) as exc:
                    errors.append(f"{path}: {exc!r}")
                    continue
                timings.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    errors.append(f"{path}: {status}")
                elif path == "/api/v1/suggestions" and (listed := json.loads(body)):
                    suggestion_id = listed[0]["id"]
                await asyncio.sleep(think)
    finally:
        await client.aclose()


async def read_all(
    base: str, members: list[dict[str, str]], seconds: float, think: float, client: str = "raw"
) -> tuple[list[float], list[str]]:
    timings: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    clients = [CLIENTS[client](base, headers, 30) for headers in members]
    await asyncio.gather(*(read_loop(c, until, think, timings, errors) for c in clients))
    return timings, errors


def run(
    clients: int, seconds: float, *, think: float, url: str | None, port: int, seed: int, client: str = "raw"
) -> dict:
    stack = None if url else BenchStack(port=port)
    if stack:
        stack.start()
    base = url or stack.base_url  # type: ignore[union-attr]
    try:
        members = prepare(base, clients, seed)
        # The API's CPU is known when this bench started the stack (not with --url).
        api_pids = stack.api_pids() if stack else []
        api_processes = stack.api_processes() if stack else 0
        api_cpu_started = cpu_seconds(api_pids)
        started, cpu_started = time.perf_counter(), time.process_time()
        timings, errors = asyncio.run(read_all(base, members, seconds, think, client))
        elapsed, client_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        api_cpu = cpu_seconds(api_pids) - api_cpu_started
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
        "client": client,
        "client_cpu_pct": round(100 * client_cpu / elapsed, 1),
        "client_cpu_ms_per_request": round(1000 * client_cpu / len(timings), 2) if timings else None,
    }
    if api_pids:
        result["api_processes"] = api_processes
        result["api_cpu_pct"] = round(100 * api_cpu / elapsed, 1)
        result["api_cpu_ms_per_request"] = round(1000 * api_cpu / len(timings), 2) if timings else None
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
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default="raw", help="HTTP client of the readers (default raw)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    result = run(
        args.clients,
        10 if args.quick else args.seconds,
        think=args.think,
        url=args.url,
        port=args.port,
        seed=args.seed,
        client=args.client,
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"api reads: {result['clients']} clients, {result['requests']} requests in {result['seconds']} s, "
            f"{result['errors']} errors, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
            f"({result['client']} client: {result['client_cpu_pct']} % of a core)"
        )


if __name__ == "__main__":
    main()
