"""The actors: thin wrappers that reload by id and call the api services.

Every actor is idempotent: Dramatiq delivers at least once, and the reconciler may enqueue
the same work again.
"""

from __future__ import annotations

import logging
import time

import dramatiq
from dramatiq.middleware import CurrentMessage

from api.calls.jobs import MATCH_POSTING_TO_CALLS
from api.core.jobs import DELIVER_NOTIFICATION, EMBED_POSTING, MATCH_POSTING, SEND_DIGEST
from api.matching.service import rank_for_match, read_for_match, write_match
from api.notifications.channels import EMAIL, LIVE, Channel, EmailChannel, LiveChannel, MailSettings
from api.notifications.delivery import deliver_many
from api.notifications.digest import send_digest
from api.operations.metrics import SUGGESTIONS_CREATED
from api.pipeline.service import embedding_task, record_failure, store_embedding
from workers import account_actors  # noqa: F401  (declares auth.send_password_reset on the same broker)
from workers.broker import actor_policy
from workers.call_actors import embed_call  # noqa: F401  (declares the calls.* actors on the same broker)
from workers.failures import failures_recorded
from workers.resources import WorkerResources, current

log = logging.getLogger(__name__)


def queued_ms() -> float:
    """How long the current message waited in Redis before this thread took it (the hop's cost
    beyond its own work); 0 outside a worker."""
    message = CurrentMessage.get_current_message()
    return max(0.0, time.time() * 1000 - message.message_timestamp) if message is not None else 0.0


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def posting_failures(posting_id: int, step: str):  # type: ignore[no-untyped-def]
    return failures_recorded(
        "posting",
        posting_id,
        step,
        lambda session, error: record_failure(session, posting_id=posting_id, error=error),
    )


@dramatiq.actor(
    actor_name=EMBED_POSTING.actor_name,
    queue_name=EMBED_POSTING.queue_name,
    **actor_policy(EMBED_POSTING.actor_name),
)
def embed_posting(posting_id: int, revision: int) -> None:
    res = current()
    waited, started = queued_ms(), time.perf_counter()
    with posting_failures(posting_id, "embedding"):
        with res.unit_of_work() as uow:
            task = embedding_task(
                uow.session,
                jobs=uow.jobs,
                posting_id=posting_id,
                revision=revision,
                model=res.model,
                multi_model=res.multi_model,
            )
        if task is None:
            return
        read_ms, encoding = _ms(started), time.perf_counter()
        encoded, multi = res.encode(task.representation)
        encode_ms, storing = _ms(encoding), time.perf_counter()
        with res.unit_of_work() as uow:
            stored = store_embedding(
                uow.session,
                jobs=uow.jobs,
                task=task,
                encoded=encoded,
                model=res.model,
                multi_vector=multi,
                multi_model=res.multi_model,
                enqueue_match=not res.matches_inline,
            )
        log.info(
            "posting %s r%s embedded (%d texts): queued %.0f ms, read %.0f ms, encode %.0f ms, store %.0f ms",
            posting_id,
            revision,
            len(task.representation.texts),
            waited,
            read_ms,
            encode_ms,
            _ms(storing),
        )
    if stored and res.matches_inline:
        match_after_embedding(res, posting_id, revision)


def match_after_embedding(res: WorkerResources, posting_id: int, revision: int) -> None:
    """Match what this message just embedded, in the same message: this process serves the
    matching queue, so the hop would only add an enqueue, a fetch and a wait.

    If the process dies before the match commits, the embed message (not acked yet) is delivered
    again and finds the embedding stored, which enqueues the match (`embedding_task`); if the match
    fails, it is queued for the matching step, whose retries and failure records take over (and if
    even that enqueue fails, this message is retried, with the same result).
    """
    try:
        match_step(res, posting_id, revision, waited=0.0, after="embedding")
    except Exception:
        log.warning(
            "posting %s r%s: matching after embedding failed; queued for the matching step",
            posting_id,
            revision,
        )
        with res.unit_of_work() as uow:
            uow.jobs.enqueue(MATCH_POSTING, posting_id, revision)


@dramatiq.actor(
    actor_name=MATCH_POSTING.actor_name,
    queue_name=MATCH_POSTING.queue_name,
    **actor_policy(MATCH_POSTING.actor_name),
)
def match(posting_id: int, revision: int) -> None:
    match_step(current(), posting_id, revision, waited=queued_ms(), after="queue")


def match_step(res: WorkerResources, posting_id: int, revision: int, *, waited: float, after: str) -> None:
    started = time.perf_counter()
    replica, policy = res.current_replica(), res.match_policy
    with posting_failures(posting_id, "matching"):
        # Read, then rank with no transaction open, then write: the search holds no database
        # snapshot or lock, and the write re-checks that the revision is still the one ranked.
        with res.sessions() as session:
            read = read_for_match(session, replica=replica, posting_id=posting_id, revision=revision)
        ranking_started = time.perf_counter()
        found = rank_for_match(replica, policy, read)
        ranked_ms = _ms(ranking_started)
        with res.unit_of_work() as uow:
            created = write_match(
                uow.session, jobs=uow.jobs, replica=replica, policy=policy, posting_id=posting_id,
                revision=revision, read=read, match=found,
            )  # fmt: skip
            uow.jobs.enqueue(MATCH_POSTING_TO_CALLS, posting_id, revision)  # open funding calls it may fit
    SUGGESTIONS_CREATED.inc(created)  # after the commit: only what was stored
    log.info(
        "posting %s r%s match step (after the %s): queued %.0f ms, took %.0f ms (rank %.0f ms)",
        posting_id,
        revision,
        after,
        waited,
        _ms(started),
        ranked_ms,
    )


def _channels(res: WorkerResources) -> dict[str, Channel]:
    return {
        LIVE: LiveChannel(res.redis),
        EMAIL: _email_channel(res),
    }


def _email_channel(res: WorkerResources) -> EmailChannel:
    # Built per message from the process's transport (tests swap it for a local SMTP server).
    return EmailChannel(res.mail, MailSettings.from_settings(res.settings))


@dramatiq.actor(
    actor_name=DELIVER_NOTIFICATION.actor_name,
    queue_name=DELIVER_NOTIFICATION.queue_name,
    **actor_policy(DELIVER_NOTIFICATION.actor_name),
)
def deliver_notification(delivery_ids: list[int] | int) -> None:
    """A batch of deliveries (live stream or e-mail); a repeat finds the sent ones done. A message
    queued by an earlier version carries one id."""
    res = current()
    deliver_many(
        res.unit_of_work,
        _channels(res),
        delivery_ids=[delivery_ids] if isinstance(delivery_ids, int) else list(delivery_ids),
        max_attempts=res.settings.delivery_max_attempts,
    )


@dramatiq.actor(
    actor_name=SEND_DIGEST.actor_name,
    queue_name=SEND_DIGEST.queue_name,
    **actor_policy(SEND_DIGEST.actor_name),
)
def send_user_digest(user_id: int) -> None:
    """The user's deferred e-mails as one mail, when due (a repeat finds nothing due)."""
    res = current()
    send_digest(
        res.unit_of_work,
        _email_channel(res),
        user_id=user_id,
        max_attempts=res.settings.delivery_max_attempts,
    )
