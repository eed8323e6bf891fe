"""Starting and stopping the processes of `clustermatch run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from api.settings import Settings


def worker_command(
    settings: Settings, *, processes: int | None = None, threads: int | None = None
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.main",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads or settings.worker_threads),
        "--queues",
        "embedding",
        "matching",
        "notifications",
        # Messages take well under a second: waiting longer on shutdown only delays Ctrl-C.
        "--worker-shutdown-timeout",
        "10000",
    ]


def api_command(settings: Settings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--log-level",
        settings.log_level.lower(),
    ]


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A process group of its own, so stopping it also stops dramatiq's forked workers.
    return subprocess.Popen(command, env=env, start_new_session=True)


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
