"""Publishing, importing, listing, reading and closing funding calls, and the per-call funnel.

A call is open until its deadline: the reconciler closes it (`close_expired`), and every read
already treats a call past its deadline as closed, so no reader depends on that pass having run
(any number of processes may run it; each close is a plain idempotent update).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.authz import policy
from api.calls.jobs import EMBED_CALL, MATCH_CALL, MATCH_POSTING_TO_CALLS, PROPOSE_CONSORTIA
from api.calls.schemas import CallCreate
from api.calls.terms import CallTerms, ConsortiumRule
from api.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from api.core.jobs import JobBuffer
from api.models import Call, CallFit, Consortium, Posting, User
from api.models.base import utcnow
from api.models.enums import PipelineState, PostingStatus
from embeddings.text import detect_language

log = logging.getLogger(__name__)

OPEN, CLOSED = "open", "closed"
# Fields whose change alters what is embedded or who fits.
MATCHED_FIELDS = (
    "title",
    "description",
    "keywords",
    "s3_areas",
    "area_required",
    "eligible_types",
    "trl_min",
    "trl_max",
    "consortium_rule",
)
# Consortia that count as "accepted" in the funnel: every member said yes.
ACCEPTED = "formed"


def terms_of(call: Call) -> CallTerms:
    return CallTerms(
        eligible_types=frozenset(call.eligible_types or ()),
        trl_min=call.trl_min,
        trl_max=call.trl_max,
        s3_areas=frozenset(call.s3_areas or ()),
        area_required=call.area_required,
        rule=ConsortiumRule.from_dict(call.consortium_rule),
        opens_at=call.opens_at,
        deadline=call.deadline,
    )


def is_open(call: Call, now: datetime) -> bool:
    """Open for applications and matching: not closed, and its deadline not passed (even if the
    reconciler has not closed it yet)."""
    return call.status == OPEN and call.deadline > now


def days_left(call: Call, now: datetime) -> int:
    return max(0, (call.deadline - now).days)


def _fields_of(data: CallCreate, now: datetime) -> dict:  # type: ignore[type-arg]
    opens_at = data.opens_at or now
    fields = dict(
        title=data.title,
        description=data.description,
        keywords=data.keywords,
        language=data.language or detect_language(f"{data.title}. {data.description}"),
        programme=data.programme.value,
        link=data.link,
        opens_at=opens_at,
        deadline=data.deadline,
        s3_areas=sorted(a.value for a in data.s3_areas),
        area_required=data.area_required,
        eligible_types=sorted(t.value for t in data.eligible_types),
        trl_min=data.trl_min,
        trl_max=data.trl_max,
        budget_min=data.budget_min,
        budget_max=data.budget_max,
        consortium_rule=ConsortiumRule(**data.consortium_rule.model_dump()).to_dict(),
    )
    return fields


def _check(author: User, fields: dict, edited: Call | None = None) -> None:  # type: ignore[type-arg]
    """The author may publish these terms (or, for an `edited` call, change it into them), and they
    hold together."""
    if not policy.can_publish_calls(author):
        raise Forbidden("Only cluster facilitators and admins publish funding calls.")
    if edited is not None:
        _check_areas_change(author, edited, fields["s3_areas"])
    elif not policy.can_publish_call_in(author, fields["s3_areas"]):
        mine = ", ".join(sorted(policy.reviewer_areas(author))) or "none"
        raise Forbidden(f"A facilitator publishes calls for its own clusters: list in s3_areas only {mine}.")
    problems = []
    if fields["budget_min"] is not None and fields["budget_max"] is not None:
        if fields["budget_min"] > fields["budget_max"]:
            problems.append("budget_min is greater than budget_max")
    call = Call(**fields)
    problems += terms_of_unchecked(call).problems()
    if problems:
        raise InvalidInput("The call's terms do not hold together: " + "; ".join(problems) + ".")


def _check_areas_change(author: User, call: Call, s3_areas: list[str]) -> None:
    if not policy.can_change_call_areas(author, call, s3_areas):
        mine = ", ".join(sorted(policy.reviewer_areas(author))) or "none"
        raise Forbidden(
            f"Call {call.id} belongs to other clusters too: add or remove only your own ({mine}) in s3_areas."
        )


def terms_of_unchecked(call: Call) -> CallTerms:
    """As `terms_of`, without refusing a bad rule (its problems are then listed with the others)."""
    rule = ConsortiumRule(**call.consortium_rule)
    return CallTerms(
        eligible_types=frozenset(call.eligible_types or ()),
        trl_min=call.trl_min,
        trl_max=call.trl_max,
        s3_areas=frozenset(call.s3_areas or ()),
        area_required=call.area_required,
        rule=rule,
        opens_at=call.opens_at,
        deadline=call.deadline,
    )


def publish_call(session: Session, *, jobs: JobBuffer, author: User, data: CallCreate) -> tuple[Call, bool]:
    """A new call, or the one imported earlier with the same external_id updated; (call, created)."""
    now = utcnow()
    fields = _fields_of(data, now)
    _check(author, fields)
    existing = _imported(session, data.external_id)
    if existing is not None:
        return _reimport(session, jobs=jobs, author=author, call=existing, fields=fields, now=now), False
    call = Call(
        **fields,
        external_id=data.external_id,
        status=OPEN,
        created_by_id=author.id,
        pipeline_state=PipelineState.pending.value,
        pipeline_updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(call)
    except IntegrityError:
        # A concurrent import of the same external_id inserted it first: this one updates it.
        existing = _imported(session, data.external_id)
        if existing is None:
            raise
        return _reimport(session, jobs=jobs, author=author, call=existing, fields=fields, now=now), False
    jobs.enqueue(EMBED_CALL, call.id, call.revision)
    log.info("call %s published by user %s", call.id, author.id)
    return call, True


def _taken_by(session: Session, external_id: str, call_id: int) -> int | None:
    """The id of another call with this external_id, if any."""
    return session.scalar(select(Call.id).where(Call.external_id == external_id, Call.id != call_id))


def _imported(session: Session, external_id: str | None) -> Call | None:
    return session.scalar(select(Call).where(Call.external_id == external_id)) if external_id else None


def _reimport(
    session: Session, *, jobs: JobBuffer, author: User, call: Call, fields: dict[str, object], now: datetime
) -> Call:
    """A call imported again (same external_id): updated, by someone who may manage it."""
    if not policy.can_manage_call(author, call):
        raise Forbidden(f"Call {call.external_id!r} belongs to clusters you do not facilitate.")
    _check_areas_change(author, call, fields["s3_areas"])  # type: ignore[arg-type]
    _update(session, jobs=jobs, call=call, fields=fields, now=now)
    return call


def edit_call(session: Session, *, jobs: JobBuffer, user: User, call_id: int, data: CallCreate) -> Call:
    """Replace a call's terms (its facilitators and admins): the fits and consortia follow on the
    next match when a matched field changed. An edited call is open again until its deadline."""
    call = managed_call(session, user=user, call_id=call_id)
    now = utcnow()
    fields = _fields_of(data, now)
    _check(user, fields, edited=call)
    if data.external_id and data.external_id != call.external_id:
        taken = _taken_by(session, data.external_id, call.id)
        if taken is not None:
            raise Conflict(f"Another call (id {taken}) has the external_id {data.external_id!r}.")
        call.external_id = data.external_id
    try:
        with session.begin_nested():
            _update(session, jobs=jobs, call=call, fields=fields, now=now)
    except IntegrityError:
        # Another call took this external_id after the check above, in a concurrent request.
        raise Conflict(f"Another call has the external_id {data.external_id!r}.") from None
    log.info("call %s edited by user %s", call.id, user.id)
    return call


def _update(session: Session, *, jobs: JobBuffer, call: Call, fields: dict, now: datetime) -> None:  # type: ignore[type-arg]
    rematch = any(fields[name] != getattr(call, name) for name in MATCHED_FIELDS)
    for name, value in fields.items():
        setattr(call, name, value)
    call.status, call.closed_at = OPEN, None
    if rematch:
        # Incremented in SQL, so two concurrent imports get two revisions, never the same one.
        call.revision = Call.revision + 1
        call.pipeline_state = PipelineState.pending.value
        call.pipeline_error = None
        call.pipeline_attempts = 0
        call.pipeline_updated_at = now
        session.flush()
        session.refresh(call)
        jobs.enqueue(EMBED_CALL, call.id, call.revision)
    session.flush()


def get_call(session: Session, *, user: User, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None or not policy.can_read_call(user, call):
        raise NotFound(f"Call {call_id} does not exist.")
    return call


def managed_call(session: Session, *, user: User, call_id: int) -> Call:
    call = get_call(session, user=user, call_id=call_id)
    if not policy.can_manage_call(user, call):
        raise Forbidden("Only the facilitators of the call's clusters and admins manage it.")
    return call


def list_calls(
    session: Session,
    *,
    user: User,
    open_only: bool = True,
    area: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Call]:
    """Calls by deadline, soonest first (open ones only by default)."""
    now = utcnow()
    query = select(Call).order_by(Call.deadline, Call.id)
    if open_only:
        query = query.where(Call.status == OPEN, Call.deadline > now)
    calls = [c for c in session.scalars(query) if policy.can_read_call(user, c)]
    if area:
        calls = [c for c in calls if area in policy.call_areas(c)]
    return calls[offset : offset + limit]


def close_call(session: Session, *, user: User, call_id: int) -> Call:
    call = managed_call(session, user=user, call_id=call_id)
    close(call, now=utcnow())
    return call


def close(call: Call, *, now: datetime) -> None:
    if call.status != CLOSED:
        call.status, call.closed_at = CLOSED, now


CALLS_RESCUE_WINDOW = timedelta(days=1)


@dataclass
class CallReconcileReport:
    closed: int = 0
    requeued: int = 0
    failed: int = 0
    proposals: int = 0  # calls whose proposal job was lost: sent again
    postings: int = 0  # matched postings whose calls job was lost: sent again


def reconcile_calls(
    session: Session,
    *,
    jobs: JobBuffer,
    now: datetime,
    stale_after: timedelta,
    max_attempts: int,
    busy_queues: frozenset[str] = frozenset(),
) -> CallReconcileReport:
    """Close calls past their deadline; re-enqueue calls stuck before `matched`, give up after
    `max_attempts` (as the posting reconciler does); send again the proposal jobs that were lost."""
    report = CallReconcileReport()
    for call in session.scalars(select(Call).where(Call.status == OPEN, Call.deadline <= now).limit(500)):
        close(call, now=now)
        report.closed += 1
    stuck = session.scalars(
        select(Call).where(
            Call.status == OPEN,
            Call.pipeline_state.in_([PipelineState.pending.value, PipelineState.embedded.value]),
            Call.pipeline_updated_at < now - stale_after,
        )
    )
    for call in stuck:
        if call.pipeline_attempts >= max_attempts:
            call.pipeline_state = PipelineState.failed.value
            report.failed += 1
            continue
        call.pipeline_attempts += 1
        call.pipeline_updated_at = now
        job = EMBED_CALL if call.pipeline_state == PipelineState.pending.value else MATCH_CALL
        jobs.enqueue(job, call.id, call.revision)
        report.requeued += 1
    # A proposal job lost on the way (Redis down at the commit) leaves its fits unseen.
    lost = session.execute(
        select(Call.id, Call.revision)
        .where(
            Call.status == OPEN,
            Call.id.in_(
                select(CallFit.call_id)
                .join(Posting, Posting.id == CallFit.posting_id)
                .where(
                    CallFit.proposals_seen_at.is_(None),
                    CallFit.created_at < now - stale_after,
                    Posting.status == PostingStatus.open.value,
                )
            ),
        )
        .limit(500)
    ).all()
    for call_id, revision in lost:
        jobs.enqueue(PROPOSE_CONSORTIA, call_id, revision)
    report.proposals = len(lost)
    # A posting's calls job lost on the way (Redis down at its match's commit): matched, yet not
    # matched with the calls at that revision. Within a day of its match: a job that keeps
    # failing ends in the dead letters, not re-sent forever; not while that queue has a backlog
    # (the job may be waiting its turn there).
    if MATCH_POSTING_TO_CALLS.queue_name in busy_queues:
        return report
    unmatched = session.execute(
        select(Posting.id, Posting.revision)
        .where(
            Posting.status == PostingStatus.open.value,
            Posting.pipeline_state == PipelineState.matched.value,
            Posting.matched_at < now - stale_after,
            Posting.matched_at > now - CALLS_RESCUE_WINDOW,
            or_(Posting.calls_matched_revision.is_(None), Posting.calls_matched_revision < Posting.revision),
        )
        .order_by(Posting.matched_at)
        .limit(500)
    ).all()
    for posting_id, revision in unmatched:
        jobs.enqueue(MATCH_POSTING_TO_CALLS, posting_id, revision)
    report.postings = len(unmatched)
    return report


@dataclass(frozen=True)
class Funnel:
    call_id: int
    fitting_postings: int
    fitting_organisations: int
    notified: int
    consortia_proposed: int
    consortia_accepted: int
    unmet_reason: str | None


def funnel_of(session: Session, call: Call) -> Funnel:
    """Fitting postings → organisations told → consortia proposed → consortia every member accepted."""
    fits, organisations, notified = session.execute(
        select(
            func.count(CallFit.id),
            func.count(func.distinct(CallFit.organisation_id)),
            func.count(CallFit.notified_at),
        ).where(CallFit.call_id == call.id)
    ).one()
    proposed = session.scalar(select(func.count(Consortium.id)).where(Consortium.call_id == call.id)) or 0
    accepted = (
        session.scalar(
            select(func.count(Consortium.id)).where(
                Consortium.call_id == call.id, Consortium.status == ACCEPTED
            )
        )
        or 0
    )
    return Funnel(
        call.id, fits or 0, organisations or 0, notified or 0, proposed, accepted, call.unmet_reason
    )


@dataclass(frozen=True)
class UpcomingCall:
    """A call on the cluster dashboard: who fits it, and whether a consortium exists yet."""

    call: Call
    fitting_organisations: int
    consortia: int
    accepted: int
    # Why there is none yet: the group builder's reason, or that none was proposed so far.
    unmet_reason: str | None


def upcoming_calls(
    session: Session, *, areas: list[str], now: datetime, days: int = 90
) -> list[UpcomingCall]:
    """Open calls of these clusters with a deadline in the next `days`, soonest first."""
    wanted = frozenset(areas)
    calls = session.scalars(
        select(Call)
        .where(Call.status == OPEN, Call.deadline > now, Call.deadline <= now + timedelta(days=days))
        .order_by(Call.deadline, Call.id)
    )
    found = []
    for call in calls:
        if not policy.call_areas(call) & wanted:
            continue
        funnel = funnel_of(session, call)
        reason = funnel.unmet_reason
        if not funnel.consortia_proposed and reason is None and call.pipeline_state != "matched":
            reason = "the call is still being matched with the postings"
        found.append(
            UpcomingCall(
                call,
                funnel.fitting_organisations,
                funnel.consortia_proposed,
                funnel.consortia_accepted,
                reason,
            )
        )
    return found
