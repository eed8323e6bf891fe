"""Supervision of `clustermatch run`'s children: backoff policy, restarts, clean stop, compose file."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import redis
import yaml
from click.testing import CliRunner

from api.cli import main
from api.cli.processes import (
    RestartPolicy,
    Supervisor,
    alive_workers,
    api_command,
    describe_exit,
    heartbeat_key,
    stop_all,
)
from api.core.settings import Settings, override_settings
from workers.heartbeat import Heartbeat

ROOT = Path(__file__).resolve().parents[2]


def test_restart_delays_double_up_to_the_cap_and_start_over_after_a_stable_run():
    policy = RestartPolicy(initial_delay=0.5, max_delay=4, stable_after=30)
    assert [policy.delay_after_exit(uptime=1) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    assert policy.delay_after_exit(uptime=31) == 0.5  # it had been healthy: a fresh crash
    assert policy.delay_after_exit(uptime=2) == 1


def test_exits_are_described_by_signal_or_code():
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(0) == "exited with code 0"


def _sleeper() -> list[str]:
    return [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_killed_child_is_restarted_and_its_sibling_keeps_running(caplog):
    supervisor = Supervisor(
        [("worker-1", _sleeper()), ("api", _sleeper())],
        {},
        policy=lambda: RestartPolicy(initial_delay=0.2, max_delay=1, stable_after=30),
    )
    supervisor.start()
    try:
        worker, api = supervisor.children
        first_pid, api_pid = worker.process.pid, api.process.pid
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(5)
        deadline = time.monotonic() + 10
        while worker.process.pid == first_pid and time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.05)
        assert worker.process.pid != first_pid and worker.process.poll() is None
        assert worker.restarts == 1
        assert api.process.pid == api_pid and api.process.poll() is None  # never touched
        assert "worker-1" in caplog.text and "killed by SIGKILL" in caplog.text
    finally:
        supervisor.stop(timeout=5)
    assert all(child.process.poll() is not None for child in supervisor.children)


def test_stop_signals_the_leader_once_so_its_forwarded_sigterm_is_the_only_one(tmp_path):
    # Like dramatiq: a main process forwards SIGTERM to a worker in its process group, and the
    # worker reads a second SIGTERM as "die now". Signalling the whole group would send two.
    marker = tmp_path / "signals"
    worker = (
        "import signal, sys, time\n"
        "seen = []\n"
        f"signal.signal(signal.SIGTERM, lambda *_: (seen.append(1), open({str(marker)!r}, 'a').write('T')))\n"
        "while not seen: time.sleep(0.01)\n"
        "time.sleep(0.5)\n"  # finishing the current message
        "sys.exit(0)\n"
    )
    main = (
        "import signal, subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
        "signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))\n"
        "while child.poll() is None: time.sleep(0.01)\n"
        "sys.exit(child.returncode)\n"
    )
    supervisor = Supervisor([("worker-1", [sys.executable, "-c", main])], {})
    supervisor.start()
    time.sleep(1)
    started = time.monotonic()
    supervisor.stop(timeout=5)
    assert marker.read_text() == "T"  # one SIGTERM reached the worker
    assert supervisor.children[0].process.returncode == 0  # it finished, it was not killed
    assert time.monotonic() - started < 4


def test_stop_kills_what_ignores_sigterm_after_the_timeout():
    ignoring = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(15, signal.SIG_IGN); time.sleep(60)",
    ]
    supervisor = Supervisor([("stubborn", ignoring)], {})
    supervisor.start()
    time.sleep(0.3)
    started = time.monotonic()
    stop_all([supervisor.children[0].process], timeout=1)
    assert supervisor.children[0].process.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 4


def test_the_worker_heartbeat_lives_while_the_process_runs_and_goes_on_shutdown(redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    override_settings(Settings(environment="test", redis_url=redis_url, data_dir=tmp_path))
    heartbeat = Heartbeat(redis_url, interval_seconds=0.2)
    try:
        assert CliRunner().invoke(main, ["worker-health"]).exit_code == 1  # nothing booted yet
        heartbeat.after_worker_boot(None, None)  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while not alive_workers(client) and time.monotonic() < deadline:
            time.sleep(0.05)
        key = heartbeat_key(socket.gethostname(), os.getpid())
        assert alive_workers(client, hostname=socket.gethostname()) == [key]
        assert 0 < client.pttl(key) <= 600  # expires by itself if the process dies
        health = CliRunner().invoke(main, ["worker-health"])
        assert health.exit_code == 0 and "1 worker process(es) alive" in health.output
    finally:
        heartbeat.before_worker_shutdown(None, None)  # type: ignore[arg-type]
        if heartbeat._thread is not None:
            heartbeat._thread.join(5)
        override_settings(None)
    assert alive_workers(client) == []
    client.close()


def test_compose_restarts_and_health_checks_the_api_and_the_worker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert api["restart"] == worker["restart"] == "unless-stopped"
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert worker["healthcheck"]["test"] == ["CMD", "clustermatch", "worker-health"]


def test_the_api_believes_no_forwarded_header_unless_told_which_proxies():
    # uvicorn's default trusts X-Forwarded-For from 127.0.0.1: a local process could pick the
    # address the rate limits and the audit log see.
    plain = api_command(Settings(environment="test"))
    assert "--no-proxy-headers" in plain and "--forwarded-allow-ips" not in plain
    behind = api_command(Settings(environment="test", forwarded_allow_ips="10.0.0.5"))
    assert behind[behind.index("--forwarded-allow-ips") + 1] == "10.0.0.5"
