"""Runs the product as separate processes for end-to-end tests: uvicorn API and dramatiq workers."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import redis

from api.cli.processes import api_command, stop_all, worker_command
from api.core.settings import Settings
from tests.helpers import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, *, database_url: str, redis_url: str, data_dir: Path, **overrides: Any) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "CLUSTERMATCH_ENVIRONMENT": "test",
            "CLUSTERMATCH_DATABASE_URL": database_url,
            "CLUSTERMATCH_REDIS_URL": redis_url,
            "CLUSTERMATCH_DATA_DIR": str(data_dir),
            "CLUSTERMATCH_SECRET_KEY": "e2e-secret-key-that-is-long-enough-for-hs256",
            "CLUSTERMATCH_PORT": str(self.port),
            "CLUSTERMATCH_RECONCILE_INTERVAL_SECONDS": "1",
            "CLUSTERMATCH_RECONCILE_STALE_SECONDS": "5",
            # A killed worker's messages come back after 3 s instead of a minute.
            "CLUSTERMATCH_WORKER_HEARTBEAT_TIMEOUT_MS": "3000",
            # These runs follow suggestions to the parties; review is tested at the API level.
            "CLUSTERMATCH_REVIEW_AUTO_DELIVER_ABOVE": "0",
            # Many organisations register from 127.0.0.1; limits are tested in tests/api/test_sessions.py.
            "CLUSTERMATCH_RATE_LIMIT_ENABLED": "false",
            **{f"CLUSTERMATCH_{k.upper()}": str(v) for k, v in overrides.items()},
        }
        self.settings = Settings(
            **{
                k.removeprefix("CLUSTERMATCH_").lower(): v
                for k, v in self.env.items()
                if k.startswith("CLUSTERMATCH_")
            }
        )
        # Each stack has a fresh database whose ids start again at 1: messages an earlier stack
        # left on the shared test Redis (retries, a killed worker's) must not reach it.
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        client.close()
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _start(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{name}.log", "ab")
        return subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_api(self) -> None:
        self.api = self._start(api_command(self.settings), "api")
        wait_for(self._healthy, timeout=60, what="the API to answer /healthz")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, *, processes: int = 1, threads: int = 2) -> subprocess.Popen[bytes]:
        worker = self._start(
            worker_command(self.settings, processes=processes, threads=threads), f"worker{len(self.workers)}"
        )
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole worker process group: no shutdown, no acks."""
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def stop(self) -> None:
        stop_all([p for p in [*self.workers, self.api] if p is not None])

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.data_dir.glob("*.log")
        )


class EventStream:
    """Reads /api/v1/notifications/stream in a thread; events arrive on a queue."""

    def __init__(self, base_url: str, token: str, *, last_event_id: str | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            self._headers["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(5, read=None))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._client.stream(
                "GET", "/api/v1/notifications/stream", headers=self._headers
            ) as response:
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        self.events.put(json.loads("\n".join(data)))
                        data = []
        except httpx.HTTPError:
            pass

    def next(self, *, kind: str, timeout: float = 60) -> dict[str, Any]:
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                try:
                    event = self.events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if event["kind"] == kind:
                    return event
            raise AssertionError(f"no {kind} event on the live stream within {timeout}s")
        finally:
            timer.cancel()

    def close(self) -> None:
        self._client.close()
