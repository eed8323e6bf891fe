"""The matcher: search the opposite kind, score the hits, write suggestions and notify.

Idempotent: re-running it for the same posting revision creates nothing new, and the
unique (need, offer) constraint settles races between processes matching both sides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.jobs import DISPATCH_NOTIFICATIONS, EMBED_POSTING, JobBuffer
from api.matching.explain import explanation_of
from api.matching.replica import IndexReplica, vector_from_bytes
from api.models import Embedding, Notification, Posting, Suggestion
from api.models.base import utcnow
from api.models.enums import NotificationKind, PipelineState, PostingStatus, SuggestionStatus
from api.notifications.service import notify_organisation
from api.postings.service import open_at_revision
from api.suggestions.service import summary_payload, withdraw
from embeddings.scoring import PairScore, PostingFeatures, score_pair

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchPolicy:
    candidates: int
    threshold: float
    max_per_posting: int


def features_of(posting: Posting) -> PostingFeatures:
    return PostingFeatures(
        kind=posting.kind,
        title=posting.title,
        description=posting.description,
        keywords=list(posting.keywords or []),
        s3_area=posting.s3_area,
        trl=posting.trl,
    )


def match_posting(
    session: Session,
    *,
    jobs: JobBuffer,
    replica: IndexReplica,
    policy: MatchPolicy,
    posting_id: int,
    revision: int,
) -> int:
    """Match one posting revision; returns how many suggestions it created or revived."""
    posting = open_at_revision(session, posting_id, revision)
    if posting is None:
        return 0
    if posting.pipeline_state == PipelineState.matched.value:
        return 0
    embedding = session.get(Embedding, posting_id)
    if embedding is None or embedding.posting_revision != revision or embedding.model != replica.model:
        # Not embedded (or for another model): send it back to the embedding step.
        posting.pipeline_state = PipelineState.pending.value
        jobs.enqueue(EMBED_POSTING, posting_id, revision)
        return 0

    replica.sync(session)
    vector = vector_from_bytes(embedding.vector)
    opposite = "offer" if posting.kind == "need" else "need"
    hits = dict(replica.search(opposite, vector, policy.candidates))
    candidates = session.scalars(
        select(Posting).where(
            Posting.id.in_(hits),
            Posting.status == PostingStatus.open.value,
            Posting.organisation_id != posting.organisation_id,
        )
    ).all()

    scored = []
    mine = features_of(posting)
    for other in candidates:
        need, offer = (mine, features_of(other)) if posting.kind == "need" else (features_of(other), mine)
        result = score_pair(need, offer, hits[other.id])
        if result.score >= policy.threshold:
            scored.append((result.score, other, result))
    scored.sort(key=lambda item: -item[0])

    notifications: list[Notification] = []
    created = 0
    for _, other, result in scored[: policy.max_per_posting]:
        suggestion, is_new = _upsert_suggestion(session, posting, other, result)
        if is_new:
            created += 1
            notifications += _announce(
                session, suggestion, revision=f"{suggestion.need.revision}.{suggestion.offer.revision}"
            )
    notifications += _rescore_existing(session, posting, vector, policy, keep={o.id for _, o, _ in scored})

    posting.pipeline_state = PipelineState.matched.value
    posting.pipeline_error = None
    posting.pipeline_updated_at = utcnow()
    posting.matched_at = posting.pipeline_updated_at
    if notifications:
        session.flush()
        jobs.enqueue(DISPATCH_NOTIFICATIONS, [n.id for n in notifications])
    log.info("posting %s r%s matched: %d new suggestions", posting_id, revision, created)
    return created


def _pair(posting: Posting, other: Posting) -> tuple[int, int]:
    return (posting.id, other.id) if posting.kind == "need" else (other.id, posting.id)


def _upsert_suggestion(
    session: Session, posting: Posting, other: Posting, result: PairScore
) -> tuple[Suggestion, bool]:
    """Create the pair's suggestion, or revive a withdrawn one; (suggestion, is_new)."""
    need_id, offer_id = _pair(posting, other)
    existing = _find_pair(session, need_id, offer_id)
    if existing is not None:
        if existing.status != SuggestionStatus.withdrawn.value:
            return existing, False
        existing.status = SuggestionStatus.delivered.value
        existing.need_interested = existing.offer_interested = None
        _apply_score(existing, result)
        return existing, True
    suggestion = Suggestion(need_id=need_id, offer_id=offer_id, status=SuggestionStatus.delivered.value)
    _apply_score(suggestion, result)
    try:
        with session.begin_nested():
            session.add(suggestion)
    except IntegrityError:
        # The other side's matcher, in another thread or process, created this pair meanwhile.
        return _find_pair(session, need_id, offer_id), False  # type: ignore[return-value]
    session.refresh(suggestion)
    return suggestion, True


def _find_pair(session: Session, need_id: int, offer_id: int) -> Suggestion | None:
    return session.scalar(
        select(Suggestion).where(Suggestion.need_id == need_id, Suggestion.offer_id == offer_id)
    )


def _apply_score(suggestion: Suggestion, result: PairScore) -> None:
    suggestion.score = result.score
    suggestion.score_parts = result.parts
    suggestion.explanation = explanation_of(result)


def _announce(session: Session, suggestion: Suggestion, *, revision: str) -> list[Notification]:
    created = []
    for side in (suggestion.need, suggestion.offer):
        created += notify_organisation(
            session,
            organisation_id=side.organisation_id,
            kind=NotificationKind.suggestion_new.value,
            payload=summary_payload(suggestion),
            dedupe_key=f"suggestion:{suggestion.id}:new:{revision}",
        )
    return created


def _rescore_existing(
    session: Session, posting: Posting, vector, policy: MatchPolicy, *, keep: set[int]
) -> list[Notification]:
    """After an edit, pairs found earlier are scored again; those below the threshold go."""
    if posting.revision == 1:
        return []
    open_pairs = session.scalars(
        select(Suggestion).where(
            or_(Suggestion.need_id == posting.id, Suggestion.offer_id == posting.id),
            Suggestion.status == SuggestionStatus.delivered.value,
        )
    ).unique()
    notifications: list[Notification] = []
    for suggestion in open_pairs:
        other = suggestion.offer if suggestion.need_id == posting.id else suggestion.need
        if other.id in keep:
            continue
        other_embedding = session.get(Embedding, other.id)
        cosine = float(vector @ vector_from_bytes(other_embedding.vector)) if other_embedding else 0.0
        result = score_pair(features_of(suggestion.need), features_of(suggestion.offer), cosine)
        if result.score >= policy.threshold:
            _apply_score(suggestion, result)
            continue
        for side in (suggestion.need, suggestion.offer):
            notifications += withdraw(session, suggestion=suggestion, notify_org_of=side)
    return notifications
