"""`clustermatch doctor`: gather facts about a running platform, then judge them.

`gather_facts` does all the I/O (database, Redis, the model's files) and never raises: what
cannot be read is a fact too. `diagnose` is a pure function from facts to findings, each
`ok`, `warn` or `fail`; the command exits non-zero when any finding fails, so it can serve as
a health check. Warnings (e.g. a posting a little late) need a look, not a page.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import redis
from sqlalchemy import and_, func, inspect, select, text
from sqlalchemy.engine import Engine

from api.core.settings import Settings
from api.models import Embedding, Posting
from api.models.base import utcnow
from api.models.enums import PipelineState, PostingStatus
from api.operations.deadletters import NAMESPACE, SUBJECTS, count_dead_letters, list_dead_letters

Level = Literal["ok", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "fail")

# A queue this deep means the workers do not keep up.
QUEUE_DEPTH_WARN = 1000


@dataclass(frozen=True)
class Stuck:
    count: int
    oldest_seconds: float


@dataclass
class Facts:
    database_error: str | None = None
    redis_error: str | None = None
    model_error: str | None = None
    model_location: str | None = None
    encoder: str | None = None  # which backend runs the pivot encoder (api.core.encoders)
    # Per posting kind: open postings; of those, the ones past embedding without an active
    # vector of the current model (missing from every replica); active vectors of closed ones.
    open_postings: dict[str, int] = field(default_factory=dict)
    indexed: dict[str, int] = field(default_factory=dict)
    missing_from_index: dict[str, int] = field(default_factory=dict)
    closed_still_indexed: dict[str, int] = field(default_factory=dict)
    index_generation: int | None = None
    # Per pipeline state before "matched": open postings in it and the oldest one's age.
    pipeline: dict[str, Stuck] = field(default_factory=dict)
    failed_postings: int = 0
    # Per delivery status: rows and the oldest one's age (None: no deliveries table).
    deliveries: dict[str, Stuck] | None = None
    queues: dict[str, int] = field(default_factory=dict)
    dead_letters: int | None = None
    dead_letters_settled: int = 0  # of those, about postings matched since (the reconciler's work)
    # Seconds since each live worker process's last heartbeat ("host:pid"); a dead one's key
    # expires, so an empty dict means no worker is up.
    heartbeats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    stale_seconds: float  # a posting or delivery older than this in a transient state is late
    heartbeat_seconds: float  # a worker silent longer than this is gone

    @property
    def stuck_seconds(self) -> float:
        # Past this the reconciler has had ample passes: the posting is stuck, not late.
        return 10 * self.stale_seconds


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    detail: str


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def diagnose(facts: Facts, limits: Thresholds) -> list[Finding]:
    """Judge the gathered facts; pure, so each rule is tested without a platform."""
    out: list[Finding] = []

    def reachability(check: str, error: str | None, ok: str) -> None:
        out.append(Finding(check, "fail", error) if error else Finding(check, "ok", ok))

    reachability("database", facts.database_error, "reachable")
    reachability("redis", facts.redis_error, "reachable")
    encoder = f"; encoder: {facts.encoder}" if facts.encoder else ""
    reachability("model", facts.model_error, f"loadable from {facts.model_location}{encoder}")

    if facts.database_error is None:
        for kind in sorted(facts.open_postings):
            missing = facts.missing_from_index.get(kind, 0)
            closed = facts.closed_still_indexed.get(kind, 0)
            detail = (
                f"{facts.open_postings[kind]} open, {facts.indexed.get(kind, 0)} with an active vector"
                f" (index generation {facts.index_generation if facts.index_generation is not None else '-'})"
            )
            if missing:
                out.append(
                    Finding(
                        f"index.{kind}",
                        "fail",
                        f"{detail}; {missing} past embedding have no vector of the current model:"
                        " run `clustermatch reindex`",
                    )
                )
            elif closed:
                out.append(
                    Finding(f"index.{kind}", "warn", f"{detail}; {closed} closed still searchable: reindex")
                )
            else:
                out.append(Finding(f"index.{kind}", "ok", detail))

        for state, stuck in sorted(facts.pipeline.items()):
            check = f"pipeline.{state}"
            if stuck.count == 0:
                out.append(Finding(check, "ok", "none waiting"))
                continue
            detail = f"{stuck.count} open posting(s), the oldest for {_age(stuck.oldest_seconds)}"
            if stuck.oldest_seconds > limits.stuck_seconds:
                out.append(Finding(check, "fail", f"{detail}: stuck (is a worker running?)"))
            elif stuck.oldest_seconds > limits.stale_seconds:
                out.append(Finding(check, "warn", f"{detail}: late, the reconciler re-enqueues it"))
            else:
                out.append(Finding(check, "ok", detail))
        if facts.failed_postings:
            out.append(
                Finding(
                    "pipeline.failed",
                    "fail",
                    f"{facts.failed_postings} open posting(s) gave up (pipeline_error says why;"
                    " an edit or `clustermatch reindex` tries again)",
                )
            )
        else:
            out.append(Finding("pipeline.failed", "ok", "none"))

        if facts.deliveries is not None:
            failed = facts.deliveries.get("failed")
            if failed and failed.count:
                out.append(Finding("deliveries.failed", "fail", f"{failed.count} delivery(ies) gave up"))
            else:
                out.append(Finding("deliveries.failed", "ok", "none"))
            pending = facts.deliveries.get("pending")
            if pending and pending.count and pending.oldest_seconds > limits.stale_seconds:
                level: Level = "fail" if pending.oldest_seconds > limits.stuck_seconds else "warn"
                out.append(
                    Finding(
                        "deliveries.pending",
                        level,
                        f"{pending.count} pending, the oldest for {_age(pending.oldest_seconds)}",
                    )
                )
            else:
                count = pending.count if pending else 0
                out.append(Finding("deliveries.pending", "ok", f"{count} pending"))

    if facts.redis_error is None:
        for queue, depth in sorted(facts.queues.items()):
            level = "warn" if depth >= QUEUE_DEPTH_WARN else "ok"
            out.append(Finding(f"queue.{queue}", level, f"{depth} message(s) waiting"))
        if facts.dead_letters and facts.dead_letters > facts.dead_letters_settled:
            out.append(
                Finding(
                    "dead_letters",
                    "fail",
                    f"{facts.dead_letters} message(s) exhausted their retries"
                    f" ({facts.dead_letters_settled} since settled):"
                    " `clustermatch jobs failed`, then `clustermatch jobs retry`",
                )
            )
        elif facts.dead_letters:
            out.append(
                Finding(
                    "dead_letters",
                    "warn",
                    f"{facts.dead_letters} message(s) exhausted their retries, all about postings matched"
                    " since: `clustermatch jobs failed` tells why (they expire after 7 days)",
                )
            )
        else:
            out.append(Finding("dead_letters", "ok", "none"))
        if not facts.heartbeats:
            out.append(Finding("workers", "warn", "no worker process has a live heartbeat"))
        for worker, silent in sorted(facts.heartbeats.items()):
            if silent > limits.heartbeat_seconds:
                out.append(Finding(f"worker.{worker}", "warn", f"no heartbeat for {_age(silent)}"))
            else:
                out.append(Finding(f"worker.{worker}", "ok", f"heartbeat {_age(silent)} ago"))
    return out


def worst(findings: list[Finding]) -> Level:
    return max((f.level for f in findings), key=LEVELS.index, default="ok")


def as_json(findings: list[Finding], facts: Facts) -> dict[str, Any]:
    return {
        "status": worst(findings),
        "findings": [asdict(f) for f in findings],
        "facts": asdict(facts),
    }


# --- gathering (I/O) ------------------------------------------------------------------------


def gather_facts(
    settings: Settings, engine: Engine, client: redis.Redis, *, now: datetime | None = None
) -> Facts:
    from api.matching.indexing import GENERATION_KEY
    from embeddings.representation import index_model_id

    now = now or utcnow()
    facts = Facts()
    _check_model(settings, facts)
    try:
        _gather_database(engine, facts, model=index_model_id(settings.embedding_model), now=now)
    except Exception as exc:
        facts.database_error = f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    try:
        client.ping()
        generation = client.get(GENERATION_KEY)
        facts.index_generation = int(generation) if generation is not None else 0
        facts.queues = queue_depths(client)
        facts.dead_letters = count_dead_letters(client)
        if facts.dead_letters and facts.database_error is None:
            facts.dead_letters_settled = _settled_dead_letters(engine, client)
        facts.heartbeats = _heartbeats(client)
    except (redis.RedisError, OSError) as exc:
        facts.redis_error = f"unreachable: {type(exc).__name__}: {exc}"
    return facts


def _check_model(settings: Settings, facts: Facts) -> None:
    from embeddings.encoder import resolve_model_location

    try:
        location = resolve_model_location(settings.embedding_model)
    except Exception as exc:
        facts.model_error = f"missing: {exc}"
        return
    facts.model_location = location
    from api.core.encoders import describe_backend

    facts.encoder = describe_backend(settings)
    path = Path(location)
    if path.exists() and not (path / "config.json").exists():
        facts.model_error = f"missing: no model files in {location}"


def _seconds(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:
        then = then.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - then).total_seconds())


def _settled_dead_letters(engine: Engine, client: redis.Redis) -> int:
    """Dead letters about a posting that has been matched (at that revision or later) or is gone
    since: the outage passed and the reconciler did the work again."""
    letters = [
        letter
        for letter in list_dead_letters(client)
        if SUBJECTS.get(letter.actor) == "posting" and len(letter.args) >= 2
    ]
    if not letters:
        return 0
    with engine.connect() as connection:
        rows = connection.execute(
            select(Posting.id, Posting.revision, Posting.pipeline_state).where(
                Posting.id.in_({int(letter.args[0]) for letter in letters})
            )
        ).all()
    done = {row.id: row.revision for row in rows if row.pipeline_state == PipelineState.matched.value}
    present = {row.id for row in rows}
    return sum(
        1
        for letter in letters
        if int(letter.args[0]) not in present or done.get(int(letter.args[0]), -1) >= int(letter.args[1])
    )


def _gather_database(engine: Engine, facts: Facts, *, model: str, now: datetime) -> None:
    is_open = Posting.status == PostingStatus.open.value
    current = and_(Embedding.posting_id == Posting.id, Embedding.active.is_(True), Embedding.model == model)
    with engine.connect() as connection:
        facts.open_postings = dict(
            connection.execute(select(Posting.kind, func.count()).where(is_open).group_by(Posting.kind)).all()
        )
        for kind in ("need", "offer"):
            facts.open_postings.setdefault(kind, 0)
        facts.indexed = dict(
            connection.execute(
                select(Posting.kind, func.count())
                .join(Embedding, current)
                .where(is_open)
                .group_by(Posting.kind)
            ).all()
        )
        past_embedding = Posting.pipeline_state.in_(
            [PipelineState.embedded.value, PipelineState.matched.value]
        )
        facts.missing_from_index = dict(
            connection.execute(
                select(Posting.kind, func.count())
                .outerjoin(Embedding, current)
                .where(is_open, past_embedding, Embedding.posting_id.is_(None))
                .group_by(Posting.kind)
            ).all()
        )
        facts.closed_still_indexed = dict(
            connection.execute(
                select(Posting.kind, func.count())
                .join(Embedding, and_(Embedding.posting_id == Posting.id, Embedding.active.is_(True)))
                .where(Posting.status == PostingStatus.closed.value)
                .group_by(Posting.kind)
            ).all()
        )
        rows = connection.execute(
            select(Posting.pipeline_state, func.count(), func.min(Posting.pipeline_updated_at))
            .where(is_open)
            .group_by(Posting.pipeline_state)
        ).all()
        by_state = {state: (count, oldest) for state, count, oldest in rows}
        for state in (PipelineState.pending.value, PipelineState.embedded.value):
            count, oldest = by_state.get(state, (0, None))
            facts.pipeline[state] = Stuck(count, _seconds(now, _as_datetime(oldest)))
        facts.failed_postings = by_state.get(PipelineState.failed.value, (0, None))[0]

        if inspect(connection).has_table("deliveries"):
            rows = connection.execute(
                text("SELECT status, COUNT(*), MIN(updated_at) FROM deliveries GROUP BY status")
            ).all()
            facts.deliveries = {
                status: Stuck(count, _seconds(now, _as_datetime(oldest))) for status, count, oldest in rows
            }


def _as_datetime(value: Any) -> datetime | None:
    # Raw SQL on SQLite returns text; the ORM type returns aware datetimes.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def job_queues() -> list[str]:
    """Every queue a job of ours goes to (read from the JobSpec constants in api.core.jobs)."""
    import api.core.jobs as jobs

    return sorted({spec.queue_name for spec in vars(jobs).values() if isinstance(spec, jobs.JobSpec)})


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages not yet done per queue: waiting, running, or delayed (a retry in its backoff).

    Dramatiq keeps every unacknowledged message's body in ``<queue>.msgs`` (and delayed ones
    in ``<queue>.DQ.msgs``) until it is acked, so the two hashes count them all.
    """
    depths = {}
    for queue in job_queues():
        pipe = client.pipeline()
        pipe.hlen(f"{NAMESPACE}:{queue}.msgs")
        pipe.hlen(f"{NAMESPACE}:{queue}.DQ.msgs")
        ready, delayed = pipe.execute()
        depths[queue] = int(ready) + int(delayed)
    return depths


def ready_messages(client: redis.Redis) -> dict[str, int]:
    """Messages waiting for a worker per queue: ready, or delayed (a retry in its backoff).

    Unlike `queue_depths` this leaves out messages held by a worker, live or dead: a dead
    worker's messages come back only when Redis hands them over, which the reconciler must
    not wait for.
    """
    pipe = client.pipeline()
    queues = job_queues()
    for queue in queues:
        pipe.llen(f"{NAMESPACE}:{queue}")
        pipe.llen(f"{NAMESPACE}:{queue}.DQ")
    counts = pipe.execute()
    return {queue: int(counts[2 * i]) + int(counts[2 * i + 1]) for i, queue in enumerate(queues)}


def _heartbeats(client: redis.Redis) -> dict[str, float]:
    """Seconds since each live worker process's last heartbeat (workers/heartbeat.py)."""
    from api.cli.processes import HEARTBEAT_KEY_PREFIX

    beats = {}
    now = time.time()
    for key in client.scan_iter(match=f"{HEARTBEAT_KEY_PREFIX}*", count=1000):
        name = (key.decode() if isinstance(key, bytes) else key)[len(HEARTBEAT_KEY_PREFIX) :]
        try:
            beats[name] = max(0.0, now - float(client.get(key)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue  # expired between the scan and the read
    return beats


def thresholds_for(settings: Settings) -> Thresholds:
    return Thresholds(
        stale_seconds=settings.reconcile_stale_seconds,
        heartbeat_seconds=3 * getattr(settings, "worker_heartbeat_interval_seconds", 5.0),
    )
