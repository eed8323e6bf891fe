"""Password reset by e-mail: a single-use, expiring link whose token only the mail carries.

The API only enqueues "send a reset link to user N" for an address that has an account, and
answers the same either way. The worker creates the token, stores its hash and mails the
link, so the token never travels through Redis nor appears in a log line.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.auth import sessions
from api.auth.service import normalise_email, set_password
from api.auth.tokens import new_token, token_hash
from api.core.errors import DomainError
from api.core.jobs import SEND_PASSWORD_RESET, JobBuffer
from api.mail.compose import Email
from api.models import PasswordReset, User
from api.models.base import utcnow

SUBJECT = {"it": "clustermatch: reimposta la password", "en": "clustermatch: reset your password"}
BODY = {
    "it": (
        "Qualcuno (speriamo tu) ha chiesto di reimpostare la password del tuo account clustermatch.\n\n"
        "Apri questo link entro {minutes} minuti per sceglierne una nuova (vale una volta sola):\n{url}\n\n"
        "Se non sei stato tu, ignora questa e-mail: la password resta quella di prima."
    ),
    "en": (
        "Someone (hopefully you) asked to reset the password of your clustermatch account.\n\n"
        "Open this link within {minutes} minutes to choose a new one (it works once):\n{url}\n\n"
        "If it was not you, ignore this e-mail: your password stays as it was."
    ),
}
INVALID_LINK = "This reset link is invalid, expired or already used: ask for a new one."


def request_reset(session: Session, *, jobs: JobBuffer, email: str) -> None:
    """Enqueue the mail if the address has an active account; the caller answers the same anyway."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is not None and user.disabled_at is None:
        jobs.enqueue(SEND_PASSWORD_RESET, user.id)


def issue_reset(session: Session, *, user_id: int, minutes: int) -> tuple[User, str] | None:
    """A new reset token for the user (earlier unused links stop working); None if not allowed."""
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        return None
    session.execute(
        delete(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
    )
    token = new_token()
    now = utcnow()
    session.add(
        PasswordReset(
            id=token_hash(token), user_id=user.id, created_at=now, expires_at=now + timedelta(minutes=minutes)
        )
    )
    session.flush()
    return user, token


def reset_email(*, to: str, lang: str, token: str, base_url: str, minutes: int) -> Email:
    lang = lang if lang in SUBJECT else "it"
    # The token goes in the fragment: browsers never send it to a server nor a proxy's log.
    url = f"{base_url}/password-reset#{token}"
    return Email(
        to=to, subject=SUBJECT[lang], body=BODY[lang].format(minutes=minutes, url=url), notification_ids=()
    )


def confirm_reset(session: Session, *, token: str, new_password: str) -> User:
    """Set the new password, spend the link, end every session of the account."""
    reset = session.get(PasswordReset, token_hash(token)) if token else None
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise DomainError(INVALID_LINK)
    user = session.get(User, reset.user_id)
    if user is None or user.disabled_at is not None:
        raise DomainError(INVALID_LINK)
    set_password(user, new_password)
    reset.used_at = utcnow()
    sessions.revoke_all(session, user_id=user.id)
    return user
