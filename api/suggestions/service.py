"""Who sees which suggestion, the parties' answers, and withdrawing suggestions."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, or_, select, update
from sqlalchemy.orm import Session

from api.audit import service as audit
from api.authz import policy
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.core.jobs import JobBuffer
from api.models import Organisation, Posting, Suggestion, User
from api.models.base import utcnow
from api.models.enums import NotificationKind, SuggestionStatus
from api.notifications.service import dispatch, notify_organisation, notify_organisations, notify_users

OPEN_STATUSES = (
    SuggestionStatus.pending_review.value,
    SuggestionStatus.waiting.value,
    SuggestionStatus.delivered.value,
)


# What a user may see is a filter built once per organisation and reviewer areas (the policy
# caches it); the statements around it are built once per filter too, their other values bound
# at execution, so the reads that clients poll neither rebuild a statement nor recompute its
# cache key. Bounded: an evicted entry is only built again.
@lru_cache(maxsize=1024)
def _listing(visible: ColumnElement[bool], by_posting: bool, by_status: bool) -> Select[tuple[Suggestion]]:
    query = select(Suggestion).where(visible)
    if by_posting:
        posting = bindparam("posting_id", type_=Integer)
        query = query.where(or_(Suggestion.need_id == posting, Suggestion.offer_id == posting))
    if by_status:
        query = query.where(Suggestion.status == bindparam("status", type_=String))
    order = query.order_by(Suggestion.score.desc(), Suggestion.id)
    return order.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))


@lru_cache(maxsize=1024)
def _by_id(visible: ColumnElement[bool]) -> Select[tuple[Suggestion]]:
    return select(Suggestion).where(visible, Suggestion.id == bindparam("suggestion_id", type_=Integer))


def list_suggestions(
    session: Session,
    *,
    user: User,
    posting_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Suggestion]:
    query = _listing(policy.visible_suggestions_filter(user), posting_id is not None, bool(status))
    params = {"posting_id": posting_id, "status": status, "limit": limit, "offset": offset}
    return list(session.scalars(query, params).unique())


def get_suggestion(session: Session, *, user: User, suggestion_id: int) -> Suggestion:
    query = _by_id(policy.visible_suggestions_filter(user))
    suggestion = session.scalar(query, {"suggestion_id": suggestion_id})
    if suggestion is None:
        raise NotFound(f"Suggestion {suggestion_id} does not exist.")
    return suggestion


def contact_of(session: Session, organisation: Organisation) -> dict[str, Any]:
    emails = session.scalars(
        select(User.email).where(User.organisation_id == organisation.id).order_by(User.id)
    ).all()
    return {
        "organisation": organisation.name,
        "type": organisation.type,
        "city": organisation.city,
        "email": organisation.contact_email or (emails[0] if emails else None),
        "people": list(emails),
    }


def summary_payload(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "suggestion_id": suggestion.id,
        "score": suggestion.score,
        "need": {"id": suggestion.need.id, "title": suggestion.need.title},
        "offer": {"id": suggestion.offer.id, "title": suggestion.offer.title},
        "summary": suggestion.explanation.get("summary", {}),
    }


def respond(
    session: Session,
    *,
    jobs: JobBuffer,
    user: User,
    suggestion_id: int,
    interested: bool,
    reason: str | None,
) -> Suggestion:
    suggestion = get_suggestion(session, user=user, suggestion_id=suggestion_id)
    side = policy.side_of(user, suggestion)
    if side is None or not policy.can_answer_suggestion(user, suggestion):
        raise Forbidden("Only the two organisations of a suggestion can answer it.")
    if suggestion.status not in (SuggestionStatus.delivered.value, SuggestionStatus.introduced.value):
        raise InvalidInput(f"Suggestion {suggestion_id} is {suggestion.status}: it takes no answer.")
    if suggestion.status == SuggestionStatus.introduced.value and not interested:
        raise InvalidInput("You have already been introduced; close the posting instead.")
    setattr(suggestion, f"{side}_interested", interested)
    setattr(suggestion, f"{side}_reason", (reason or "").strip() or None)
    session.flush()
    # Our write now holds the row (PostgreSQL row lock, SQLite's single writer). Re-read the
    # other side's answer: if both answer at once, the later of the two sees both and introduces.
    session.refresh(suggestion, ["need_interested", "offer_interested", "status"])
    if not interested:
        suggestion.status = SuggestionStatus.declined.value
    elif (
        suggestion.status == SuggestionStatus.delivered.value
        and suggestion.need_interested
        and suggestion.offer_interested
    ):
        suggestion.status = SuggestionStatus.introduced.value
        _introduce(session, jobs=jobs, suggestion=suggestion)
    session.flush()
    return suggestion


def _introduce(session: Session, *, jobs: JobBuffer, suggestion: Suggestion) -> None:
    """Both said yes: each side is told the other's contact."""
    need_org, offer_org = suggestion.need.organisation, suggestion.offer.organisation
    created = []
    for own, other in ((need_org, offer_org), (offer_org, need_org)):
        created += notify_organisation(
            session,
            organisation_id=own.id,
            kind=NotificationKind.suggestion_introduced.value,
            payload={**summary_payload(suggestion), "contact": contact_of(session, other)},
            dedupe_key=f"suggestion:{suggestion.id}:introduced",
        )
    _dispatch(session, jobs, created)


def announce(session: Session, suggestion: Suggestion) -> list:
    """Tell whoever acts next: both parties when it is delivered, the facilitators when it waits
    for review; nobody while it waits for a party's budget (it is announced when released)."""
    if suggestion.status == SuggestionStatus.waiting.value:
        return []
    if suggestion.status == SuggestionStatus.pending_review.value:
        return notify_users(
            session,
            reviewers_of(session, suggestion),
            kind=NotificationKind.suggestion_review.value,
            payload=summary_payload(suggestion),
            dedupe_key=f"suggestion:{suggestion.id}:review:{_revisions(suggestion)}",
        )
    return _notify_sides(
        session,
        (suggestion.need, suggestion.offer),
        kind=NotificationKind.suggestion_new.value,
        payload=summary_payload(suggestion),
        dedupe_key=f"suggestion:{suggestion.id}:new:{_revisions(suggestion)}",
    )


def _notify_sides(session: Session, sides: Iterable[Posting], **notification: Any) -> list:
    """The same notification to every user of each side's organisation."""
    return notify_organisations(session, [side.organisation_id for side in sides], **notification)


def _revisions(suggestion: Suggestion) -> str:
    return f"{suggestion.need.revision}.{suggestion.offer.revision}"


def reviewers_of(session: Session, suggestion: Suggestion) -> list[User]:
    """The facilitators of the need's and of the offer's cluster, except those of its organisations
    and of the organisations paired with either posting elsewhere."""
    facilitators = session.scalars(select(User).where(policy.facilitators_filter()).order_by(User.id))
    barred = session.scalars(policy.paired_organisations([suggestion.need_id, suggestion.offer_id]))
    return policy.reviewers_among(facilitators, suggestion, barred.all())


def approve(
    session: Session, *, jobs: JobBuffer, user: User, suggestion_id: int, note: str | None
) -> Suggestion:
    """A facilitator lets a waiting suggestion go out to both parties."""
    suggestion = _reviewable(session, user, suggestion_id, allowed=(SuggestionStatus.pending_review.value,))
    _move(session, suggestion, SuggestionStatus.delivered.value)
    _record_review(suggestion, user, note)
    _audit_review(session, user, suggestion, audit.AuditAction.suggestion_approve, "pending_review")
    _dispatch(session, jobs, announce(session, suggestion))
    return suggestion


def reject(session: Session, *, jobs: JobBuffer, user: User, suggestion_id: int, reason: str) -> Suggestion:
    """A facilitator judges the pair a bad match: hidden from the parties, never suggested again."""
    suggestion = _reviewable(session, user, suggestion_id, allowed=OPEN_STATUSES)
    was_delivered = suggestion.status == SuggestionStatus.delivered.value
    previous = suggestion.status
    _move(session, suggestion, SuggestionStatus.rejected.value)
    _record_review(suggestion, user, reason)
    _audit_review(session, user, suggestion, audit.AuditAction.suggestion_reject, previous)
    if was_delivered:
        # The parties learn the suggestion is gone, not the facilitator's internal reason.
        created = _notify_sides(
            session,
            (suggestion.need, suggestion.offer),
            kind=NotificationKind.suggestion_withdrawn.value,
            payload={**summary_payload(suggestion), "by": "facilitator"},
            dedupe_key=f"suggestion:{suggestion.id}:rejected",
        )
        _dispatch(session, jobs, created)
    return suggestion


def _audit_review(
    session: Session, user: User, suggestion: Suggestion, action: audit.AuditAction, previous: str
) -> None:
    audit.record(
        session,
        actor=user,
        action=action,
        object_type="suggestion",
        object_id=suggestion.id,
        details={
            "need_id": suggestion.need_id,
            "offer_id": suggestion.offer_id,
            "from_status": previous,
            "note": suggestion.review_reason,
        },
    )


def _reviewable(session: Session, user: User, suggestion_id: int, *, allowed: tuple[str, ...]) -> Suggestion:
    suggestion = session.get(Suggestion, suggestion_id)
    # A facilitator of the pair's clusters whose own organisation is a party learns why it may not
    # act; what a user cannot see does not exist for it (another cluster's facilitator included,
    # and one barred from the pair by its organisation's other pairs: the SQL filter decides).
    if suggestion is not None and policy.conflict_of_interest(user, suggestion):
        raise Forbidden(
            f"Suggestion {suggestion_id} involves your own organisation: another facilitator must review it."
        )
    suggestion = get_suggestion(session, user=user, suggestion_id=suggestion_id)
    if not policy.can_review_suggestion(user, suggestion):
        raise Forbidden("Only a facilitator of the pair's clusters can review a suggestion.")
    if suggestion.status not in allowed:
        raise InvalidInput(
            f"Suggestion {suggestion_id} is {suggestion.status}: it can no longer be reviewed."
        )
    return suggestion


def _move(session: Session, suggestion: Suggestion, status: str) -> None:
    """From the status the review read to `status`, in one conditional UPDATE: of two concurrent
    reviews of one suggestion, the second finds it moved and gets a 409, so its notifications and
    audit entry are not written twice."""
    moved = session.execute(
        update(Suggestion)
        .where(Suggestion.id == suggestion.id, Suggestion.status == suggestion.status)
        .values(status=status)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(f"Suggestion {suggestion.id} was reviewed meanwhile by someone else: reload it.")
    suggestion.status = status  # the ORM state too (and the delivery time a delivered one takes)


def _record_review(suggestion: Suggestion, user: User, note: str | None) -> None:
    suggestion.review_reason = (note or "").strip() or None
    suggestion.reviewed_by_id = user.id
    suggestion.reviewed_at = utcnow()


def feedback_of(suggestion: Suggestion) -> dict[str, Any]:
    """What the parties and the facilitators said of a pair (for facilitators' eyes)."""
    return {
        "need_interested": suggestion.need_interested,
        "need_reason": suggestion.need_reason,
        "offer_interested": suggestion.offer_interested,
        "offer_reason": suggestion.offer_reason,
        "review_reason": suggestion.review_reason,
        "reviewed_by": suggestion.reviewed_by.email if suggestion.reviewed_by else None,
        "reviewed_at": suggestion.reviewed_at.isoformat() if suggestion.reviewed_at else None,
    }


def withdraw_open_suggestions(session: Session, *, jobs: JobBuffer, posting: Posting) -> int:
    """A closed posting's open suggestions are withdrawn; the other side is told."""
    column = Suggestion.need_id if posting.kind == "need" else Suggestion.offer_id
    suggestions = session.scalars(
        select(Suggestion).where(column == posting.id, Suggestion.status.in_(OPEN_STATUSES))
    ).unique()
    created = []
    count = 0
    for suggestion in suggestions:
        created += withdraw(session, suggestion=suggestion, notify=[_other(suggestion, posting)])
        count += 1
    _dispatch(session, jobs, created)
    return count


def withdraw(session: Session, *, suggestion: Suggestion, notify: Iterable[Posting]) -> list:
    """Withdraw an open suggestion; the organisations of `notify` are told, if they ever saw it."""
    was_seen = suggestion.delivered_at is not None
    suggestion.status = SuggestionStatus.withdrawn.value
    if not was_seen:
        return []
    return _notify_sides(
        session,
        notify,
        kind=NotificationKind.suggestion_withdrawn.value,
        payload=summary_payload(suggestion),
        dedupe_key=f"suggestion:{suggestion.id}:withdrawn:{_revisions(suggestion)}",
    )


def _other(suggestion: Suggestion, posting: Posting) -> Posting:
    return suggestion.offer if suggestion.need_id == posting.id else suggestion.need


def _dispatch(session: Session, jobs: JobBuffer, notifications: list) -> None:
    dispatch(session, jobs, notifications)
