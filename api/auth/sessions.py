"""Server-side sessions: open one per login, find it by its token's hash, revoke them.

The client holds an opaque random token (the page cookie or an API bearer token); the table
holds its sha256. Every request costs one primary-key lookup joined to the user, so logout,
a password change or an admin's "disable" take effect on the very next request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.auth.tokens import new_token, token_hash
from api.models import AuthSession, User
from api.models.base import utcnow

WEB, API = "web", "api"
# The pages' HttpOnly cookie, and the header that carries the page's CSRF token on API calls.
SESSION_COOKIE = "cm_session"
CSRF_HEADER = "X-CSRF-Token"
# last_seen_at is written at most this often, so reading pages is not a write per request.
_SEEN_RESOLUTION = timedelta(minutes=5)


def open_session(
    session: Session,
    *,
    user: User,
    kind: str,
    minutes: int,
    user_agent: str | None = None,
    ip: str | None = None,
) -> str:
    """Store a new session and return its token (shown to the client once, never stored)."""
    token = new_token()
    now = utcnow()
    session.add(
        AuthSession(
            id=token_hash(token),
            user_id=user.id,
            kind=kind,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(minutes=minutes),
            user_agent=(user_agent or "")[:200] or None,
            ip=(ip or "")[:45] or None,
        )
    )
    session.flush()
    return token


# Every request runs this lookup: built once, so SQLAlchemy neither rebuilds the statement nor
# recomputes its cache key per request (the row is still read fresh each time).
_SESSION_AND_USER = (
    select(AuthSession, User)
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.id == bindparam("session_id"))
)


def find_session(session: Session, token: str) -> tuple[AuthSession, User] | None:
    """The live session of this token and its user; None if unknown, expired, revoked or disabled."""
    row = session.execute(_SESSION_AND_USER, {"session_id": token_hash(token)}).first()
    if row is None:
        return None
    auth_session, user = row
    now = utcnow()
    if not is_live(auth_session, user, now):
        return None
    if now - auth_session.last_seen_at > _SEEN_RESOLUTION:
        auth_session.last_seen_at = now
    return auth_session, user


def is_live(auth_session: AuthSession, user: User, now: datetime) -> bool:
    return auth_session.revoked_at is None and auth_session.expires_at > now and user.disabled_at is None


def revoke(session: Session, auth_session: AuthSession) -> None:
    if auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()


def revoke_all(session: Session, *, user_id: int, keep: AuthSession | None = None) -> int:
    """End every open session of a user (but `keep`); returns how many were open."""
    statement = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep.id)
    return session.execute(statement).rowcount or 0


# Ended sessions are kept this long (a user's "signed out everywhere" stays visible a while).
ENDED_SESSIONS_KEPT = timedelta(days=7)


def prune_sessions(session: Session, *, now: datetime) -> int:
    """Delete sessions that expired or were revoked over ENDED_SESSIONS_KEPT ago; returns how many."""
    cutoff = now - ENDED_SESSIONS_KEPT
    statement = (
        delete(AuthSession)
        .where(or_(AuthSession.expires_at < cutoff, AuthSession.revoked_at < cutoff))
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount or 0


def session_is_live(sessions: sessionmaker[Session], session_id: str) -> bool:
    """For long-lived responses (the live stream): is this session still open, in a fresh read?"""
    with sessions() as session:
        row = session.execute(_SESSION_AND_USER, {"session_id": session_id}).first()
        return row is not None and is_live(row[0], row[1], utcnow())
