"""Pipeline steps around the encoder, and the reconciler.

The encoder runs outside any transaction: a step reads what to embed, the caller encodes,
another short transaction stores the vector (checking the posting did not change meanwhile).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.jobs import EMBED_POSTING, MATCH_POSTING, JobBuffer
from api.models import Embedding, Posting
from api.models.base import utcnow
from api.models.enums import PipelineState, PostingStatus
from api.postings.service import close, open_at_revision
from embeddings.representation import Representation, represent, vectors_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingTask:
    posting_id: int
    revision: int
    representation: Representation


def task_for(posting: Posting | object, revision: int) -> EmbeddingTask:
    """What the encoder must embed for this posting (its English pivot texts)."""
    return EmbeddingTask(
        posting.id,  # type: ignore[attr-defined]
        revision,
        represent(posting.title, posting.description, list(posting.keywords or [])),  # type: ignore[attr-defined]
    )


def embedding_task(
    session: Session, *, jobs: JobBuffer, posting_id: int, revision: int, model: str, multi_model: str = ""
) -> EmbeddingTask | None:
    """What to embed for this message, or None when there is nothing (left) to do."""
    posting = open_at_revision(session, posting_id, revision)
    if posting is None:
        return None
    embedding = session.get(Embedding, posting_id)
    if (
        embedding is not None
        and embedding.posting_revision == revision
        and embedding.model == model
        and embedding.multi_model == multi_model
    ):
        # Already embedded by an earlier delivery of this message: move on to matching.
        if posting.pipeline_state != PipelineState.matched.value:
            jobs.enqueue(MATCH_POSTING, posting_id, revision)
        return None
    return task_for(posting, revision)


def store_embedding(
    session: Session,
    *,
    jobs: JobBuffer,
    task: EmbeddingTask,
    encoded: np.ndarray,
    model: str,
    multi_vector: np.ndarray | None = None,
    multi_model: str = "",
    enqueue_match: bool = True,
) -> bool:
    """Store the encoder's rows for `task.representation.texts` (and the second encoder's vector
    of `task.representation.raw`, if any); False if the posting moved on. The matching step is
    enqueued with the commit, unless the caller runs it itself once committed (`enqueue_match`)."""
    posting = open_at_revision(session, task.posting_id, task.revision)
    if posting is None:
        return False  # closed or edited while we were encoding
    now = utcnow()
    vector, head_vector = vectors_of(encoded)
    embedding = session.get(Embedding, task.posting_id)
    if embedding is None:
        embedding = Embedding(posting_id=task.posting_id)
        session.add(embedding)
    embedding.kind = posting.kind
    embedding.model = model
    embedding.dim = int(vector.shape[-1])
    embedding.vector = _to_bytes(vector)
    embedding.head_vector = _to_bytes(head_vector)
    embedding.terms = task.representation.terms
    embedding.multi_vector = None if multi_vector is None else _to_bytes(multi_vector)
    embedding.multi_model = multi_model if multi_vector is not None else ""
    embedding.posting_revision = task.revision
    embedding.active = True
    embedding.changed_at = now
    posting.pipeline_state = PipelineState.embedded.value
    posting.pipeline_updated_at = now
    if enqueue_match:
        jobs.enqueue(MATCH_POSTING, task.posting_id, task.revision)
    return True


def _to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def record_failure(session: Session, *, posting_id: int, error: str) -> None:
    """Keep the last error on the posting; the reconciler decides when to give up."""
    posting = session.get(Posting, posting_id)
    if posting is not None:
        posting.pipeline_error = error[:2000]


@dataclass(frozen=True)
class ReconcilePolicy:
    stale_after: timedelta
    max_attempts: int


@dataclass
class ReconcileReport:
    requeued: int = 0
    failed: int = 0
    expired: int = 0


def reconcile(
    session: Session, *, jobs: JobBuffer, policy: ReconcilePolicy, busy_queues: frozenset[str] = frozenset()
) -> ReconcileReport:
    """Re-enqueue postings stuck before `matched`; give up after max attempts; close expired ones.

    A posting whose next step's queue has messages waiting for a worker (`busy_queues`) is
    waiting its turn, not stuck: it is neither re-enqueued nor counted as an attempt, so a long
    backlog never turns into false failures. Messages held by a dead worker, or lost with a
    Redis that restarted empty, leave the queue idle, and the posting is rescued as before.

    Covers a Redis that was down when a posting was accepted, and a worker that died with the
    message: the database, not the broker, says what is left to do.
    """
    report = ReconcileReport()
    now = utcnow()
    stuck = session.scalars(
        select(Posting)
        .where(
            Posting.pipeline_state.in_([PipelineState.pending.value, PipelineState.embedded.value]),
            Posting.status == PostingStatus.open.value,
            Posting.pipeline_updated_at < now - policy.stale_after,
        )
        .order_by(Posting.pipeline_updated_at)
        .limit(500)
    )
    for posting in stuck:
        job = EMBED_POSTING if posting.pipeline_state == PipelineState.pending.value else MATCH_POSTING
        if job.queue_name in busy_queues:
            continue
        if posting.pipeline_attempts >= policy.max_attempts:
            posting.pipeline_state = PipelineState.failed.value
            posting.pipeline_error = f"gave up after {posting.pipeline_attempts} attempts" + (
                f": {posting.pipeline_error}" if posting.pipeline_error else ""
            )
            report.failed += 1
            log.error("posting %s failed: %s", posting.id, posting.pipeline_error)
            continue
        posting.pipeline_attempts += 1
        posting.pipeline_updated_at = now
        jobs.enqueue(job, posting.id, posting.revision)
        report.requeued += 1
        log.warning(
            "posting %s stuck in %s: re-enqueued (attempt %d)",
            posting.id,
            posting.pipeline_state,
            posting.pipeline_attempts,
        )
    expired = session.scalars(
        select(Posting).where(Posting.status == PostingStatus.open.value, Posting.expires_at < now).limit(500)
    )
    for posting in expired:
        close(session, jobs=jobs, posting=posting)
        report.expired += 1
    return report
