"""A `clustermatch run` stack for the benchmarks: own data dir, own port, embedded defaults.

Each bench that needs the product running starts one with `BenchStack(...)` (a context
manager): a fresh data dir, the embedded Redis and SQLite of `clustermatch run`, the demo
loaded, auto-delivery on (suggestions go straight to the parties, no facilitator), daily
budgets out of the way, and no rate limit on the many accounts a bench registers. Everything
else is the product's default.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Away from the product's 8000 and the test suite's random ports.
DEFAULT_PORT = 8701

# What a bench stack changes from the defaults, and why.
BENCH_ENV = {
    # Auto-delivery on: time the machine, not a facilitator.
    "CLUSTERMATCH_REVIEW_AUTO_DELIVER_ABOVE": "0",
    # No daily budget paces the suggestions: every one goes out at once.
    "CLUSTERMATCH_MATCH_DAILY_BUDGET_NEEDS": "100000000",
    "CLUSTERMATCH_MATCH_DAILY_BUDGET_OFFERS": "100000000",
    # Many organisations register from 127.0.0.1.
    "CLUSTERMATCH_RATE_LIMIT_ENABLED": "false",
    # Other stacks on this machine may hold the metrics port.
    "CLUSTERMATCH_WORKER_METRICS_PORT": "0",
}

_counter = itertools.count()


class BenchStack:
    """`clustermatch run` in a subprocess; stopped (SIGTERM to its group) on exit."""

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        data_dir: Path | None = None,
        demo: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.owns_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="clustermatch-bench-"))
        self.demo = demo
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            **BENCH_ENV,
            "CLUSTERMATCH_DATA_DIR": str(self.data_dir),
            "CLUSTERMATCH_PORT": str(port),
            **(env or {}),
        }
        # Never another installation's Redis or database: the embedded ones under data_dir.
        for name in ("CLUSTERMATCH_REDIS_URL", "CLUSTERMATCH_DATABASE_URL"):
            if not (env or {}).get(name):
                self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BenchStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 180) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "stack.log", "ab")
        command = [sys.executable, "-m", "api.cli", "run", "--demo" if self.demo else "--no-demo"]
        self.process = subprocess.Popen(
            command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the stack exited ({self.process.returncode}); see {self.data_dir}/stack.log"
                )
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer within {timeout:.0f} s")
            time.sleep(0.2)

    def _tree(self) -> tuple[list[tuple[int, str]], dict[int, list[tuple[int, str]]]]:
        """The stack's processes (pid, command line) under `clustermatch run`, and who forked whom."""
        if self.process is None:
            return [], {}
        out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True, text=True).stdout
        rows = [line.split(None, 2) for line in out.splitlines() if line.strip()]
        children: dict[int, list[tuple[int, str]]] = {}
        for pid, ppid, args in (r for r in rows if len(r) == 3):
            children.setdefault(int(ppid), []).append((int(pid), args))

        def descendants(pid: int) -> list[tuple[int, str]]:
            found = []
            for child, args in children.get(pid, []):
                found.append((child, args))
                found += descendants(child)
            return found

        return descendants(self.process.pid), children

    def worker_pids(self) -> list[int]:
        """The dramatiq worker processes (the forked children that hold the model)."""
        tree, children = self._tree()
        # dramatiq's main process forks the worker processes: those run `workers.main` too.
        dramatiq = [(pid, args) for pid, args in tree if "dramatiq" in args and "workers.main" in args]
        parents = {pid for pid, _ in dramatiq}
        leaves = [pid for pid, _ in dramatiq if not any(c in parents for c, _ in children.get(pid, []))]
        return leaves

    def api_pids(self) -> list[int]:
        """The API's processes: uvicorn and what it spawned (its workers when it runs several, and
        multiprocessing's resource tracker)."""
        tree, children = self._tree()
        masters = [pid for pid, args in tree if "uvicorn" in args and "api.http.app" in args]
        return masters + [child for pid in masters for child, _ in children.get(pid, [])]

    def api_processes(self) -> int:
        """How many processes serve requests: uvicorn itself, or the workers it spawned."""
        tree, children = self._tree()
        masters = [pid for pid, args in tree if "uvicorn" in args and "api.http.app" in args]
        workers = [c for pid in masters for c, args in children.get(pid, []) if "spawn_main" in args]
        return len(workers) or len(masters)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None
        if self.owns_dir and not os.environ.get("CLUSTERMATCH_BENCH_KEEP"):
            shutil.rmtree(self.data_dir, ignore_errors=True)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (Linux /proc; a gone one counts 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def wait_quiet(*, timeout: float = 300.0, busy_below: float = 0.15, interval: float = 1.0) -> float:
    """Wait until this machine's CPUs, all processes together, are busy less than `busy_below`
    of one core over `interval` (Linux /proc/stat); returns the seconds waited.

    A stack keeps working after a benchmark has its answer (a bulk import leaves deliveries and
    consortium proposals queued): an encoder timed meanwhile would run slower and flatter every
    ratio measured against it. Gives up after `timeout` (the figures then say so themselves)."""

    def busy_and_total() -> tuple[int, int]:
        # user nice system idle iowait irq softirq steal: another tenant's steal is not ours to wait for
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        )
        busy = user + nice + system + irq + softirq
        return busy, busy + idle + iowait + steal

    started = time.monotonic()
    cores = os.cpu_count() or 1
    before = busy_and_total()
    while time.monotonic() - started < timeout:
        time.sleep(interval)
        after = busy_and_total()
        busy, total = after[0] - before[0], after[1] - before[1]
        before = after
        if total and busy / total * cores < busy_below:
            break
    return round(time.monotonic() - started, 1)


def register(client: httpx.Client, base_url: str, *, org_type: str, clusters: list[str]) -> dict[str, str]:
    """A new organisation with one member; returns its bearer headers."""
    tag = f"{next(_counter)}-{uuid.uuid4().hex[:8]}"
    response = client.post(
        f"{base_url}/api/v1/auth/register",
        json={
            "email": f"bench-{tag}@example.it",
            "password": "a-long-bench-password",
            "organization": {
                "name": f"Bench org {tag}",
                "type": org_type,
                "clusters": clusters,
                "city": "Bologna",
            },
        },
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_matched(
    client: httpx.Client, base_url: str, headers: dict[str, str], posting_id: int, timeout: float = 300
) -> dict[str, Any]:
    """The posting once its pipeline is done (matched, or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        posting = client.get(f"{base_url}/api/v1/postings/{posting_id}", headers=headers).json()
        if posting["pipeline_state"] in ("matched", "failed"):
            return posting
        if time.monotonic() > deadline:
            raise RuntimeError(f"posting {posting_id} not matched within {timeout:.0f} s")
        time.sleep(0.05)
