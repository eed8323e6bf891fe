"""`clustermatch run` as a member's machine runs it, with a Redis of its own the tests can stop.

Helpers for the fault and supervision tests: the supervised command, its worker processes (found
through /proc), a redis-server on a free port, a database lock, the ingest postings, and what the
database and the outbox hold afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, inspect, text

from api.cli.processes import alive_workers
from tests.e2e.expectations import DEMO, register_demo_members
from tests.e2e.stack import free_port
from tests.helpers import register, wait_for
from tests.samples import (
    MUSEUM_NEED,
    VIBRATION_NEEDS,
    VIBRATION_OFFER,
    VISION_NEED,
    VISION_OFFER,
    VISION_OFFER_EN,
    WINE_OFFER,
)

ROOT = Path(__file__).resolve().parents[2]
CLUSTERMATCH = str(Path(sys.executable).parent / "clustermatch")


class OwnRedis:
    """A throwaway redis-server (no persistence) that a test may stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._answers, timeout=15, interval=0.05, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # a crash: no save, queues gone
            self.process.wait(10)


class SupervisedRun:
    """`clustermatch run --no-demo` in a process group, on a SQLite file and an external Redis."""

    def __init__(self, workdir: Path, redis_url: str, **overrides: Any) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_path = workdir / "clustermatch.sqlite3"
        self.database_url = f"sqlite:///{self.database_path}"
        self.redis_url = redis_url
        values = {
            "environment": "test",
            "database_url": self.database_url,
            "redis_url": redis_url,
            "data_dir": str(workdir),
            "secret_key": "e2e-secret-key-that-is-long-enough-for-hs256",
            "port": self.port,
            "reconcile_interval_seconds": 1,
            "reconcile_stale_seconds": 5,
            # A killed worker's messages come back after 3 s instead of a minute.
            "worker_heartbeat_timeout_ms": 3000,
            "worker_heartbeat_interval_seconds": 1,
            "supervisor_initial_backoff_seconds": 0.2,
            "review_auto_deliver_above": 0,
            "match_max_per_posting": 100,
            # Dozens of registrations from one address in a few seconds.
            "rate_limit_enabled": "false",
            "log_level": "INFO",
            **overrides,
        }
        self.worker_processes = int(values.get("worker_processes", 1))
        self.env = {**os.environ, **{f"CLUSTERMATCH_{k.upper()}": str(v) for k, v in values.items()}}
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self, *, timeout: float = 180) -> None:
        """Start and wait until the API answers and every worker process has booted."""
        self.runs += 1
        log = open(self.workdir / f"run-{self.runs}.log", "ab")
        self.process = subprocess.Popen(
            [CLUSTERMATCH, "run", "--no-demo"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.healthy, timeout=timeout, what="the API of clustermatch run")
        self.wait_workers_booted(timeout=timeout)

    def wait_workers_booted(self, *, timeout: float) -> None:
        wait_for(
            lambda: len(self.worker_pids()) == self.worker_processes,
            timeout=timeout,
            interval=0.2,
            what=f"{self.worker_processes} worker process(es) to boot",
        )

    def worker_pids(self) -> list[int]:
        """The booted dramatiq worker processes of this run: alive, with a fresh heartbeat."""
        if self.process is None:
            return []
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=1)
            try:
                keys = alive_workers(client, hostname=socket.gethostname())
            finally:
                client.close()
        except redis.RedisError:
            return []
        beating = {int(key.rsplit(":", 1)[1]) for key in keys}
        return sorted(beating & _descendants(self.process.pid))

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60)

    def kill_workers(self) -> list[int]:
        pids = self.worker_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def terminate(self) -> float:
        """SIGTERM `clustermatch run` (as systemd or docker would) and return how long it took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.process.pid)
        self.process = None

    def logs(self, tail: int = 6000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )


def _process_tree() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree = _process_tree()
    todo, found = [pid], set()
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(tree.get(current, []))
    return found - {pid}


def _kill_group(pid: int) -> None:
    """Whatever is left of the run and its children (each child has a group of its own)."""
    for member in [pid, *_descendants(pid)]:
        for kill in (lambda p: os.killpg(p, signal.SIGKILL), lambda p: os.kill(p, signal.SIGKILL)):
            try:
                kill(member)
            except (ProcessLookupError, PermissionError):
                pass


@contextmanager
def database_locked(path: Path):  # type: ignore[no-untyped-def]
    """Hold SQLite's write lock from another connection, as a long transaction would."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


# --- the ingest ---------------------------------------------------------------------------------


@dataclass
class Ingest:
    """Postings to send (body, member key), in order; members are registered per run."""

    bodies: list[tuple[dict[str, Any], str]]
    eval_orgs: dict[str, tuple[str, str]] = field(default_factory=dict)

    def register_members(self, client: httpx.Client) -> dict[str, dict[str, Any]]:
        members = register_demo_members(client)
        for key, (org_type, area) in self.eval_orgs.items():
            members[key] = register(client, org_type=org_type, clusters=(area,))
        return members


def ingest_postings(extra: int = 24) -> Ingest:
    """The 40 demo postings and `extra` more from tests/samples.py (the repository's own texts:
    the suite needs nothing outside it). The eight vibration needs come twice, from a second
    plant of another company each, so the lab behind the offer is popular, as in the region."""
    fields = ("kind", "title", "description", "keywords", "s3_area", "trl")
    bodies = [({k: p[k] for k in fields if k in p}, p["org"]) for p in DEMO["postings"]]
    vibration = [
        {**VIBRATION_OFFER, "kind": "need", "title": title, "description": text, "keywords": words}
        for title, text, words in VIBRATION_NEEDS
    ]
    samples = [
        VIBRATION_OFFER,
        VISION_OFFER,
        VISION_OFFER_EN,
        WINE_OFFER,
        MUSEUM_NEED,
        VISION_NEED,
        *vibration,
    ]
    samples += [{**need, "title": f"{need['title']} (secondo stabilimento)"} for need in vibration]
    samples += [
        {**VISION_NEED, "title": f"{VISION_NEED['title']} (seconda linea)"},
        {**MUSEUM_NEED, "title": f"{MUSEUM_NEED['title']} (seconda sede)"},
    ]
    orgs: dict[str, tuple[str, str]] = {}
    for n, body in enumerate(samples[:extra]):
        key = f"sample:{n}"
        orgs[key] = ("research_lab" if body["kind"] == "offer" else "company", body["s3_area"])
        bodies.append(({k: body[k] for k in fields if body.get(k) is not None}, key))
    titles = [body["title"] for body, _ in bodies]
    assert len(set(titles)) == len(titles), "the ingest needs distinct titles"
    assert len(bodies) == len(DEMO["postings"]) + extra, "tests/samples.py has too few postings"
    return Ingest(bodies, orgs)


@dataclass
class PostResult:
    posting: dict[str, Any]
    member: dict[str, Any]
    retries_503: int


def post_with_retry(client: httpx.Client, body: dict[str, Any], member: dict[str, Any]) -> PostResult:
    """POST a posting the way a well-behaved client does: on 503 wait Retry-After and try again."""
    retries = 0
    while True:
        response = client.post("/api/v1/postings", json=body, headers=member["headers"])
        if response.status_code == 503 and retries < 20:
            assert "retry-after" in response.headers
            retries += 1
            time.sleep(float(response.headers["retry-after"]))
            continue
        assert response.status_code == 201, (response.status_code, response.text)
        return PostResult(response.json(), member, retries)


def states(client: httpx.Client, results: list[PostResult]) -> list[str]:
    return [
        client.get(f"/api/v1/postings/{r.posting['id']}", headers=r.member["headers"]).json()[
            "pipeline_state"
        ]
        for r in results
    ]


def wait_all_matched(client: httpx.Client, results: list[PostResult], *, timeout: float) -> float:
    started = time.monotonic()
    wait_for(
        lambda: all(state in ("matched", "failed") for state in states(client, results)),
        timeout=timeout,
        interval=0.5,
        what="every posting to leave the pipeline",
    )
    return time.monotonic() - started


class Poller(threading.Thread):
    """Calls /healthz every 50 ms and counts the answers that were not 200."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.ok = 0
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while not self.halt.is_set():
                try:
                    status = client.get("/healthz").status_code
                    if status == 200:
                        self.ok += 1
                    else:
                        self.failures.append(str(status))
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)
                self.halt.wait(0.05)


# --- what the run left behind --------------------------------------------------------------------


def suggestions_by_title(database_url: str) -> dict[tuple[str, str], float]:
    """(need title, offer title) -> score: comparable across runs whose ids differ."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "select n.title as need, o.title as offer, s.score as score from suggestions s "
                "join postings n on n.id = s.need_id join postings o on o.id = s.offer_id"
            )
        ).all()
    engine.dispose()
    pairs = [(r.need, r.offer) for r in rows]
    assert len(pairs) == len(set(pairs)), "a pair was suggested twice"
    return {(r.need, r.offer): float(r.score) for r in rows}


def duplicates(database_url: str, outbox: Path) -> dict[str, int]:
    """How many rows or e-mails exist more than once, per kind (all should be 0)."""
    engine = create_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    queries = {
        "suggestions": "select need_id, offer_id from suggestions",
        "notifications": "select recipient_id, dedupe_key from notifications",
        "postings": "select organisation_id, title from postings",
    }
    if "deliveries" in tables:
        queries["deliveries"] = "select notification_id, channel from deliveries"
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for name, query in queries.items():
            try:
                rows = [tuple(row) for row in connection.execute(text(query))]
            except Exception:
                continue  # a column named otherwise in this schema version
            counts[name] = sum(n - 1 for n in Counter(rows).values() if n > 1)
    engine.dispose()
    ids = [_message_id(path) for path in outbox.glob("*.eml")] if outbox.is_dir() else []
    counts["emails"] = sum(n - 1 for n in Counter(ids).values() if n > 1)
    counts["emails_total"] = len(ids)
    return counts


def wait_deliveries_settled(database_url: str, *, timeout: float) -> int:
    """Wait until no delivery is pending (e-mails go out after the matching); return how many were."""
    engine = create_engine(database_url)
    if "deliveries" not in inspect(engine).get_table_names():
        engine.dispose()
        return 0

    def pending() -> int:
        with engine.connect() as connection:
            return int(
                connection.scalar(text("select count(*) from deliveries where status = 'pending'")) or 0
            )

    try:
        wait_for(lambda: pending() == 0, timeout=timeout, interval=0.5, what="pending deliveries to be sent")
        with engine.connect() as connection:
            return int(connection.scalar(text("select count(*) from deliveries")) or 0)
    finally:
        engine.dispose()


def _message_id(path: Path) -> str:
    for line in path.read_text(errors="replace").splitlines():
        if line.lower().startswith("message-id:"):
            return line.split(":", 1)[1].strip()
        if not line:
            break
    return path.name  # no Message-ID: every file counts as its own


def doctor_exit_code(env: dict[str, str]) -> int | None:
    """`clustermatch doctor`'s exit code, or None where this checkout has no such command."""
    probe = subprocess.run([CLUSTERMATCH, "doctor", "--help"], env=env, capture_output=True, timeout=60)
    if probe.returncode != 0:
        return None
    return subprocess.run([CLUSTERMATCH, "doctor"], env=env, capture_output=True, timeout=120).returncode


def distance_to_the_rule_edge(database_url: str, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """How far each (need title, offer title) pair's score is from flipping the delivery rule.

    On the final index: the smallest gap between the pair's score and the threshold, each side's
    best score minus the margin, or the score across each side's top-k boundary. Lexical weights
    drift by a few hundredths with the order postings arrive in, so pairs this close to an edge
    may fall either way in two runs of the same postings.
    """
    from sqlalchemy.orm import sessionmaker

    from api.core.settings import Settings
    from api.matching.ranking import rank
    from api.matching.replica import IndexReplica
    from api.matching.service import MatchPolicy
    from embeddings.encoder import MultilingualEncoder

    policy = MatchPolicy.from_settings(Settings(environment="test", match_max_per_posting=100))
    calibration = policy.calibration
    engine = create_engine(database_url)
    with sessionmaker(engine)() as session:
        model, multi_model = session.execute(text("select model, multi_model from embeddings limit 1")).one()
        ids = dict(session.execute(text("select title, id from postings")).all())
        replica = IndexReplica(
            model=model,
            dim=384,
            margin_seconds=60,
            multi_model=multi_model,
            multi_dim=MultilingualEncoder.dim,
        )
        replica.sync(session)
    engine.dispose()

    def ranking(posting_id: int) -> list[tuple[int, float]]:
        ranked = rank(replica, replica.probe(posting_id), calibration, candidates=policy.candidates)
        return [(c.posting_id, c.score) for c in ranked]

    distances = {}
    for need_title, offer_title in pairs:
        need, offer = ids[need_title], ids[offer_title]
        gaps = []
        for side, other in ((need, offer), (offer, need)):
            ranked = ranking(side)
            scores = dict(ranked)
            score = scores.get(other, 0.0)
            gaps += [abs(score - calibration.threshold), abs(score - (ranked[0][1] - calibration.margin))]
            k = calibration.top_k
            if len(ranked) > k:
                gaps.append(
                    abs(ranked[k - 1][1] - ranked[k][1]) if other in (ranked[k - 1][0], ranked[k][0]) else 1.0
                )
        distances[(need_title, offer_title)] = round(min(gaps), 4)
    return distances
