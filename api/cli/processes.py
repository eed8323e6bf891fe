"""Starting, supervising and stopping the processes of `clustermatch run`.

`RestartPolicy` is the pure part (when to restart a child that died); `Supervisor` does the
process I/O: it starts each child in a process group of its own, restarts one that exits with
that policy, and stops them all, gracefully, only when asked to.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import redis

from api.core.settings import Settings

log = logging.getLogger(__name__)

# How long `stop` waits, beyond the workers' own shutdown timeout, before it SIGKILLs.
STOP_GRACE_SECONDS = 5.0
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
        # On SIGTERM each thread finishes its current message for at most this long; the
        # messages it had fetched but not started go back to Redis (milliseconds).
        "--worker-shutdown-timeout",
        str(settings.worker_shutdown_timeout_ms),
    ]


def api_command(settings: Settings, *, processes: int | None = None) -> list[str]:
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: any local process could then
    # pick the address that rate limits and the audit log see. Only named proxies are trusted.
    proxies = (
        ["--proxy-headers", "--forwarded-allow-ips", settings.forwarded_allow_ips]
        if settings.forwarded_allow_ips
        else ["--no-proxy-headers"]
    )
    count = processes or settings.api_processes
    # Several processes share the port (uvicorn's supervisor restarts one that dies): each runs
    # its own lifespan (engine, Redis connections) and nothing in the API is per-process state.
    workers = ["--workers", str(count)] if count > 1 else []
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "api.http.app:create_app",
        "--factory",
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        *proxies,
        *workers,
        "--log-level",
        settings.log_level.lower(),
    ]


def api_env(settings: Settings, env: Mapping[str, str], *, processes: int | None = None) -> dict[str, str]:
    """`env` for the API command: with several processes, a metrics directory they all write to
    (so /metrics answers for all of them, whichever serves it), emptied here, at start.
    A PROMETHEUS_MULTIPROC_DIR already set is the operator's and left alone."""
    env = dict(env)
    if (processes or settings.api_processes) > 1 and not env.get(MULTIPROC_DIR_ENV):
        directory = (settings.data_dir / "metrics" / "api").resolve()
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        env[MULTIPROC_DIR_ENV] = str(directory)
    return env


HEARTBEAT_KEY_PREFIX = "clustermatch:worker-heartbeat:"


def heartbeat_key(hostname: str, pid: int) -> str:
    """The Redis key a worker process refreshes while it lives (workers/heartbeat.py)."""
    return f"{HEARTBEAT_KEY_PREFIX}{hostname}:{pid}"


def alive_workers(client: redis.Redis, *, hostname: str | None = None) -> list[str]:
    """The heartbeat keys not yet expired, of one host or of all."""
    pattern = f"{HEARTBEAT_KEY_PREFIX}{hostname}:*" if hostname else f"{HEARTBEAT_KEY_PREFIX}*"
    return sorted(key.decode() for key in client.scan_iter(match=pattern, count=1000))


def describe_exit(returncode: int) -> str:
    """ "killed by SIGKILL" or "exited with code 3", for the supervisor's log."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class RestartPolicy:
    """Exponential backoff between restarts, reset once a child has stayed up long enough."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 30.0
    _next: float | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RestartPolicy:
        return cls(
            initial_delay=settings.supervisor_initial_backoff_seconds,
            max_delay=settings.supervisor_max_backoff_seconds,
            stable_after=settings.supervisor_stable_after_seconds,
        )

    def delay_after_exit(self, uptime: float) -> float:
        """Seconds to wait before restarting a child that ran `uptime` seconds and died."""
        if self._next is None or uptime >= self.stable_after:
            self._next = self.initial_delay
        delay = self._next
        self._next = min(self._next * 2, self.max_delay)
        return delay


@dataclass
class Child:
    name: str
    command: list[str]
    policy: RestartPolicy
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


def start(command: list[str], env: dict[str, str], **popen: object) -> subprocess.Popen[bytes]:
    # A process group of its own: a terminal's Ctrl-C reaches only `clustermatch run`, which
    # then stops each child in order, and a SIGKILL of the group leaves no straggler.
    return subprocess.Popen(command, env=env, start_new_session=True, **popen)  # type: ignore[call-overload]


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """SIGTERM each process, wait up to `timeout`, then SIGKILL its whole group.

    SIGTERM goes to the group leader only. Dramatiq's main process forwards it to its worker
    processes; signalling the whole group too made each worker process get it twice, and
    dramatiq reads a second SIGTERM as "kill now" ("Stopping worker process..." then "Killing
    worker process..." 1 ms later), so the shutdown timeout was never used.
    """
    for process in processes:
        if process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("pid %s did not stop within %.0f s: killing it", process.pid, timeout)
            signal_group(process, signal.SIGKILL)
            process.wait(10)
        # Whatever the leader left in its group (a forked child) goes with it.
        signal_group(process, signal.SIGKILL)


class Supervisor:
    """Keeps every child running: one that exits is restarted after its policy's delay."""

    def __init__(
        self,
        children: list[tuple[str, list[str]] | tuple[str, list[str], dict[str, str]]],
        env: dict[str, str],
        *,
        policy: Callable[[], RestartPolicy] = RestartPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.env = env
        self.clock = clock
        # A child may bring an environment of its own (the API's metrics directory).
        self.children = [Child(c[0], c[1], policy(), c[2] if len(c) > 2 else None) for c in children]

    def start(self) -> None:
        for child in self.children:
            self._launch(child)

    def _launch(self, child: Child) -> None:
        child.process = start(child.command, self.env if child.env is None else child.env)
        child.started_at = self.clock()
        child.restart_at = None
        log.info("started %s (pid %s)", child.name, child.process.pid)

    def poll(self) -> None:
        """Notice children that exited and restart those whose delay has passed."""
        now = self.clock()
        for child in self.children:
            process = child.process
            if child.restart_at is None and process is not None and process.poll() is not None:
                # Dramatiq's main exits when one of its forked processes dies: clear the group.
                signal_group(process, signal.SIGKILL)
                uptime = now - child.started_at
                delay = child.policy.delay_after_exit(uptime)
                child.restart_at = now + delay
                log.warning(
                    "%s (pid %s) %s after %.1f s up; restarting in %.1f s",
                    child.name,
                    process.pid,
                    describe_exit(process.returncode),
                    uptime,
                    delay,
                )
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._launch(child)

    def run_until_stopped(self, interval: float = 0.2) -> None:
        """Supervise until KeyboardInterrupt (the caller turns SIGINT/SIGTERM into one)."""
        while True:
            self.poll()
            time.sleep(interval)

    def stop(self, timeout: float) -> None:
        stop_all([c.process for c in self.children if c.process is not None], timeout=timeout)
