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


# Separate queues so a backlog of embeddings never delays notifications.
EMBED_POSTING = JobSpec("postings.embed", "embedding")
MATCH_POSTING = JobSpec("matching.match_posting", "matching")
DELIVER_NOTIFICATION = JobSpec("notifications.deliver", "notifications")
SEND_DIGEST = JobSpec("notifications.send_digest", "notifications")
# Account mail (a reset link) shares the mail workers' queue.
SEND_PASSWORD_RESET = JobSpec("auth.send_password_reset", "notifications")


def enqueue_broker(redis_url: str) -> RedisBroker:
    """A broker for processes that only send jobs (API, CLI): no worker middleware."""
    return RedisBroker(url=redis_url, middleware=[])


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
                broker.enqueue(message)
            except Exception as exc:  # Redis down: the reconciler will re-enqueue from the DB
                failed += 1
                log.warning("could not enqueue %s%r: %s", job.actor_name, args, exc)
        self.pending.clear()
        return failed
