"""The actors: thin wrappers that reload by id and call the api services.

Every actor is idempotent: Dramatiq delivers at least once, and the reconciler may enqueue
the same work again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import dramatiq
from sqlalchemy import select

from api.jobs import DISPATCH_NOTIFICATIONS, EMAIL_NOTIFICATIONS, EMBED_POSTING, MATCH_POSTING
from api.mail.service import plan_instant
from api.matching.service import match_posting
from api.models import Notification
from api.models.base import utcnow
from api.notifications.bus import publish
from api.notifications.service import to_event
from api.pipeline.service import embedding_task, record_failure, store_embedding
from workers.mailing import send_emails
from workers.resources import current

log = logging.getLogger(__name__)

# Embedding and matching are quick; a message that takes minutes is stuck, not busy.
PIPELINE_LIMITS = {"max_retries": 3, "min_backoff": 1000, "max_backoff": 15_000, "time_limit": 120_000}


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


@dramatiq.actor(actor_name=EMBED_POSTING.actor_name, queue_name=EMBED_POSTING.queue_name, **PIPELINE_LIMITS)
def embed_posting(posting_id: int, revision: int) -> None:
    res = current()
    with failures_recorded(posting_id, "embedding"):
        with res.unit_of_work() as uow:
            task = embedding_task(
                uow.session, jobs=uow.jobs, posting_id=posting_id, revision=revision, model=res.model
            )
        if task is None:
            return
        encoded = res.encoder.encode(task.representation.texts)
        with res.unit_of_work() as uow:
            store_embedding(uow.session, jobs=uow.jobs, task=task, encoded=encoded, model=res.model)


@dramatiq.actor(actor_name=MATCH_POSTING.actor_name, queue_name=MATCH_POSTING.queue_name, **PIPELINE_LIMITS)
def match(posting_id: int, revision: int) -> None:
    res = current()
    with failures_recorded(posting_id, "matching"), res.unit_of_work() as uow:
        match_posting(
            uow.session,
            jobs=uow.jobs,
            replica=res.current_replica(),
            policy=res.match_policy,
            posting_id=posting_id,
            revision=revision,
        )


@dramatiq.actor(
    actor_name=DISPATCH_NOTIFICATIONS.actor_name,
    queue_name=DISPATCH_NOTIFICATIONS.queue_name,
    max_retries=5,
    time_limit=30_000,
)
def dispatch_notifications(notification_ids: list[int]) -> None:
    """Push stored notifications to the live stream (clients drop repeats by id)."""
    res = current()
    with res.sessions() as session:
        notifications = session.scalars(select(Notification).where(Notification.id.in_(notification_ids)))
        for notification in notifications:
            publish(res.redis, user_id=notification.recipient_id, event=to_event(notification))
    with res.unit_of_work() as uow:
        uow.jobs.enqueue(EMAIL_NOTIFICATIONS, notification_ids)


@dramatiq.actor(
    actor_name=EMAIL_NOTIFICATIONS.actor_name,
    queue_name=EMAIL_NOTIFICATIONS.queue_name,
    max_retries=5,
    time_limit=120_000,
)
def email_notifications(notification_ids: list[int]) -> None:
    """E-mail the notifications their recipients want by mail now (the digest takes the rest)."""
    res = current()
    settings = res.settings
    with res.unit_of_work() as uow:
        emails = plan_instant(
            uow.session,
            notification_ids,
            cap=settings.mail_daily_cap,
            base_url=settings.resolved_public_url,
            now=utcnow(),
        )
    send_emails(res, emails)
