"""Account mail actors: the password-reset link (the token exists only here and in the mail), and
forgetting the kept mails of erased people."""

from __future__ import annotations

import logging

import dramatiq

from api.auth.reset import issue_reset, reset_email
from api.core.jobs import FORGET_RECIPIENTS, SEND_PASSWORD_RESET
from api.mail.transport import to_message
from workers.broker import actor_policy
from workers.resources import current

log = logging.getLogger(__name__)


@dramatiq.actor(
    actor_name=SEND_PASSWORD_RESET.actor_name,
    queue_name=SEND_PASSWORD_RESET.queue_name,
    **actor_policy(SEND_PASSWORD_RESET.actor_name),
)
def send_password_reset(user_id: int) -> None:
    """Create a reset link and mail it; a retry mails a fresh link (the earlier one stops working)."""
    res = current()
    settings = res.settings
    with res.unit_of_work() as uow:
        issued = issue_reset(uow.session, user_id=user_id, minutes=settings.password_reset_minutes)
        if issued is None:
            return
        user, token = issued
        email = reset_email(
            to=user.email,
            lang=user.language,
            token=token,
            base_url=settings.resolved_public_url,
            minutes=settings.password_reset_minutes,
        )
    res.mail.send(to_message(email, settings.mail_from))


@dramatiq.actor(
    actor_name=FORGET_RECIPIENTS.actor_name,
    queue_name=FORGET_RECIPIENTS.queue_name,
    **actor_policy(FORGET_RECIPIENTS.actor_name),
)
def forget_recipients(recipient_keys: list[str]) -> None:
    """After an erasure: the outbox keeps no mail to the erased people (an SMTP transport keeps none)."""
    forgotten = current().mail.forget(set(recipient_keys))
    log.info("forgot %d kept e-mails of %d erased recipients", forgotten, len(recipient_keys))
