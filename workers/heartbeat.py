"""A worker process's heartbeat in Redis: a key with a TTL, refreshed while the process lives.

Health checks (docker compose, `clustermatch worker-health`, through `api.cli.processes.alive_workers`)
read it: no fresh key on this host means no worker process here is alive and connected to Redis.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import dramatiq
import redis

from api.cli.processes import heartbeat_key

log = logging.getLogger(__name__)

# A key outlives three missed refreshes, so one slow refresh does not flap the health check.
TTL_INTERVALS = 3


class Heartbeat(dramatiq.Middleware):
    """Refreshes this process's heartbeat key from a thread of its own, from boot to shutdown."""

    def __init__(self, redis_url: str, *, interval_seconds: float = 5.0) -> None:
        self.redis_url = redis_url
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _run(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=self.interval)
        key = heartbeat_key(socket.gethostname(), os.getpid())
        ttl_ms = int(self.interval * TTL_INTERVALS * 1000)
        try:
            while not self._stop.is_set():
                try:
                    client.set(key, str(time.time()), px=ttl_ms)
                except redis.RedisError as exc:  # Redis down: the key expires, health says so
                    log.debug("heartbeat not written: %s", exc)
                self._stop.wait(self.interval)
            try:
                client.delete(key)  # a clean stop is not a dead worker
            except redis.RedisError:
                pass
        finally:
            client.close()
