"""Sending planned e-mails from a worker; a failed send is released for the next attempt."""

from __future__ import annotations

import logging

from api.mail.compose import Email
from api.mail.service import release
from api.mail.transport import to_message
from workers.resources import WorkerResources

log = logging.getLogger(__name__)


def send_emails(res: WorkerResources, emails: list[Email]) -> None:
    for email in emails:
        try:
            res.mail.send(to_message(email, res.settings.mail_from))
        except Exception:
            log.exception("e-mail for notifications %s failed: released for a retry", email.notification_ids)
            with res.unit_of_work() as uow:
                release(uow.session, email.notification_ids)
            raise
