"""Time from `POST /api/v1/postings` to the suggestion arriving on the live notification stream.

Starts its own API (uvicorn) and one worker process with the default settings, on a fresh
SQLite database and the embedded Redis (or CLUSTERMATCH_REDIS_URL), loads the demo so the
index is not empty, then posts N needs that each match a known offer and prints the timings.
The needs rotate over distinct texts (one vision problem, eight vibration problems) so that no
run depends on how the delivery rule treats repeated identical postings.

    .venv/bin/python bench/pipeline_latency.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.cli.processes import api_command, stop_all, worker_command  # noqa: E402
from api.core.redis_server import redis_url, start_embedded_redis  # noqa: E402
from api.core.settings import Settings  # noqa: E402
from tests.helpers import register  # noqa: E402
from tests.samples import VIBRATION_NEEDS, VIBRATION_OFFER, VISION_NEED, VISION_OFFER  # noqa: E402

NEEDS = [VISION_NEED] + [
    {
        **VIBRATION_OFFER,
        "kind": "need",
        "title": title,
        "description": text,
        "keywords": keywords,
        "trl": None,
    }
    for title, text, keywords in VIBRATION_NEEDS
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # still stop the child processes
    data_dir = Path(tempfile.mkdtemp(prefix="clustermatch-bench-"))
    settings = Settings(data_dir=data_dir, port=args.port, redis_url=os.environ.get("CLUSTERMATCH_REDIS_URL"))
    redis_process = None if settings.redis_url else start_embedded_redis(settings)
    env = {
        **os.environ,
        "CLUSTERMATCH_DATA_DIR": str(data_dir),
        "CLUSTERMATCH_REDIS_URL": redis_url(settings),
        "CLUSTERMATCH_PORT": str(args.port),
        "CLUSTERMATCH_LOG_LEVEL": "WARNING",
        # Time the machine, not a facilitator: suggestions go straight to the parties.
        "CLUSTERMATCH_REVIEW_AUTO_DELIVER_ABOVE": "0",
        # ... and no daily budget paces them: every run's suggestion goes out at once.
        "CLUSTERMATCH_MATCH_DAILY_BUDGET_NEEDS": "1000000",
        "CLUSTERMATCH_MATCH_DAILY_BUDGET_OFFERS": "1000000",
    }

    def run(cmd):
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    subprocess.run(
        [sys.executable, "-m", "api.cli", "migrate"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(
        [sys.executable, "-m", "api.cli", "seed", "--demo"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    processes = [run(worker_command(settings)), run(api_command(settings))]
    base = f"http://127.0.0.1:{args.port}"
    try:
        client = httpx.Client(base_url=base, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("API did not start")
            time.sleep(0.2)
        company_auth = register(client, org_type="company")["headers"]
        lab_auth = register(client, org_type="research_lab")["headers"]
        for offer in (VISION_OFFER, VIBRATION_OFFER):
            client.post("/api/v1/postings", json=offer, headers=lab_auth).raise_for_status()

        arrivals: dict[int, float] = {}
        ready = threading.Event()

        def listen() -> None:
            try:
                stream_events()
            except httpx.HTTPError:
                pass  # the server stops at the end of the run

        def stream_events() -> None:
            with httpx.Client(base_url=base, timeout=httpx.Timeout(5, read=None)) as stream_client:
                with stream_client.stream(
                    "GET", "/api/v1/notifications/stream", headers=company_auth
                ) as response:
                    ready.set()
                    for line in response.iter_lines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            if event["kind"] == "suggestion.new":
                                arrivals.setdefault(event["payload"]["need"]["id"], time.perf_counter())

        threading.Thread(target=listen, daemon=True).start()
        ready.wait(10)
        # Wait for the worker to have loaded the model and drained the demo backlog.
        warm = client.post("/api/v1/postings", json=VISION_NEED, headers=company_auth).json()
        deadline = time.monotonic() + 120
        while warm["id"] not in arrivals:
            if time.monotonic() > deadline:
                raise SystemExit("the worker produced no suggestion within 120 s")
            time.sleep(0.05)

        timings = []
        for i in range(args.runs):
            need = NEEDS[i % len(NEEDS)]
            body = {**need, "title": f"{need['title']} ({i + 1})"}
            started = time.perf_counter()
            posting = client.post("/api/v1/postings", json=body, headers=company_auth).json()
            while posting["id"] not in arrivals:
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"no suggestion for posting {posting['id']} within 60 s")
                time.sleep(0.002)
            timings.append((arrivals[posting["id"]] - started) * 1000)
            time.sleep(0.2)
        timings.sort()
        print(
            f"POST -> suggestion on the live stream, {args.runs} runs, 1 worker process x {settings.worker_threads} threads, SQLite"
        )
        print(
            f"  median {statistics.median(timings):.0f} ms   min {timings[0]:.0f} ms   "
            f"p90 {timings[int(0.9 * (len(timings) - 1))]:.0f} ms   max {timings[-1]:.0f} ms"
        )
    finally:
        stop_all(processes)
        if redis_process is not None:
            stop_all([redis_process])


if __name__ == "__main__":
    main()
