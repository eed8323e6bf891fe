"""`clustermatch reindex`: bring every stored vector up to date and rebuild the index from them.

Live worker processes notice the new index generation on Redis and reload their replicas.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from api.core.db import unit_of_work
from api.core.encoders import pivot_encoder
from api.core.jobs import JobBuffer, enqueue_broker
from api.core.redis_server import redis_url
from api.core.settings import Settings
from api.matching.replica import IndexReplica, index_config
from api.models import Embedding, Posting
from api.models.base import utcnow
from api.models.enums import PostingStatus
from api.pipeline.service import store_embedding, task_for
from embeddings.encoder import Encoder, MultilingualEncoder, second_encoder
from embeddings.representation import index_model_id, second_model_id

log = logging.getLogger(__name__)

GENERATION_KEY = "clustermatch:index:generation"


@dataclass
class ReindexReport:
    embedded: int = 0
    deactivated: int = 0
    needs: int = 0
    offers: int = 0
    # What the rebuilt replica holds, as a worker holds it: bytes per structure, and its index modes.
    memory: dict[str, int] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)

    def memory_summary(self) -> str:
        """One line: the replica's memory by part and per posting (vectors, second vectors, lexical)."""
        postings = max(self.needs + self.offers, 1)
        parts = ", ".join(
            f"{part} {b / 2**20:.1f} MiB ({b / postings:.0f} B/posting)" for part, b in self.memory.items()
        )
        modes = ", ".join(f"{kind} {mode}" for kind, mode in self.modes.items())
        return f"replica memory: {parts}; vector search: {modes}"


def rebuild_index(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    reembed: bool = False,
    encoder: Encoder | None = None,
    second: MultilingualEncoder | None = None,
) -> ReindexReport:
    report = ReindexReport()
    model = index_model_id(settings.embedding_model)
    multi_model = second_model_id(settings.second_encoder)
    encoder = encoder or pivot_encoder(settings)
    second = second or second_encoder(settings.second_encoder)
    jobs = JobBuffer()

    with unit_of_work(sessions) as session:
        closed = select(Posting.id).where(Posting.status == PostingStatus.closed.value)
        report.deactivated = session.execute(
            update(Embedding)
            .where(Embedding.posting_id.in_(closed), Embedding.active.is_(True))
            .values(active=False, changed_at=utcnow())
        ).rowcount
        query = (
            select(Posting.id, Posting.revision, Posting.title, Posting.description, Posting.keywords)
            .outerjoin(Embedding, Embedding.posting_id == Posting.id)
            .where(Posting.status == PostingStatus.open.value)
            .order_by(Posting.id)
        )
        if not reembed:
            query = query.where(
                or_(
                    Embedding.posting_id.is_(None),
                    Embedding.model != model,
                    Embedding.multi_model != multi_model,
                    Embedding.posting_revision != Posting.revision,
                )
            )
        tasks = [task_for(r, r.revision) for r in tqdm(session.execute(query).all(), desc="analysing")]

    batch = settings.embedding_batch_size
    for start in tqdm(range(0, len(tasks), batch), desc="embedding", unit="batch", disable=not tasks):
        chunk = tasks[start : start + batch]
        texts = [text for task in chunk for text in task.representation.texts]
        encoded = encoder.encode(texts, batch_size=batch)
        multi = second.encode([task.representation.raw for task in chunk]) if second else None
        with unit_of_work(sessions) as session:
            start_row = 0
            for n, task in enumerate(chunk):
                rows = encoded[start_row : start_row + len(task.representation.texts)]
                start_row += len(task.representation.texts)
                report.embedded += store_embedding(
                    session,
                    jobs=jobs,
                    task=task,
                    encoded=rows,
                    model=model,
                    multi_vector=None if multi is None else multi[n],
                    multi_model=multi_model,
                )

    replica = IndexReplica(
        model=model,
        dim=encoder.dim,
        margin_seconds=settings.index_sync_margin_seconds,
        multi_model=multi_model,
        multi_dim=second.dim if second else 0,
        index=index_config(settings),
    )
    with sessions() as session:
        replica.sync(session, progress=True)
    for vector_index in replica.indexes.values():
        vector_index.wait_for_rebuild()
    report.needs, report.offers = len(replica.indexes["need"]), len(replica.indexes["offer"])
    report.memory = replica.memory_bytes()
    report.modes = {kind: replica.indexes[kind].mode for kind in replica.indexes}

    client = redis.Redis.from_url(redis_url(settings))
    try:
        client.incr(GENERATION_KEY)
    except redis.RedisError as exc:
        log.warning("could not tell live workers to reload their index: %s", exc)
    finally:
        client.close()
    broker = enqueue_broker(redis_url(settings))
    try:
        jobs.flush(broker)
    finally:
        broker.close()
    return report
