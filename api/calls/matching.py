"""Call ↔ posting matching: embed a call, score it against the postings, tell the members whose
postings fit it ("this call fits your need"), and queue the consortium builder.

Calls are few (tens open at once, not thousands), so they get no FAISS index of their own:
a call is scored against the postings through the worker's posting replica (the same
retrieval and features as the matcher), and a new posting is scored against every open call
by brute force, one small matrix product per call. At this scale that is exact and cheaper
than keeping a third index in step on every worker; it would stop paying past a few thousand
open calls. Eligibility (organisation type, TRL range, required area, dates) is a hard filter
applied after scoring; only eligible postings above the calibrated threshold are told.

Idempotent like the posting matcher: one fit per (call, posting) by a unique key, one
notification per organisation user and fit by its dedupe key; messages carry (id, revision).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.calls.eligibility import eligibility
from api.calls.jobs import EMBED_CALL, MATCH_CALL, PROPOSE_CONSORTIA
from api.calls.relevance import (
    CallCalibration,
    CallMatch,
    CallProbe,
    call_probe,
    call_reasons,
    call_representation,
    covered_concepts,
    fitting,
    score_postings,
)
from api.calls.service import OPEN, is_open, terms_of
from api.core.jobs import JobBuffer
from api.matching.replica import IndexReplica, vector_from_bytes
from api.models import Call, CallFit, Notification, Posting
from api.models.base import utcnow
from api.models.enums import PipelineState, PostingStatus
from api.notifications.service import dispatch, notify_organisation
from api.postings.service import open_at_revision
from embeddings.concepts import concept_side
from embeddings.representation import Representation

log = logging.getLogger(__name__)

CALL_FIT = "call.fit"


@dataclass(frozen=True)
class CallEmbeddingTask:
    call_id: int
    revision: int
    representation: Representation


def open_call_at(session: Session, call_id: int, revision: int, now: datetime) -> Call | None:
    """The call, if a message about this revision still matters (open, not edited since)."""
    call = session.get(Call, call_id)
    if call is None or not is_open(call, now) or call.revision != revision:
        return None
    return call


def call_embedding_task(
    session: Session, *, jobs: JobBuffer, call_id: int, revision: int, model: str
) -> CallEmbeddingTask | None:
    """What to embed for this message, or None when there is nothing (left) to do."""
    call = open_call_at(session, call_id, revision, utcnow())
    if call is None:
        return None
    if call.embedded_revision == revision and call.model == model:
        if call.pipeline_state != PipelineState.matched.value:
            jobs.enqueue(MATCH_CALL, call_id, revision)
        return None
    return CallEmbeddingTask(
        call_id, revision, call_representation(call.title, call.description, call.keywords)
    )


def store_call_embedding(
    session: Session,
    *,
    jobs: JobBuffer,
    task: CallEmbeddingTask,
    encoded: np.ndarray,
    model: str,
    multi_vector: np.ndarray | None = None,
    multi_model: str = "",
) -> bool:
    """Store the encoder's rows for the call; False if it moved on meanwhile."""
    call = open_call_at(session, task.call_id, task.revision, utcnow())
    if call is None:
        return False
    probe = call_probe(
        task.representation, encoded, terms=terms_of(call), language=call.language, multi_vector=multi_vector
    )
    call.vector = _to_bytes(probe.vector)
    call.head_vector = _to_bytes(probe.head_vector)
    call.passage_vectors = _to_bytes(probe.passage_vectors)
    call.multi_vector = None if multi_vector is None else _to_bytes(multi_vector)
    call.multi_model = multi_model if multi_vector is not None else ""
    call.terms = probe.terms
    call.model = model
    call.embedded_revision = task.revision
    call.pipeline_state = PipelineState.embedded.value
    call.pipeline_updated_at = utcnow()
    jobs.enqueue(MATCH_CALL, call.id, task.revision)
    return True


def _to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def probe_of_call(call: Call, replica: IndexReplica) -> CallProbe:
    vector = vector_from_bytes(call.vector or b"")
    terms = terms_of(call)
    multi = (
        vector_from_bytes(call.multi_vector)
        if call.multi_vector and replica.multi_model and call.multi_model == replica.multi_model
        else None
    )
    return CallProbe(
        vector=vector,
        head_vector=vector_from_bytes(call.head_vector or b""),
        passage_vectors=vector_from_bytes(call.passage_vectors or b"").reshape(-1, vector.shape[-1]),
        terms=dict(call.terms or {}),
        language=call.language,
        s3_areas=frozenset(terms.s3_areas),
        trl_min=call.trl_min,
        trl_max=call.trl_max,
        multi_vector=multi,
    )


def _searchable(call: Call, replica: IndexReplica) -> bool:
    return call.embedded_revision == call.revision and call.model == replica.model and call.vector is not None


def match_call(
    session: Session,
    *,
    jobs: JobBuffer,
    replica: IndexReplica,
    calibration: CallCalibration,
    call_id: int,
    revision: int,
    max_fits: int,
    now: datetime | None = None,
) -> int:
    """Score one call revision against the open needs and offers; returns the new fits."""
    now = now or utcnow()
    call = open_call_at(session, call_id, revision, now)
    if call is None or call.pipeline_state == PipelineState.matched.value:
        return 0
    if not _searchable(call, replica):
        call.pipeline_state = PipelineState.pending.value  # embedded for another model: again
        jobs.enqueue(EMBED_CALL, call_id, revision)
        return 0
    replica.sync(session)
    probe = probe_of_call(call, replica)
    scored = [m for kind in ("need", "offer") for m in score_postings(replica, probe, kind, calibration)]
    log.debug("call %s best scores: %s", call_id, sorted((m.score for m in scored), reverse=True)[:5])
    matches = fitting(scored, calibration)
    matches.sort(key=lambda m: (-m.score, m.posting_id))
    created, notifications = _record_fits(session, replica, call, matches[:max_fits], now)
    call.pipeline_state = PipelineState.matched.value
    call.pipeline_error = None
    call.pipeline_updated_at = now
    dispatch(session, jobs, notifications)
    # The whole call was matched (new, or its terms edited): its proposals consider every fit again.
    session.execute(update(CallFit).where(CallFit.call_id == call.id).values(proposals_seen_at=None))
    jobs.enqueue(PROPOSE_CONSORTIA, call.id, revision)
    log.info("call %s r%s matched: %d new fits", call_id, revision, created)
    return created


def match_posting_to_calls(
    session: Session,
    *,
    jobs: JobBuffer,
    replica: IndexReplica,
    calibration: CallCalibration,
    posting_id: int,
    revision: int,
    now: datetime | None = None,
) -> int:
    """A need or offer just matched: score it against every open call; returns the new fits."""
    now = now or utcnow()
    posting = open_at_revision(session, posting_id, revision)
    if posting is None:
        return 0
    calls = [
        c
        for c in session.scalars(
            select(Call).where(Call.status == OPEN, Call.deadline > now).order_by(Call.id)
        )
        if _searchable(c, replica)
    ]
    if not calls:
        posting.calls_matched_revision = revision
        return 0
    if not replica.holds(posting_id, revision):  # only this posting is scored: no other row matters
        replica.sync(session)
    if posting_id not in replica:
        return 0  # not embedded for the replica's model yet: its own pipeline comes back here
    posting.calls_matched_revision = revision
    created = 0
    notifications: list[Notification] = []
    for call in calls:
        probe = probe_of_call(call, replica)
        matches = fitting(
            score_postings(replica, probe, posting.kind, calibration, ids=[posting_id]), calibration
        )
        new, told = _record_fits(session, replica, call, matches, now)
        created += new
        notifications += told
        if new:
            jobs.enqueue(PROPOSE_CONSORTIA, call.id, call.revision)
    dispatch(session, jobs, notifications)
    return created


def _record_fits(
    session: Session, replica: IndexReplica, call: Call, matches: list[CallMatch], now: datetime
) -> tuple[int, list[Notification]]:
    """Store the eligible matches as fits and tell their organisations; (new fits, notifications)."""
    if not matches:
        return 0, []
    postings = {
        p.id: p
        for p in session.scalars(
            select(Posting).where(
                Posting.id.in_([m.posting_id for m in matches]), Posting.status == PostingStatus.open.value
            )
        )
    }
    existing = set(
        session.scalars(
            select(CallFit.posting_id).where(
                CallFit.call_id == call.id, CallFit.posting_id.in_(list(postings))
            )
        )
    )
    terms = terms_of(call)
    # Members are told before a call opens too (time to find partners): judged as on opening day.
    judged_at = max(now, call.opens_at)
    call_concepts = concept_side(call.title, call.description, list(call.keywords or []))
    created = 0
    notifications: list[Notification] = []
    for match in matches:
        posting = postings.get(match.posting_id)
        if posting is None or posting.id in existing:
            continue
        verdict = eligibility(
            terms,
            organisation_type=posting.organisation.type,
            posting_trl=posting.trl,
            posting_area=posting.s3_area,
            now=judged_at,
        )
        if not verdict:
            continue
        posting_concepts = concept_side(posting.title, posting.description, list(posting.keywords or []))
        reasons = call_reasons(
            call_concepts,
            posting_concepts,
            weight=replica.lexical.idf,
            score=match.score,
            terms=terms,
            posting_kind=posting.kind,
            posting_area=posting.s3_area,
            posting_trl=posting.trl,
            organisation_type=posting.organisation.type,
            deadline=f"{call.deadline:%Y-%m-%d}",
        )
        covers = covered_concepts(call_concepts, posting_concepts, replica.lexical.idf)
        fit = CallFit(
            call_id=call.id,
            posting_id=posting.id,
            organisation_id=posting.organisation_id,
            score=match.score,
            explanation={"reasons": reasons, "features": match.features, "covers": list(covers)},
            call_revision=call.revision,
            notified_at=now,
        )
        try:
            with session.begin_nested():
                session.add(fit)
        except IntegrityError:
            continue  # found meanwhile by the other direction's matcher (call or posting)
        created += 1
        notifications += notify_organisation(
            session,
            organisation_id=posting.organisation_id,
            kind=CALL_FIT,
            payload=fit_payload(call, posting, match.score, reasons),
            dedupe_key=f"call.fit:{call.id}:{posting.id}",
        )
    return created, notifications


def fit_payload(call: Call, posting: Posting, score: float, reasons: list[dict[str, str]]) -> dict:  # type: ignore[type-arg]
    return {
        "call_id": call.id,
        "title": call.title,
        "programme": call.programme,
        "deadline": call.deadline.isoformat(),
        "score": score,
        "posting": {"id": posting.id, "kind": posting.kind, "title": posting.title},
        "summary": {lang: " ".join(r[lang] for r in reasons[:2]) for lang in ("it", "en")},
        "reasons": reasons,
        "path": f"/calls/{call.id}",
    }
