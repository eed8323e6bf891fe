"""Accounts: creating them, checking credentials, passwords, disabling. Services never commit."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit import service as audit
from api.auth import sessions
from api.auth.passwords import burn_verification_time, hash_password, needs_rehash, verify_password
from api.auth.ratelimit import Throttle
from api.auth.schemas import RegisterRequest
from api.authz import policy
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from api.models import AuthSession, Organisation, User
from api.models.base import utcnow
from api.models.enums import Role, S3Area
from api.organisations.service import create_organisation

MIN_PASSWORD = 8
WRONG_CREDENTIALS = "Wrong e-mail or password."
# The same sentence whether or not the address has an account: registering must not tell.
EMAIL_TAKEN = (
    "This e-mail address cannot be used for a new account: if it is yours, log in or reset the password."
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role = Role.member,
    organisation: Organisation | None = None,
    clusters: list[str] | None = None,
    language: str = "it",
) -> User:
    email = normalise_email(email)
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise Conflict(EMAIL_TAKEN)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD} characters.")
    unknown = sorted(set(clusters or []) - {a.value for a in S3Area})
    if unknown:
        raise InvalidInput(f"Unknown cluster(s) {', '.join(unknown)}: use the S3 area keys.")
    if role is Role.member and organisation is None:
        raise InvalidInput("A member account belongs to an organisation.")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role.value,
        organisation=organisation,
        clusters=list(clusters or []),
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, email: str, password: str, throttle: Throttle | None = None) -> User:
    """The user with these credentials, or Unauthorized; same answer and time for unknown e-mails."""
    email = normalise_email(email)
    if throttle is not None:
        throttle.before_login(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        burn_verification_time(password)
        verified = False
    else:
        verified = verify_password(password, user.password_hash)
    if not verified or user is None:
        raise Unauthorized(WRONG_CREDENTIALS)
    if user.disabled_at is not None:
        raise Unauthorized("This account is disabled: ask the platform's administrator.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(
    session: Session,
    *,
    user: User,
    current: AuthSession | None,
    current_password: str,
    new_password: str,
    throttle: Throttle | None = None,
) -> int:
    """Set a new password and end every other session; returns how many were ended."""
    if throttle is not None:
        throttle.password_check(user.id)
    if not verify_password(current_password, user.password_hash):
        raise Forbidden("The current password is not right: type it again.")
    set_password(user, new_password)
    return sessions.revoke_all(session, user_id=user.id, keep=current)


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"The new password must have at least {MIN_PASSWORD} characters.")
    user.password_hash = hash_password(password)


def set_disabled(session: Session, *, actor: User, user_id: int, disabled: bool) -> User:
    """An admin disables an account (every session ends at once, logins are refused) or enables it."""
    if not policy.can_administer(actor):
        raise Forbidden("Only an admin can disable accounts.")
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"User {user_id} does not exist.")
    if not policy.can_disable_user(actor, target):
        raise Forbidden("You cannot disable your own account.")
    audit.record(
        session,
        actor=actor,
        action=audit.AuditAction.user_disable if disabled else audit.AuditAction.user_enable,
        object_type="user",
        object_id=target.id,
        details={"email": target.email, "was_disabled": target.disabled_at is not None},
    )
    if disabled:
        target.disabled_at = target.disabled_at or utcnow()
        sessions.revoke_all(session, user_id=target.id)
    else:
        target.disabled_at = None
    return target


def change_role(session: Session, *, actor: User, user_id: int, role: Role, clusters: list[str]) -> User:
    """An admin makes someone a facilitator of some clusters, an admin, or a plain member."""
    if not policy.can_change_roles(actor):
        raise Forbidden("Only an admin can change roles.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    unknown = sorted(set(clusters) - {a.value for a in S3Area})
    if unknown:
        raise InvalidInput(f"Unknown cluster(s) {', '.join(unknown)}: use the S3 area keys.")
    if role is Role.member and user.organisation_id is None:
        raise InvalidInput("A member account belongs to an organisation.")
    if policy.gives_up_own_admin(actor, user, role):
        raise InvalidInput("You cannot take away your own admin role.")
    before = {"role": user.role, "clusters": list(user.clusters or [])}
    user.role = role.value
    user.clusters = policy.clusters_for(role, clusters)
    audit.record(
        session,
        actor=actor,
        action=audit.AuditAction.user_role_change,
        object_type="user",
        object_id=user.id,
        details={"email": user.email, "from": before, "to": {"role": user.role, "clusters": user.clusters}},
    )
    return user


def register_member(session: Session, body: RegisterRequest) -> User:
    """A new organisation and its first member account."""
    organisation = create_organisation(session, data=body.organization)
    return create_user(
        session,
        email=str(body.email),
        password=body.password,
        organisation=organisation,
        language=body.language,
    )
