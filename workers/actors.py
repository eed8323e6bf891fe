"""The actors: thin wrappers that reload by id and call the api services.

Every actor is idempotent: Dramatiq delivers at least once, and the reconciler may enqueue
the same work again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq

from api.core.jobs import DELIVER_NOTIFICATION, EMBED_POSTING, MATCH_POSTING, SEND_DIGEST
from api.matching.service import match_posting
from api.notifications.channels import EMAIL, LIVE, Channel, EmailChannel, LiveChannel, MailSettings
from api.notifications.delivery import deliver
from api.notifications.digest import send_digest
from api.operations.metrics import SUGGESTIONS_CREATED
from api.pipeline.service import embedding_task, record_failure, store_embedding
from workers import account_actors  # noqa: F401  (declares auth.send_password_reset on the same broker)
from workers.broker import actor_policy
from workers.resources import WorkerResources, current

log = logging.getLogger(__name__)


@contextmanager
def failures_recorded(posting_id: int, step: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        log.exception("%s failed for posting %s", step, posting_id)
        try:
            with current().unit_of_work() as uow:
                record_failure(uow.session, posting_id=posting_id, error=f"{step}: {exc!r}")
        except Exception:
            log.exception("could not record the failure of posting %s", posting_id)
        raise


@dramatiq.actor(
    actor_name=EMBED_POSTING.actor_name,
    queue_name=EMBED_POSTING.queue_name,
    **actor_policy(EMBED_POSTING.actor_name),
)
def embed_posting(posting_id: int, revision: int) -> None:
    res = current()
    with failures_recorded(posting_id, "embedding"):
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
        encoded = res.encoder.encode(task.representation.texts)
        multi = res.second.encode([task.representation.raw])[0] if res.second else None
        with res.unit_of_work() as uow:
            store_embedding(
                uow.session,
                jobs=uow.jobs,
                task=task,
                encoded=encoded,
                model=res.model,
                multi_vector=multi,
                multi_model=res.multi_model,
            )
        log.info("posting %s r%s embedded (%d texts)", posting_id, revision, len(task.representation.texts))


@dramatiq.actor(
    actor_name=MATCH_POSTING.actor_name,
    queue_name=MATCH_POSTING.queue_name,
    **actor_policy(MATCH_POSTING.actor_name),
)
def match(posting_id: int, revision: int) -> None:
    res = current()
    with failures_recorded(posting_id, "matching"), res.unit_of_work() as uow:
        created = match_posting(
            uow.session,
            jobs=uow.jobs,
            replica=res.current_replica(),
            policy=res.match_policy,
            posting_id=posting_id,
            revision=revision,
        )
    SUGGESTIONS_CREATED.inc(created)  # after the commit: only what was stored


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
def deliver_notification(delivery_id: int) -> None:
    """One notification on one channel (live stream or e-mail); a repeat finds it done."""
    res = current()
    deliver(
        res.unit_of_work,
        _channels(res),
        delivery_id=delivery_id,
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
