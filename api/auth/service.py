"""Creating accounts and checking credentials. Services never commit: the caller does."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth.schemas import RegisterRequest
from api.auth.security import hash_password, verify_password
from api.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from api.models import Organisation, User
from api.models.enums import Role, S3Area
from api.organisations.service import create_organisation


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
        raise Conflict(f"An account with e-mail {email} already exists: log in instead.")
    if len(password) < 8:
        raise InvalidInput("The password must have at least 8 characters.")
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


def authenticate(session: Session, *, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not verify_password(password, user.password_hash):
        raise Unauthorized("Wrong e-mail or password.")
    return user


def change_role(session: Session, *, actor: User, user_id: int, role: Role, clusters: list[str]) -> User:
    """An admin makes someone a facilitator of some clusters, an admin, or a plain member."""
    if actor.role != Role.admin.value:
        raise Forbidden("Only an admin can change roles.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    unknown = sorted(set(clusters) - {a.value for a in S3Area})
    if unknown:
        raise InvalidInput(f"Unknown cluster(s) {', '.join(unknown)}: use the S3 area keys.")
    if role is Role.member and user.organisation_id is None:
        raise InvalidInput("A member account belongs to an organisation.")
    if user.id == actor.id and role is not Role.admin:
        raise InvalidInput("You cannot take away your own admin role.")
    user.role = role.value
    user.clusters = sorted(set(clusters)) if role is Role.facilitator else []
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
