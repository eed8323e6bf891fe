"""The matcher: rank the opposite kind, apply the delivery rule, write suggestions and notify
(the facilitators first when the clusters review suggestions, else both parties).

Idempotent: re-running it for the same posting revision creates nothing new, and the
unique (need, offer) constraint settles races between processes matching both sides.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.clusters.service import initial_status
from api.core.jobs import EMBED_POSTING, JobBuffer
from api.core.settings import Settings
from api.matching.explain import PostingSummary, explanation_of
from api.matching.ranking import Candidate, Match, clearly_fitting, match_probe, score_against
from api.matching.replica import IndexReplica, PostingFacts, Probe, vector_from_bytes
from api.models import Embedding, Notification, Posting, Suggestion
from api.models.base import utcnow
from api.models.enums import PipelineState, PostingStatus, SuggestionStatus
from api.notifications.service import dispatch
from api.postings.service import open_at_revision
from api.suggestions.capacity import Budget, deliver_or_wait
from api.suggestions.service import OPEN_STATUSES, announce, withdraw
from embeddings.concepts import concept_side
from embeddings.scoring import Calibration

log = logging.getLogger(__name__)

# Open pairs the parties have not seen: a better offer for the need may still replace them.
NEVER_SEEN = (SuggestionStatus.pending_review.value, SuggestionStatus.waiting.value)


@dataclass(frozen=True)
class MatchPolicy:
    candidates: int  # per retriever (vector and lexical)
    calibration: Calibration
    max_per_posting: int
    auto_deliver_above: float | None  # review policy of clusters without their own
    budget: Budget  # what each organisation receives a day

    @classmethod
    def from_settings(cls, settings: Settings) -> MatchPolicy:
        calibration = Calibration.load(settings.match_calibration)
        return cls(
            settings.match_candidates,
            calibration,
            settings.match_max_per_posting,
            settings.review_auto_deliver_above,
            Budget.from_settings(settings),
        )


def probe_of(posting: Posting, embedding: Embedding, multi_model: str = "") -> Probe:
    return Probe(
        posting.id,
        PostingFacts(posting.kind, posting.organisation_id, posting.s3_area, posting.trl, posting.language),
        vector_from_bytes(embedding.vector),
        vector_from_bytes(embedding.head_vector or b""),
        dict(embedding.terms or {}),
        # Another second encoder's vector is not comparable with the replica's: left out (unknown).
        vector_from_bytes(embedding.multi_vector)
        if embedding.multi_vector and multi_model and embedding.multi_model == multi_model
        else None,
    )


@dataclass(frozen=True)
class MatchRead:
    """What a match step reads before ranking: the posting as a probe, or why there is none."""

    probe: Probe | None
    re_embed: bool = False  # not embedded at this revision (or for another model)
    sync_ms: float = 0.0


def match_posting(
    session: Session,
    *,
    jobs: JobBuffer,
    replica: IndexReplica,
    policy: MatchPolicy,
    posting_id: int,
    revision: int,
) -> int:
    """Match one posting revision in one transaction; returns how many suggestions it created or
    revived. The worker runs the same three steps in two transactions, ranking in neither
    (`workers.actors.match`)."""
    read = read_for_match(session, replica=replica, posting_id=posting_id, revision=revision)
    match = rank_for_match(replica, policy, read)
    return write_match(
        session, jobs=jobs, replica=replica, policy=policy, posting_id=posting_id, revision=revision,
        read=read, match=match,
    )  # fmt: skip


def read_for_match(session: Session, *, replica: IndexReplica, posting_id: int, revision: int) -> MatchRead:
    """The posting revision to match, with the replica caught up; nothing is written."""
    posting = open_at_revision(session, posting_id, revision)
    if posting is None or posting.pipeline_state == PipelineState.matched.value:
        return MatchRead(None)
    embedding = session.get(Embedding, posting_id)
    if (
        embedding is None
        or embedding.posting_revision != revision
        or embedding.model != replica.model
        or embedding.head_vector is None
    ):
        return MatchRead(None, re_embed=True)
    started = time.perf_counter()
    replica.sync(session)
    return MatchRead(
        probe_of(posting, embedding, replica.multi_model), sync_ms=(time.perf_counter() - started) * 1000
    )


def rank_for_match(replica: IndexReplica, policy: MatchPolicy, read: MatchRead) -> Match | None:
    """Rank and apply the delivery rule: memory only, no database."""
    if read.probe is None:
        return None
    return match_probe(
        replica, read.probe, policy.calibration, candidates=policy.candidates, limit=policy.max_per_posting
    )


def write_match(
    session: Session,
    *,
    jobs: JobBuffer,
    replica: IndexReplica,
    policy: MatchPolicy,
    posting_id: int,
    revision: int,
    read: MatchRead,
    match: Match | None,
) -> int:
    """Store what a match found: suggestions, notifications, the posting marked matched.

    The posting is read again: if it was edited, closed or matched since the read, this step
    writes nothing (the new revision has its own step, and the unique (need, offer) constraint
    settles a race with the other side's step).
    """
    posting = open_at_revision(session, posting_id, revision)
    if posting is None or posting.pipeline_state == PipelineState.matched.value:
        return 0
    if read.re_embed:
        # Not embedded (or for another model): send it back to the embedding step.
        posting.pipeline_state = PipelineState.pending.value
        jobs.enqueue(EMBED_POSTING, posting_id, revision)
        return 0
    if match is None or read.probe is None:
        return 0
    started = time.perf_counter()
    probe, ranked, chosen = read.probe, match.ranked, match.chosen
    others = {
        p.id: p
        for p in session.scalars(
            select(Posting).where(
                Posting.id.in_([c.posting_id for c in chosen]), Posting.status == PostingStatus.open.value
            )
        )
    }

    notifications: list[Notification] = []
    created = 0
    for candidate in chosen:
        other = others.get(candidate.posting_id)
        if other is None:
            continue  # closed after the replica last caught up
        suggestion, is_new = _upsert_suggestion(session, replica, policy, posting, other, candidate)
        if is_new:
            created += 1
            notifications += announce(session, suggestion)
    notifications += _rescore_existing(
        session, replica, policy, probe, revision=revision, keep={c.posting_id for c in chosen}
    )
    if posting.kind == "offer":
        for need in chosen:
            _drop_displaced(
                session,
                need.posting_id,
                clearly_fitting(match.ranking_of(need.posting_id), policy.calibration),
            )

    _update_nearest(session, posting_id, ranked, policy.calibration)
    posting.nearest = (
        None if chosen else nearest_of({str(c.posting_id): c.score for c in ranked}, policy.calibration)
    )
    posting.pipeline_state = PipelineState.matched.value
    posting.pipeline_error = None
    posting.pipeline_updated_at = utcnow()
    posting.matched_at = posting.pipeline_updated_at
    dispatch(session, jobs, notifications)
    log.info(
        "posting %s r%s matched: %d new suggestions (sync %.0f ms, write %.0f ms)",
        posting_id,
        revision,
        created,
        read.sync_ms,
        (time.perf_counter() - started) * 1000,
    )
    return created


NEAREST_SHOWN = 3


def nearest_of(scores: dict[str, float], calibration: Calibration) -> dict[str, object]:
    """The best few candidates' scores, for the owner of a posting without a suggestion."""
    best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:NEAREST_SHOWN]
    return {"scores": dict(best), "threshold": calibration.threshold}


def _update_nearest(
    session: Session, probe_id: int, ranked: list[Candidate], calibration: Calibration
) -> None:
    """An arriving posting may be the closest yet to postings still without a suggestion."""
    scores = {c.posting_id: c.score for c in ranked[: NEAREST_SHOWN * 3]}
    for other in session.scalars(
        select(Posting).where(Posting.id.in_(list(scores)), Posting.nearest.is_not(None))
    ):
        if other.nearest is None:
            continue  # it got a suggestion in this very step (not flushed yet)
        merged = {**other.nearest["scores"], str(probe_id): scores[other.id]}
        other.nearest = nearest_of(merged, calibration)


def _pair(posting: Posting, other: Posting) -> tuple[int, int]:
    return (posting.id, other.id) if posting.kind == "need" else (other.id, posting.id)


def _upsert_suggestion(
    session: Session,
    replica: IndexReplica,
    policy: MatchPolicy,
    posting: Posting,
    other: Posting,
    candidate: Candidate,
) -> tuple[Suggestion, bool]:
    """Create the pair's suggestion, or revive a withdrawn one; (suggestion, is_new).

    A pair a facilitator rejected or a party declined is never suggested again.
    """
    need_id, offer_id = _pair(posting, other)
    existing = _find_pair(session, need_id, offer_id)
    if existing is not None:
        if existing.status != SuggestionStatus.withdrawn.value:
            return existing, False
        _set_first_status(session, policy, existing, candidate)
        existing.need_interested = existing.offer_interested = None
        _apply_score(existing, replica, policy, candidate)
        posting.nearest = other.nearest = None
        return existing, True
    suggestion = Suggestion(need_id=need_id, offer_id=offer_id, status=SuggestionStatus.waiting.value)
    suggestion.need, suggestion.offer = (posting, other) if posting.kind == "need" else (other, posting)
    _apply_score(suggestion, replica, policy, candidate)
    try:
        with session.begin_nested():
            session.add(suggestion)
    except IntegrityError:
        # The other side's matcher, in another thread or process, created this pair meanwhile.
        return _find_pair(session, need_id, offer_id), False  # type: ignore[return-value]
    _set_first_status(session, policy, suggestion, candidate)
    posting.nearest = other.nearest = None  # both sides have a suggestion now
    return suggestion, True


def _set_first_status(
    session: Session, policy: MatchPolicy, suggestion: Suggestion, candidate: Candidate
) -> None:
    """Waiting for a facilitator, unless the clusters' policies let a score this high through;
    then out to the parties, or waiting for their budget."""
    areas = {suggestion.need.s3_area, suggestion.offer.s3_area}
    status = initial_status(session, areas, candidate.score, default=policy.auto_deliver_above)
    if status == SuggestionStatus.delivered.value:
        deliver_or_wait(session, suggestion, policy.budget, utcnow())
    else:
        suggestion.status = status


def _find_pair(session: Session, need_id: int, offer_id: int) -> Suggestion | None:
    # The id first: most pairs are new, and the whole row joins both postings and organisations.
    found = session.scalar(
        select(Suggestion.id).where(Suggestion.need_id == need_id, Suggestion.offer_id == offer_id)
    )
    return None if found is None else session.get(Suggestion, found)


def _apply_score(
    suggestion: Suggestion, replica: IndexReplica, policy: MatchPolicy, candidate: Candidate
) -> None:
    suggestion.score = candidate.score
    suggestion.score_parts = candidate.features
    suggestion.explanation = explanation_of(
        _summary_of(suggestion.need),
        _summary_of(suggestion.offer),
        score=candidate.score,
        features=candidate.features,
        contributions=policy.calibration.contributions(candidate.features),
        weight=replica.lexical.idf,
    )


def _summary_of(posting: Posting) -> PostingSummary:
    keywords = list(posting.keywords or [])
    return PostingSummary(
        kind=posting.kind,
        language=posting.language,
        s3_area=posting.s3_area,
        trl=posting.trl,
        description=posting.description,
        keywords=keywords,
        concepts=concept_side(posting.title, posting.description, keywords),
    )


def _rescore_existing(
    session: Session,
    replica: IndexReplica,
    policy: MatchPolicy,
    probe: Probe,
    *,
    revision: int,
    keep: set[int],
) -> list[Notification]:
    """After an edit, pairs found earlier are scored again; those below the threshold go."""
    if revision == 1:
        return []
    open_pairs = session.scalars(
        select(Suggestion).where(
            or_(Suggestion.need_id == probe.posting_id, Suggestion.offer_id == probe.posting_id),
            Suggestion.status.in_(OPEN_STATUSES),
        )
    ).unique()
    notifications: list[Notification] = []
    for suggestion in open_pairs:
        other_id = suggestion.offer_id if suggestion.need_id == probe.posting_id else suggestion.need_id
        if other_id in keep:
            continue
        if other_id in replica:
            [candidate] = score_against(replica, probe, [other_id], policy.calibration)
            if candidate.score >= policy.calibration.threshold:
                _apply_score(suggestion, replica, policy, candidate)
                continue
        notifications += withdraw(session, suggestion=suggestion, notify=(suggestion.need, suggestion.offer))
    return notifications


def _drop_displaced(session: Session, need_id: int, fitting: list[Candidate]) -> None:
    """A better offer arrived: the need's waiting pairs that no longer clearly fit it are withdrawn.

    Only pairs the parties never saw (still waiting for review): so the pairs a need ends up
    with do not depend on the order its offers arrived in, and nobody is told anything twice.
    """
    keep = {c.posting_id for c in fitting}
    waiting = session.scalars(
        select(Suggestion).where(
            Suggestion.need_id == need_id,
            Suggestion.status.in_(NEVER_SEEN),
            Suggestion.offer_id.not_in(keep),
        )
    ).unique()
    for suggestion in waiting:
        withdraw(session, suggestion=suggestion, notify=())
