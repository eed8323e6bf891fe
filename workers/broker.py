"""The Redis broker and the ordered middleware list that states the retry and time policy."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from api.core.jobs import RingOnEnqueue
from api.core.redis_server import redis_url
from api.core.settings import Settings
from api.operations.deadletters import FailureRecorder
from api.operations.logs import MessageLogContext
from api.operations.metrics import WorkerMetrics
from workers.wakeup import WakeableRedisBroker

# The retry and time-limit policy of every actor, in one table (times in ms). Each actor
# declares itself with `**actor_policy(name)`: one with no line here fails at import, so none
# runs on Dramatiq's defaults (20 retries). Retries back off from min_backoff to max_backoff;
# after max_retries the message is dead-lettered (`clustermatch jobs failed` lists it).
ACTOR_POLICIES: dict[str, dict[str, int]] = {
    # Embedding and matching are quick; a message that takes minutes is stuck, not busy.
    "postings.embed": dict(max_retries=3, min_backoff=1000, max_backoff=15_000, time_limit=120_000),
    "matching.match_posting": dict(max_retries=3, min_backoff=1000, max_backoff=15_000, time_limit=120_000),
    # One notification on one channel (live, e-mail). SMTP servers come back after minutes:
    # back off up to 5 minutes; past the retries the reconciler re-enqueues the delivery until
    # CLUSTERMATCH_DELIVERY_MAX_ATTEMPTS. Time limits stay below the delivery lease (150 s).
    "notifications.deliver": dict(max_retries=5, min_backoff=2000, max_backoff=300_000, time_limit=60_000),
    # One user's digest (daily, or a facilitator's grouped reviews).
    "notifications.send_digest": dict(
        max_retries=5, min_backoff=5000, max_backoff=300_000, time_limit=120_000
    ),
    # Funding calls (workers/call_actors.py): as quick as the posting pipeline's steps.
    "calls.embed": dict(max_retries=3, min_backoff=1000, max_backoff=15_000, time_limit=120_000),
    "calls.match": dict(max_retries=3, min_backoff=1000, max_backoff=15_000, time_limit=120_000),
    "calls.match_posting": dict(max_retries=3, min_backoff=1000, max_backoff=15_000, time_limit=120_000),
    "calls.propose_consortia": dict(max_retries=3, min_backoff=1000, max_backoff=15_000, time_limit=120_000),
    # A password-reset link; each retry mails a fresh link (the earlier one stops working).
    "auth.send_password_reset": dict(max_retries=3, min_backoff=2000, max_backoff=60_000, time_limit=60_000),
    # An erased organisation's mails in the local outbox (a scan of a folder).
    "mail.forget_recipients": dict(max_retries=3, min_backoff=2000, max_backoff=60_000, time_limit=60_000),
}


# The order in which a worker runs the messages it has fetched from all its queues (lower
# first; the others 0). A posting just embedded is matched before the next one is embedded,
# and during a bulk import the deliveries wait for the pipeline instead of taking its CPU:
# they run as soon as no pipeline step is waiting (notifications are asynchronous anyway).
ACTOR_PRIORITIES: dict[str, int] = {
    "matching.match_posting": 0,
    "postings.embed": 10,
    "notifications.deliver": 50,
    "notifications.send_digest": 50,
}


def actor_policy(actor_name: str) -> dict[str, int]:
    try:
        return {**ACTOR_POLICIES[actor_name], "priority": ACTOR_PRIORITIES.get(actor_name, 0)}
    except KeyError:
        raise KeyError(f"actor {actor_name!r} has no line in workers.broker.ACTOR_POLICIES") from None


class IdlePolling(dramatiq.Middleware):
    """Sets how long an idle consumer may wait between polls of its queue.

    A consumer wakes as soon as a message is enqueued (workers/wakeup.py); this is only the
    fallback for a ring that was lost. Dramatiq's default (1 s, not settable from its CLI) would
    make that fallback slow; consumers are created right after this hook, so they pick it up.
    """

    def __init__(self, poll_ms: int) -> None:
        self.poll_ms = poll_ms

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        worker.worker_timeout = self.poll_ms


MAINTENANCE_CHANCE = 100_000  # per million broker commands (see make_broker)


def make_broker(
    settings: Settings, *, extra_middleware: list[dramatiq.Middleware] | None = None
) -> WakeableRedisBroker:
    middleware = [
        # First, so its after-hooks run last: every log line of a message carries its id and
        # the id of the request that caused it.
        MessageLogContext(),
        # Before Retries, so its after-hook sees whether a failure was the last attempt.
        WorkerMetrics(),
        # Drop messages older than a day: the reconciler re-creates whatever is still needed.
        AgeLimit(max_age=24 * 3600 * 1000),
        # No message may hold a thread forever; ACTOR_POLICIES sets each actor's own limit.
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        # Each actor's retries come from ACTOR_POLICIES; these values only back them up.
        Retries(max_retries=3, min_backoff=1000, max_backoff=30_000),
        # Keeps the final error of a dead-lettered message (`clustermatch jobs failed`).
        FailureRecorder(),
        CurrentMessage(),
        IdlePolling(settings.worker_idle_poll_ms),
        # Wakes idle consumers (here and in every other worker) as soon as a job is enqueued.
        RingOnEnqueue(),
        *(extra_middleware or []),
    ]
    return WakeableRedisBroker(
        url=redis_url(settings),
        middleware=middleware,
        heartbeat_timeout=settings.worker_heartbeat_timeout_ms,
        # The messages a dead worker held go back to their queue at a queue's "maintenance", which
        # a broker command triggers by chance: Dramatiq's 1 in 1,000 took minutes to come with idle
        # consumers waiting on the ring (found by killing a worker). 1 in 10 hands them over within
        # about a second of the heartbeat timeout; when no worker is dead it costs one ZRANGEBYSCORE.
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def install_broker(settings: Settings, **kwargs) -> WakeableRedisBroker:  # type: ignore[no-untyped-def]
    """Set the global broker. Must run before any actor module is imported."""
    broker = make_broker(settings, **kwargs)
    dramatiq.set_broker(broker)
    return broker
