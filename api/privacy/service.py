"""An organisation's data: all of it as one document (export), or none of it any more (erasure).

Services never commit: the request's unit of work does, and sends the buffered jobs after.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from api.audit import service as audit
from api.authz import policy
from api.calls.proposals import leave_proposals, list_consortia, member_view
from api.core.errors import Forbidden, InvalidInput, NotFound
from api.core.jobs import FORGET_RECIPIENTS, JobBuffer
from api.mail.transport import recipient_key
from api.models import (
    CallFit,
    Consortium,
    Embedding,
    EmbeddingTombstone,
    Notification,
    Organisation,
    Posting,
    Suggestion,
    User,
)
from api.models.base import utcnow
from api.postings.schemas import posting_read
from api.suggestions.service import contact_of, withdraw_open_suggestions

EXPORT_FORMAT = "clustermatch.organisation-export/1"
# Notifications name suggestions in their dedupe key ("suggestion:<id>:<event>...").
SUGGESTION_KEY = "suggestion:{id}:%"
CHUNK = 200


def own_organisation(session: Session, user: User) -> Organisation:
    organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    if organisation is None:
        raise NotFound("Your account belongs to no organisation: there is no organisation data of yours.")
    return organisation


# --- export ---------------------------------------------------------------------------------


def export_organisation(session: Session, *, user: User) -> dict[str, Any]:
    """Everything the platform holds of the user's organisation, as its members may see it."""
    organisation = own_organisation(session, user)
    if not policy.can_export_organisation(user, organisation.id):
        raise Forbidden("Only a member of the organisation can export its data.")
    users = list(
        session.scalars(select(User).where(User.organisation_id == organisation.id).order_by(User.id))
    )
    postings = list(
        session.scalars(
            select(Posting).where(Posting.organisation_id == organisation.id).order_by(Posting.id)
        )
    )
    # What the organisation's members see as a party: never pairs waiting for review or rejected.
    suggestions = list(
        session.scalars(
            select(Suggestion).where(policy.party_visible_filter(user)).order_by(Suggestion.id)
        ).unique()
    )
    notifications = session.scalars(
        select(Notification)
        .where(policy.exported_notifications_filter([u.id for u in users]))
        .order_by(Notification.id)
    )
    emails = {u.id: u.email for u in users}
    call_fits = session.scalars(
        select(CallFit).where(CallFit.organisation_id == organisation.id).order_by(CallFit.id)
    ).unique()
    consortia = [
        c for c in list_consortia(session, user=user, limit=None) if policy.exports_consortium(user, c)
    ]
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "organisation": _organisation(organisation),
        "users": [_user(u) for u in users],
        "postings": [posting_read(p).model_dump(mode="json") for p in postings],
        "suggestions": [_suggestion(session, user, s) for s in suggestions],
        "answers": [answer for s in suggestions if (answer := _answer(user, s))],
        "notifications": [_notification(n, emails) for n in notifications],
        "call_fits": [_call_fit(f) for f in call_fits],
        "consortia": [_consortium(session, user, c) for c in consortia],
    }
    audit.record(
        session,
        actor=user,
        action=audit.AuditAction.organisation_export,
        object_type="organisation",
        object_id=organisation.id,
        details={
            "postings": len(document["postings"]),
            "suggestions": len(document["suggestions"]),
            "users": len(document["users"]),
            "consortia": len(document["consortia"]),
        },
    )
    return document


def _organisation(organisation: Organisation) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "name": organisation.name,
        "type": organisation.type,
        "clusters": list(organisation.clusters or []),
        "city": organisation.city,
        "province": organisation.province,
        "country": organisation.country,
        "contact_email": organisation.contact_email,
        "created_at": organisation.created_at.isoformat(),
    }


def _call_fit(fit: CallFit) -> dict[str, Any]:
    return {
        "call_id": fit.call_id,
        "call_title": fit.call.title,
        "posting_id": fit.posting_id,
        "score": fit.score,
        "explanation": fit.explanation,
        "notified_at": fit.notified_at.isoformat() if fit.notified_at else None,
    }


def _consortium(session: Session, user: User, consortium: Consortium) -> dict[str, Any]:
    """A proposal the organisation is in, its partners as this member may see them."""
    return {
        "id": consortium.id,
        "call_id": consortium.call_id,
        "status": consortium.status,
        "score": consortium.score,
        "members": [member_view(session, user, consortium, m) for m in consortium.members],
        "created_at": consortium.created_at.isoformat(),
    }


def _user(user: User) -> dict[str, Any]:
    # Never the password hash nor any session: an export is data about the person, not keys.
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "clusters": list(user.clusters or []),
        "language": user.language,
        "email_frequency": user.email_frequency,
        "created_at": user.created_at.isoformat(),
    }


def _suggestion(session: Session, user: User, suggestion: Suggestion) -> dict[str, Any]:
    side = policy.side_of(user, suggestion)
    own, other = (
        (suggestion.need, suggestion.offer) if side == "need" else (suggestion.offer, suggestion.need)
    )
    hidden = policy.hidden_posting_fields(user, other, via=suggestion)
    hidden = policy.IDENTITY_FIELDS | policy.INTERNAL_FIELDS if hidden is None else hidden
    return {
        "id": suggestion.id,
        "status": suggestion.status,
        "score": suggestion.score,
        "explanation": suggestion.explanation,
        "your_side": side,
        "your_posting_id": own.id,
        "counterpart_posting": posting_read(other, hidden).model_dump(mode="json"),
        "need_interested": suggestion.need_interested,
        "offer_interested": suggestion.offer_interested,
        "contact": contact_of(session, other.organisation)
        if policy.can_read_contact(user, suggestion)
        else None,
        "created_at": suggestion.created_at.isoformat(),
    }


def _answer(user: User, suggestion: Suggestion) -> dict[str, Any] | None:
    """The organisation's own answer (the other side's reason is not its to read)."""
    side = policy.side_of(user, suggestion)
    interested = getattr(suggestion, f"{side}_interested")
    if interested is None:
        return None
    return {
        "suggestion_id": suggestion.id,
        "side": side,
        "interested": interested,
        "reason": getattr(suggestion, f"{side}_reason"),
    }


def _notification(notification: Notification, emails: dict[int, str]) -> dict[str, Any]:
    return {
        "id": notification.id,
        "recipient": emails[notification.recipient_id],
        "kind": notification.kind,
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


# --- erasure --------------------------------------------------------------------------------


def delete_own_organisation(session: Session, *, jobs: JobBuffer, user: User, confirm: str | None) -> None:
    """A member erases its organisation, after typing its name."""
    organisation = own_organisation(session, user)
    _check_confirmation(organisation, confirm)
    erase(session, jobs=jobs, actor=user, organisation=organisation)


def delete_organisation(
    session: Session, *, jobs: JobBuffer, actor: User, organisation_id: int, confirm: str | None = None
) -> None:
    """An admin erases any organisation (a member only its own, with the confirmation)."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"Organisation {organisation_id} does not exist.")
    if not policy.can_delete_organisation(actor, organisation.id):
        raise Forbidden("Only an admin can delete another organisation.")
    if not policy.is_admin(actor):
        _check_confirmation(organisation, confirm)
    erase(session, jobs=jobs, actor=actor, organisation=organisation)


def _check_confirmation(organisation: Organisation, confirm: str | None) -> None:
    if (confirm or "").strip() != organisation.name.strip():
        raise InvalidInput(
            f"To delete the organisation and all of its data, send its exact name, "
            f"{organisation.name!r}, as 'confirm'."
        )


def erase(session: Session, *, jobs: JobBuffer, actor: User, organisation: Organisation) -> None:
    """Remove the organisation and everything of it; its counterparts see their pairs withdrawn.

    Order matters: the counterparts are told first (they keep a redacted notice), the replicas
    get a tombstone for every vector (a deleted embeddings row is invisible to their catch-up),
    then the rows go, children before parents.
    """
    users = list(session.execute(select(User.id, User.email).where(User.organisation_id == organisation.id)))
    user_ids = [user_id for user_id, _ in users]
    postings = list(session.scalars(select(Posting).where(Posting.organisation_id == organisation.id)))
    posting_ids = [p.id for p in postings]
    # Recorded first, with plain values: the actor may be one of the users about to go.
    audit.record(
        session,
        actor=actor,
        action=audit.AuditAction.organisation_delete,
        object_type="organisation",
        object_id=organisation.id,
        details={"name": organisation.name, "postings": len(postings), "users": len(user_ids)},
    )
    for posting in postings:
        withdraw_open_suggestions(session, jobs=jobs, posting=posting)
    leave_proposals(session, organisation.id)
    session.flush()
    suggestion_ids = list(
        session.scalars(
            select(Suggestion.id).where(
                or_(Suggestion.need_id.in_(posting_ids), Suggestion.offer_id.in_(posting_ids))
            )
        )
    )
    _redact_notifications(session, suggestion_ids, set(posting_ids), user_ids)
    _tombstone_embeddings(session, posting_ids)
    for chunk in _chunks(suggestion_ids):
        session.execute(delete(Suggestion).where(Suggestion.id.in_(chunk)))
    for chunk in _chunks(posting_ids):
        session.execute(delete(Embedding).where(Embedding.posting_id.in_(chunk)))
        session.execute(delete(Posting).where(Posting.id.in_(chunk)))
    for chunk in _chunks(user_ids):
        session.execute(delete(Notification).where(Notification.recipient_id.in_(chunk)))
    # Users' sessions go with them (ON DELETE CASCADE).
    session.execute(delete(User).where(User.organisation_id == organisation.id))
    session.execute(delete(Organisation).where(Organisation.id == organisation.id))
    if users:
        jobs.enqueue(FORGET_RECIPIENTS, sorted(recipient_key(email) for _, email in users))


def _redact_notifications(
    session: Session, suggestion_ids: list[int], deleted_postings: set[int], deleted_users: list[int]
) -> None:
    """Others keep their notices of these suggestions, without the erased side in them."""
    excluded = set(deleted_users)
    for chunk in _chunks(suggestion_ids):
        keys = [Notification.dedupe_key.like(SUGGESTION_KEY.format(id=i)) for i in chunk]
        for notification in session.scalars(select(Notification).where(or_(*keys))):
            if notification.recipient_id not in excluded:
                notification.payload = redacted_payload(notification.payload, deleted_postings)
    session.flush()


def redacted_payload(payload: dict[str, Any], deleted_postings: set[int]) -> dict[str, Any]:
    """A notification payload with the erased side's postings, summary and contact taken out."""
    kept: dict[str, Any] = {"redacted": True}
    for key in ("suggestion_id", "score"):
        if key in payload:
            kept[key] = payload[key]
    for side in ("need", "offer"):
        posting = payload.get(side)
        if isinstance(posting, dict) and posting.get("id") not in deleted_postings:
            kept[side] = posting
    return kept


def _tombstone_embeddings(session: Session, posting_ids: list[int]) -> None:
    now = utcnow()
    for chunk in _chunks(posting_ids):
        for posting_id, kind in session.execute(
            select(Embedding.posting_id, Embedding.kind).where(Embedding.posting_id.in_(chunk))
        ):
            session.merge(EmbeddingTombstone(posting_id=posting_id, kind=kind, deleted_at=now))
    session.flush()


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
