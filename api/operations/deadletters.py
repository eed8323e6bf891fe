"""Dead letters: the messages that exhausted their retries, listed and sent again.

Dramatiq's RedisBroker moves a message whose retries are exhausted ("nack") to a sorted set
``<namespace>:<queue>.XQ`` (member: the Redis message id, score: when, in ms) with its body in
the hash ``<namespace>:<queue>.XQ.msgs``, and drops it after the broker's ``dead_message_ttl``
(7 days). The broker has no API to read or replay them, so this module reads those two keys,
and nothing else of Dramatiq's. The stored body is the message as it was last enqueued: it
does not carry the error of the final attempt, so :class:`FailureRecorder` (a worker
middleware) keeps that error under a key of ours, with the same lifetime.

A retry sends a *fresh* message (same actor, arguments and request id) and removes the dead
one; every actor is idempotent, so a retry of work that was meanwhile redone is harmless.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import dramatiq
import redis

log = logging.getLogger(__name__)

NAMESPACE = "dramatiq"
# Where FailureRecorder keeps the last error of a dead message (one key per Redis message id).
ERROR_KEY = "clustermatch:deadletter:error:{}"
ERROR_TTL_SECONDS = 7 * 24 * 3600  # Dramatiq's DEFAULT_DEAD_MESSAGE_TTL
# The option that carries the request id from the POST to every job it causes.
REQUEST_ID_OPTION = "request_id"

# Which argument of which actor names the thing a message is about.
SUBJECTS = {
    "postings.embed": "posting",
    "matching.match_posting": "posting",
    "notifications.deliver": "delivery",
    "notifications.send_digest": "user",
    "notifications.dispatch": "notifications",
    "notifications.email": "notifications",
}


@dataclass(frozen=True)
class DeadLetter:
    id: str  # the Redis message id: what `clustermatch jobs retry ID` takes
    queue: str
    actor: str
    args: list[Any]
    kwargs: dict[str, Any]
    subject: str  # e.g. "posting 12", "delivery 7"
    error: str  # one line: the exception of the last attempt
    traceback: str
    retries: int
    dead_at: datetime
    message_id: str
    request_id: str | None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["dead_at"] = self.dead_at.isoformat()
        return data


def subject_of(actor: str, args: list[Any]) -> str:
    """What a message is about, read from its actor and first argument ("posting 12")."""
    kind = SUBJECTS.get(actor)
    if kind is None or not args:
        return "-"
    first = args[0]
    if isinstance(first, list):
        return f"{kind} {', '.join(str(item) for item in first)}"
    return f"{kind} {first}"


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _xq(queue: str) -> str:
    return f"{NAMESPACE}:{queue}.XQ"


def dead_letter_queues(client: redis.Redis) -> list[str]:
    """Every queue that has a dead-letter set (new queues show up without a code change)."""
    queues = set()
    for key in client.scan_iter(match=f"{NAMESPACE}:*.XQ", count=500):
        name = key.decode() if isinstance(key, bytes) else key
        queues.add(name[len(NAMESPACE) + 1 : -len(".XQ")])
    return sorted(queues)


def count_dead_letters(client: redis.Redis) -> int:
    return sum(int(client.zcard(_xq(queue))) for queue in dead_letter_queues(client))


def list_dead_letters(client: redis.Redis, *, limit: int | None = None) -> list[DeadLetter]:
    """The dead letters of every queue, newest first."""
    letters: list[DeadLetter] = []
    for queue in dead_letter_queues(client):
        entries = client.zrange(_xq(queue), 0, -1, withscores=True)
        if not entries:
            continue
        ids = [member.decode() for member, _ in entries]
        bodies = client.hmget(f"{_xq(queue)}.msgs", ids)
        errors = client.mget([ERROR_KEY.format(redis_id) for redis_id in ids])
        for redis_id, (_, score), body, error in zip(ids, entries, bodies, errors, strict=True):
            if body is None:  # expired between the two reads
                continue
            letters.append(_letter(queue, redis_id, score, body, error))
    letters.sort(key=lambda letter: letter.dead_at, reverse=True)
    return letters[:limit] if limit is not None else letters


def _letter(queue: str, redis_id: str, score: float, body: bytes, error: bytes | None) -> DeadLetter:
    message = dramatiq.Message.decode(body)
    recorded = json.loads(error) if error else {}
    tb = recorded.get("traceback") or message.options.get("traceback") or ""
    return DeadLetter(
        id=redis_id,
        queue=queue,
        actor=message.actor_name,
        args=list(message.args),
        kwargs=dict(message.kwargs),
        subject=subject_of(message.actor_name, list(message.args)),
        error=recorded.get("error") or last_line(tb) or "(no error recorded)",
        traceback=tb,
        retries=int(recorded.get("retries", message.options.get("retries", 0))),
        dead_at=datetime.fromtimestamp(score / 1000, tz=UTC),
        message_id=message.message_id,
        request_id=message.options.get(REQUEST_ID_OPTION),
    )


def retry_dead_letters(
    client: redis.Redis, broker: dramatiq.Broker, ids: Iterable[str] | None = None
) -> list[DeadLetter]:
    """Send the given dead letters (all when `ids` is None) again; returns those sent.

    Each one is first removed from its dead-letter set: only the caller whose removal
    succeeds sends it, so two concurrent retries never send one message twice.
    """
    wanted = None if ids is None else set(ids)
    sent = []
    for letter in list_dead_letters(client):
        if wanted is not None and letter.id not in wanted:
            continue
        key = _xq(letter.queue)
        if not client.zrem(key, letter.id):
            continue  # someone else retried it
        body = client.hget(f"{key}.msgs", letter.id)
        try:
            options = {REQUEST_ID_OPTION: letter.request_id} if letter.request_id else {}
            broker.enqueue(
                dramatiq.Message(
                    queue_name=letter.queue,
                    actor_name=letter.actor,
                    args=tuple(letter.args),
                    kwargs=letter.kwargs,
                    options=options,
                )
            )
        except Exception:
            client.zadd(key, {letter.id: letter.dead_at.timestamp() * 1000})  # keep it for later
            raise
        if body is not None:
            client.hdel(f"{key}.msgs", letter.id)
        client.delete(ERROR_KEY.format(letter.id))
        log.info("dead letter %s (%s %s) sent again", letter.id, letter.actor, letter.subject)
        sent.append(letter)
    if wanted:
        missing = wanted - {letter.id for letter in sent}
        if missing:
            log.warning("no dead letter with id %s", ", ".join(sorted(missing)))
    return sent


class FailureRecorder(dramatiq.Middleware):
    """Keeps the error of a message's final attempt, for `clustermatch jobs failed`.

    Dramatiq emits `after_nack` once the broker has dead-lettered a message (its retries
    are exhausted); the exception of that last attempt is still on the message.
    """

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        redis_id = message.options.get("redis_message_id")
        client = getattr(broker, "client", None)
        exception = getattr(message, "_exception", None)
        if exception is not None:
            error = f"{type(exception).__name__}: {exception}"
            tb = "".join(traceback.format_exception(exception, limit=30))
        else:
            error, tb = "failed without an exception (e.g. older than the age limit)", ""
        log.error(
            "message %s (%s, %s) exhausted its retries and is dead-lettered: %s",
            message.message_id,
            message.actor_name,
            subject_of(message.actor_name, list(message.args)),
            error,
        )
        if not redis_id or client is None:
            return
        record = {
            "error": error,
            "traceback": tb,
            "retries": message.options.get("retries", 0),
            "at": time.time(),
        }
        try:
            client.set(ERROR_KEY.format(redis_id), json.dumps(record), ex=ERROR_TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("could not record the error of dead message %s: %s", message.message_id, exc)
