"""The Redis broker and the ordered middleware list that states the retry and time policy."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from api.redis_server import redis_url
from api.settings import Settings


class IdlePolling(dramatiq.Middleware):
    """Sets how long an idle consumer may wait between polls of its queue.

    Dramatiq's default (1 s, not settable from its CLI) adds up to a second to every queue a
    posting crosses; consumers are created right after this hook, so they pick it up.
    """

    def __init__(self, poll_ms: int) -> None:
        self.poll_ms = poll_ms

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        worker.worker_timeout = self.poll_ms


def make_broker(
    settings: Settings, *, extra_middleware: list[dramatiq.Middleware] | None = None
) -> RedisBroker:
    middleware = [
        # Drop messages older than a day: the reconciler re-creates whatever is still needed.
        AgeLimit(max_age=24 * 3600 * 1000),
        # No message may hold a thread forever; actors set tighter limits.
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        # Each actor states its own max_retries; this is the default for any that does not.
        Retries(max_retries=3, min_backoff=1000, max_backoff=30_000),
        CurrentMessage(),
        IdlePolling(settings.worker_idle_poll_ms),
        *(extra_middleware or []),
    ]
    return RedisBroker(
        url=redis_url(settings),
        middleware=middleware,
        heartbeat_timeout=settings.worker_heartbeat_timeout_ms,
    )


def install_broker(settings: Settings, **kwargs) -> RedisBroker:  # type: ignore[no-untyped-def]
    """Set the global broker. Must run before any actor module is imported."""
    broker = make_broker(settings, **kwargs)
    dramatiq.set_broker(broker)
    return broker
