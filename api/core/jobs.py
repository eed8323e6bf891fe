"""Background jobs: their names and queues, and a buffer that sends them after the commit.

A service records the jobs its unit of work implies; they reach Redis only once the
transaction has committed (a worker must find what the message talks about) and are dropped
on rollback. If Redis is down at that moment the data is safe in the database and the
pipeline reconciler enqueues the work again later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from api.operations.deadletters import REQUEST_ID_OPTION
from api.operations.logs import current_request_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    actor_name: str
    queue_name: str
    # Sent this long after the commit (the broker's delay queue): the jobs of a burst then find
    # their work done by the first one (see `api.calls.jobs.PROPOSE_CONSORTIA`).
    delay_ms: int = 0


# Separate queues so a backlog of embeddings never delays notifications.
EMBED_POSTING = JobSpec("postings.embed", "embedding")
MATCH_POSTING = JobSpec("matching.match_posting", "matching")
DELIVER_NOTIFICATION = JobSpec("notifications.deliver", "notifications")
SEND_DIGEST = JobSpec("notifications.send_digest", "notifications")
# Account mail (a reset link) shares the mail workers' queue.
SEND_PASSWORD_RESET = JobSpec("auth.send_password_reset", "notifications")
# After an erasure: the mails kept in a local outbox for the erased people go too.
FORGET_RECIPIENTS = JobSpec("mail.forget_recipients", "notifications")


WAKE_CHANNEL_PREFIX = "clustermatch:wake:"


def wake_channel(client: Any, queue_name: str) -> str:
    """The pub/sub channel that tells idle workers a message is waiting on this queue.

    Pub/sub ignores the database number: it is part of the name, so installations sharing one
    Redis server on different databases never wake each other's workers.
    """
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return f"{WAKE_CHANNEL_PREFIX}{db}:{queue_name}"


class RingOnEnqueue(dramatiq.Middleware):
    """After each message reaches its queue, publishes the queue's name on the wake channel.

    Idle worker consumers wait on that channel (workers/wakeup.py) instead of polling, so a
    message is taken at once. A ring is only a hint: a lost one (Redis pub/sub is at most once)
    costs the consumer's fallback poll, never the message, which is already in its queue.
    Delayed messages (retries) are not rung: they reach their queue later, from the worker that
    moves them, and that enqueue rings.
    """

    def after_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None) -> None:
        client = getattr(broker, "client", None)
        if delay or client is None:
            return
        try:
            client.publish(wake_channel(client, message.queue_name), b"")
        except Exception as exc:  # the message is queued; a worker's poll finds it
            log.debug("no wake-up for %s: %s", message.queue_name, exc)


def enqueue_broker(redis_url: str) -> RedisBroker:
    """A broker for processes that only send jobs (API, CLI): no worker middleware, only the
    ring that wakes an idle worker."""
    return RedisBroker(url=redis_url, middleware=[RingOnEnqueue()])


@dataclass
class JobBuffer:
    pending: list[tuple[JobSpec, tuple[Any, ...]]] = field(default_factory=list)

    def enqueue(self, job: JobSpec, *args: Any) -> None:
        self.pending.append((job, args))

    def clear(self) -> None:
        self.pending.clear()

    def flush(self, broker: dramatiq.Broker | None = None) -> int:
        """Send the buffered jobs; returns how many could not be sent (they are logged)."""
        broker = broker or dramatiq.get_broker()
        request_id = current_request_id()
        failed = 0
        for job, args in self.pending:
            message = dramatiq.Message(
                queue_name=job.queue_name,
                actor_name=job.actor_name,
                args=args,
                kwargs={},
                # The request (or job) that caused this job: its log lines carry the same id.
                options={REQUEST_ID_OPTION: request_id} if request_id else {},
            )
            try:
                broker.enqueue(message, delay=job.delay_ms or None)
            except Exception as exc:  # Redis down: the reconciler will re-enqueue from the DB
                failed += 1
                log.warning("could not enqueue %s%r: %s", job.actor_name, args, exc)
        self.pending.clear()
        return failed
