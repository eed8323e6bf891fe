"""Consortium proposals: built from a call's fits, reviewed on the desk, answered by each member.

pending_review -> (a facilitator approves) invited -> formed (every member accepted) or
incomplete (someone declined; those who accepted still see each other); or rejected.
Contacts are revealed only between members who both accepted (`policy.can_see_member_identity`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.audit import service as audit
from api.authz import policy
from api.calls.consortium import CallCandidate, Group, propose_groups
from api.calls.eligibility import eligibility
from api.calls.matching import open_call_at
from api.calls.service import is_open, terms_of
from api.core.errors import Forbidden, InvalidInput, NotFound
from api.core.jobs import JobBuffer
from api.matching.ranking import score_against
from api.matching.replica import IndexReplica
from api.models import CallFit, Consortium, ConsortiumMember, Notification, Posting, Suggestion, User
from api.models.base import utcnow
from api.models.enums import PostingStatus, Role, SuggestionStatus
from api.notifications.service import dispatch, notify_organisation, notify_users
from api.suggestions.service import contact_of
from embeddings.scoring import Calibration

log = logging.getLogger(__name__)

PENDING_REVIEW, INVITED, FORMED, INCOMPLETE, REJECTED = (
    "pending_review",
    "invited",
    "formed",
    "incomplete",
    "rejected",
)
ACCEPTED, DECLINED = "accepted", "declined"
# Pairs that say nothing about fit: a facilitator rejected them, or a party declined.
DEAD_PAIRS = (SuggestionStatus.rejected.value, SuggestionStatus.declined.value)


def member_key(organisation_ids: frozenset[int]) -> str:
    return ",".join(str(i) for i in sorted(organisation_ids))


# How well an offer answers a need by the matcher's own score, for one need and many offers at
# once: {offer id: score} of the offers at or above its threshold.
MatcherAnswers = Callable[[int, list[int]], dict[int, float]]


def replica_answers(replica: IndexReplica, calibration: Calibration) -> MatcherAnswers:
    """The matcher's answers on the replica: pairs it never suggested (past its per-posting cap)
    still count. One batch of features for each need, however many offers the call has."""

    def answers(need_id: int, offer_ids: list[int]) -> dict[int, float]:
        ids = [i for i in offer_ids if i in replica]
        if need_id not in replica or not ids:
            return {}
        scored = score_against(replica, replica.probe(need_id), ids, calibration)
        return {c.posting_id: c.score for c in scored if c.score >= calibration.threshold}

    return answers


def propose_consortia(
    session: Session,
    *,
    jobs: JobBuffer,
    call_id: int,
    revision: int,
    now: datetime | None = None,
    matcher_answers: MatcherAnswers | None = None,
) -> int:
    """Propose the groups the builder finds among the call's fits; returns how many are new.

    Idempotent: a group already proposed for the call (unique member key) is not proposed again.
    When no group can be formed, the builder's reason is kept on the call for the dashboard.
    Only a fit not yet taken into account (`CallFit.proposals_seen_at`) is a reason to run: the
    jobs of a burst of fits for one call (a bulk import) cost one run, the others a query. A fit
    committed while a run reads stays unseen, so its own job runs again.
    """
    now = now or utcnow()
    call = open_call_at(session, call_id, revision, now)
    if call is None:
        return 0
    fits = session.scalars(
        select(CallFit)
        .join(Posting, Posting.id == CallFit.posting_id)
        .where(CallFit.call_id == call.id, Posting.status == PostingStatus.open.value)
        .order_by(CallFit.id)
    ).all()
    unseen = [fit.id for fit in fits if fit.proposals_seen_at is None]
    if not unseen:
        return 0
    session.execute(update(CallFit).where(CallFit.id.in_(unseen)).values(proposals_seen_at=now))
    terms = terms_of(call)
    judged_at = max(now, call.opens_at)
    candidates = [
        CallCandidate(
            organisation_id=fit.organisation_id,
            organisation_type=fit.posting.organisation.type,
            country=fit.posting.organisation.country,
            cluster=fit.posting.s3_area,
            posting_id=fit.posting_id,
            posting_kind=fit.posting.kind,
            score=fit.score,
            covers=frozenset(fit.explanation.get("covers", ())),
            # Checked again: the organisation's type may have changed since the fit was found.
            eligible=bool(
                eligibility(
                    terms,
                    organisation_type=fit.posting.organisation.type,
                    posting_trl=fit.posting.trl,
                    posting_area=fit.posting.s3_area,
                    now=judged_at,
                )
            ),
        )
        for fit in fits
    ]
    pair_scores, dead, introduced = _pairs_among(session, [c.posting_id for c in candidates])
    offers = [c.posting_id for c in candidates if c.posting_kind == "offer"]

    @functools.cache
    def answers(need: int) -> dict[int, float]:
        return matcher_answers(need, offers) if matcher_answers is not None else {}

    def pair_fit(need: int, offer: int) -> float | None:
        # A pair a facilitator rejected or a party declined never anchors a group.
        if (need, offer) in dead:
            return None
        if (need, offer) in pair_scores:
            return pair_scores[(need, offer)]
        return answers(need).get(offer)

    proposals = propose_groups(terms, candidates, pair_fit=pair_fit, introduced=introduced)
    if not proposals.groups:
        call.unmet_reason = proposals.unmet_reason
        return 0
    call.unmet_reason = None
    created: list[Consortium] = []
    for group in proposals.groups:
        consortium = _store(session, call.id, group)
        if consortium is not None:
            created.append(consortium)
    notifications: list[Notification] = []
    if created:
        reviewers = session.scalars(select(User).where(User.role == Role.facilitator.value)).all()
        for consortium in created:
            notifications += notify_users(
                session,
                [u for u in reviewers if policy.is_consortium_reviewer(u, consortium)],
                kind="consortium.review",
                payload=_payload(consortium, path=f"/calls/{consortium.call_id}"),
                dedupe_key=f"consortium:{consortium.id}:review",
            )
    dispatch(session, jobs, notifications)
    log.info("call %s: %d new consortium proposals", call.id, len(created))
    return len(created)


def _pairs_among(
    session: Session, posting_ids: list[int]
) -> tuple[dict[tuple[int, int], float], set[tuple[int, int]], set[frozenset[int]]]:
    """Among these postings, from their suggestions: how well each offer answers each need, the
    pairs rejected or declined, and the organisation pairs already introduced."""
    if not posting_ids:
        return {}, set(), set()
    pairs = session.scalars(
        select(Suggestion).where(Suggestion.need_id.in_(posting_ids), Suggestion.offer_id.in_(posting_ids))
    ).unique()
    scores: dict[tuple[int, int], float] = {}
    dead: set[tuple[int, int]] = set()
    introduced: set[frozenset[int]] = set()
    for pair in pairs:
        if pair.status in DEAD_PAIRS:
            dead.add((pair.need_id, pair.offer_id))
            continue
        scores[(pair.need_id, pair.offer_id)] = pair.score
        if pair.status == SuggestionStatus.introduced.value:
            introduced.add(frozenset({pair.need.organisation_id, pair.offer.organisation_id}))
    return scores, dead, introduced


def _store(session: Session, call_id: int, group: Group) -> Consortium | None:
    key = member_key(group.organisation_ids)
    if session.scalar(
        select(Consortium.id).where(Consortium.call_id == call_id, Consortium.member_key == key)
    ):
        return None
    consortium = Consortium(
        call_id=call_id,
        member_key=key,
        status=PENDING_REVIEW,
        score=group.score,
        explanation={"covers": list(group.covers)},
    )
    consortium.members = [
        ConsortiumMember(
            organisation_id=m.organisation_id,
            posting_id=m.posting_id,
            why={"role": m.role, "why": m.why, "covers": list(m.covers), "kind": m.posting_kind},
        )
        for m in group.members
    ]
    try:
        with session.begin_nested():
            session.add(consortium)
    except IntegrityError:
        return None  # proposed meanwhile by a concurrent run of the builder
    session.refresh(consortium)
    return consortium


def _payload(consortium: Consortium, *, path: str) -> dict[str, Any]:
    call = consortium.call
    size = len(consortium.members)
    return {
        "consortium_id": consortium.id,
        "call_id": call.id,
        "title": call.title,
        "deadline": call.deadline.isoformat(),
        "summary": {
            "it": f"Un gruppo di {size} organizzazioni per il bando, scadenza {call.deadline:%d/%m/%Y}.",
            "en": f"A group of {size} organisations for the call, deadline {call.deadline:%Y-%m-%d}.",
        },
        "path": path,
    }


# --- reading ----------------------------------------------------------------------------------


def list_consortia(
    session: Session,
    *,
    user: User,
    call_id: int | None = None,
    status: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[Consortium]:
    query = select(Consortium).where(policy.consortium_candidates_filter(user)).order_by(Consortium.id.desc())
    if call_id is not None:
        query = query.where(Consortium.call_id == call_id)
    if status:
        query = query.where(Consortium.status == status)
    visible = [c for c in session.scalars(query).unique() if policy.can_see_consortium(user, c)]
    return visible[offset : None if limit is None else offset + limit]


def get_consortium(session: Session, *, user: User, consortium_id: int) -> Consortium:
    consortium = session.get(Consortium, consortium_id)
    if consortium is None or not policy.can_see_consortium(user, consortium):
        # 404, not 403: a proposal one is not part of is not even confirmed to exist.
        raise NotFound(f"Consortium proposal {consortium_id} does not exist.")
    return consortium


def member_view(
    session: Session, user: User, consortium: Consortium, member: ConsortiumMember
) -> dict[str, Any]:
    """One member as this reader may see it: anonymous until both organisations accepted."""
    known = policy.can_see_member_identity(user, consortium, member)
    own = policy.membership_of(user, consortium)
    contact = None
    if known and own is not None and own.id != member.id:
        contact = contact_of(session, member.organisation)
    why = member.why or {}
    return {
        "organisation_id": member.organisation_id if known else None,
        "name": member.organisation.name if known else None,
        "type": member.organisation.type,
        "city": member.organisation.city if known else None,
        "posting_id": member.posting_id if known else None,
        "posting_kind": why.get("kind"),
        "role": why.get("role", ""),
        "why": why.get("why") or {},
        "covers": list(why.get("covers", [])),
        "answer": member.answer,
        "contact": contact,
        "yours": own is not None and own.id == member.id,
    }


# --- the desk: approve or reject --------------------------------------------------------------


def _reviewable(session: Session, user: User, consortium_id: int) -> Consortium:
    consortium = get_consortium(session, user=user, consortium_id=consortium_id)
    if not policy.can_review_consortium(user, consortium):
        if policy.membership_of(user, consortium) is not None:
            raise Forbidden("You cannot review a proposal that includes your own organisation.")
        raise Forbidden("Only the facilitators of the call's clusters review its proposals.")
    if consortium.status != PENDING_REVIEW:
        raise InvalidInput(
            f"Consortium proposal {consortium_id} is {consortium.status}: it was reviewed already."
        )
    return consortium


def approve(
    session: Session, *, jobs: JobBuffer, user: User, consortium_id: int, note: str | None
) -> Consortium:
    """A facilitator sends the proposal: each member organisation gets an invitation."""
    consortium = _reviewable(session, user, consortium_id)
    if not is_open(consortium.call, utcnow()):
        raise InvalidInput("The call has closed: its proposals can no longer be sent.")
    _record_review(session, consortium, user, note, INVITED)
    notifications: list[Notification] = []
    for member in consortium.members:
        notifications += notify_organisation(
            session,
            organisation_id=member.organisation_id,
            kind="consortium.invitation",
            payload=_payload(consortium, path=f"/app/consortia/{consortium.id}"),
            dedupe_key=f"consortium:{consortium.id}:invitation",
        )
    dispatch(session, jobs, notifications)
    return consortium


def reject(session: Session, *, user: User, consortium_id: int, reason: str) -> Consortium:
    """A facilitator judges the group unfit: its members never hear of it."""
    consortium = _reviewable(session, user, consortium_id)
    _record_review(session, consortium, user, reason, REJECTED)
    return consortium


def _record_review(
    session: Session, consortium: Consortium, user: User, note: str | None, status: str
) -> None:
    consortium.status = status
    consortium.review_note = (note or "").strip() or None
    consortium.reviewed_by_id = user.id
    consortium.reviewed_at = utcnow()
    audit.record(
        session,
        actor=user,
        action="consortium.approve" if status == INVITED else "consortium.reject",
        object_type="consortium",
        object_id=consortium.id,
        details={"call_id": consortium.call_id, "members": consortium.member_key},
    )
    session.flush()


# --- members: accept or decline ---------------------------------------------------------------


def answer(session: Session, *, jobs: JobBuffer, user: User, consortium_id: int, accept: bool) -> Consortium:
    consortium = get_consortium(session, user=user, consortium_id=consortium_id)
    own = policy.membership_of(user, consortium)
    if own is None or not policy.can_answer_consortium(user, consortium):
        raise Forbidden("Only the member organisations of a proposal answer its invitation.")
    if consortium.status != INVITED:
        raise InvalidInput(f"Consortium proposal {consortium_id} is {consortium.status}: it takes no answer.")
    if own.answer is not None:
        raise InvalidInput(f"Your organisation already answered ({own.answer}).")
    now = utcnow()
    # Take the proposal's row first (PostgreSQL row lock, SQLite's single writer): of two members
    # answering at once, the later one reads both answers and settles the status.
    session.execute(
        update(Consortium)
        .where(Consortium.id == consortium.id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    for member in consortium.members:
        session.refresh(member, ["answer"])
    if own.answer is not None:
        raise InvalidInput(f"Your organisation already answered ({own.answer}).")
    own.answer = ACCEPTED if accept else DECLINED
    own.answered_at = now
    session.flush()
    session.refresh(consortium, ["status"])
    notifications: list[Notification] = []
    if accept:
        # Each member that accepted before now learns who joined (and the joiner sees them on the page).
        for member in consortium.members:
            if member.id != own.id and member.answer == ACCEPTED:
                notifications += notify_organisation(
                    session,
                    organisation_id=member.organisation_id,
                    kind="consortium.joined",
                    payload=_payload(consortium, path=f"/app/consortia/{consortium.id}"),
                    dedupe_key=f"consortium:{consortium.id}:joined:{own.organisation_id}",
                )
    if all(m.answer is not None for m in consortium.members):
        consortium.status = FORMED if all(m.answer == ACCEPTED for m in consortium.members) else INCOMPLETE
    dispatch(session, jobs, notifications)
    session.flush()
    return consortium


def leave_proposals(session: Session, organisation_id: int) -> int:
    """An organisation being erased leaves its proposals: none can form as proposed any more, so
    each still open ends incomplete, as if it had declined (those who accepted still see each
    other). Returns how many."""
    left = session.execute(
        update(Consortium)
        .where(
            Consortium.id.in_(
                select(ConsortiumMember.consortium_id).where(
                    ConsortiumMember.organisation_id == organisation_id
                )
            ),
            Consortium.status.in_((PENDING_REVIEW, INVITED, FORMED)),
        )
        .values(status=INCOMPLETE, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return left.rowcount or 0


def accepted_organisations(session: Session, call_id: int) -> list[int]:
    """Organisations in a proposal for the call that they accepted (for the deadline reminders)."""
    return list(
        session.scalars(
            select(ConsortiumMember.organisation_id)
            .join(Consortium, Consortium.id == ConsortiumMember.consortium_id)
            .where(
                Consortium.call_id == call_id,
                Consortium.status.in_((INVITED, FORMED, INCOMPLETE)),
                ConsortiumMember.answer == ACCEPTED,
            )
            .distinct()
        )
    )
