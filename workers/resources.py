"""What a worker process holds (database, encoder, index replica, Redis), built at boot."""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property

import dramatiq
import numpy as np
import redis
from sqlalchemy.orm import Session, sessionmaker

from api.core.db import sessions_for
from api.core.encoders import pivot_encoder
from api.core.jobs import MATCH_POSTING
from api.core.redis_server import redis_url
from api.core.settings import Settings
from api.core.uow import UnitOfWork, transaction
from api.mail.transport import Transport, transport_for
from api.matching.indexing import GENERATION_KEY
from api.matching.replica import IndexReplica, index_config
from api.matching.service import MatchPolicy
from embeddings.batcher import BatchingEncoder
from embeddings.encoder import Encoder, MultilingualEncoder, second_encoder
from embeddings.representation import Representation, index_model_id, second_model_id

log = logging.getLogger(__name__)

# Under the embed actors' time limit (120 s): the failure is ours, with the posting's or call's id.
ENCODE_TIMEOUT_S = 100


@dataclass
class WorkerResources:
    settings: Settings
    sessions: sessionmaker[Session]
    encoder: BatchingEncoder
    second: BatchingEncoder | None  # the multilingual encoder beside the pivot, if configured
    replica: IndexReplica
    redis: redis.Redis
    broker: dramatiq.Broker
    mail: Transport
    index_generation: bytes | None = None
    # This process serves the matching queue too: what it embeds, it matches in the same message.
    matches_inline: bool = False
    _reload: threading.Thread | None = field(default=None, repr=False)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model(self) -> str:
        return index_model_id(self.settings.embedding_model)

    @property
    def multi_model(self) -> str:
        return second_model_id(self.settings.second_encoder)

    @cached_property
    def match_policy(self) -> MatchPolicy:
        return MatchPolicy.from_settings(self.settings)

    def current_replica(self) -> IndexReplica:
        """The replica. When `clustermatch reindex` published a new index generation, a fresh one
        is loaded from the database in a thread while this one goes on serving (it keeps catching
        up as usual), and replaces it once loaded: matching never waits for a full load."""
        try:
            generation = self.redis.get(GENERATION_KEY)
        except redis.RedisError:
            return self.replica
        with self._reload_lock:
            if generation != self.index_generation and not (self._reload and self._reload.is_alive()):
                log.info("index generation changed: loading a fresh replica beside the current one")
                self.index_generation = generation
                self._reload = threading.Thread(
                    target=self._load_fresh_replica, name="replica-reload", daemon=True
                )
                self._reload.start()
        return self.replica

    def _load_fresh_replica(self) -> None:
        fresh = self.replica.empty_copy()
        try:
            with self.sessions() as session:
                loaded = fresh.sync(session)
        except Exception:
            log.exception(
                "loading a fresh replica failed: the current one goes on serving, retried on the next message"
            )
            with self._reload_lock:
                self.index_generation = None
            return
        self.replica = fresh
        log.info("fresh index replica in service: %d vectors", loaded)

    def encode(self, representation: Representation) -> tuple[np.ndarray, np.ndarray | None]:
        """The pivot rows of a representation's texts and the second encoder's vector of its raw
        text (None without one), both encoders at once: each batches on its own thread, so the
        encode costs the longer of the two."""
        pivot = self.encoder.submit(representation.texts)
        second = self.second.submit([representation.raw]) if self.second else None
        encoded = pivot.result(timeout=ENCODE_TIMEOUT_S)
        return encoded, second.result(timeout=ENCODE_TIMEOUT_S)[0] if second else None

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """One job transaction: committed at the end, then its follow-up jobs are sent."""
        return transaction(self.sessions, self.broker)


_current: WorkerResources | None = None
_lock = threading.Lock()


def build_encoders(settings: Settings) -> tuple[Encoder, MultilingualEncoder | None]:
    """The encoders a worker process runs: the pivot, and the second one if configured.

    The benchmarks time these very objects beside the pipeline (`bench/post_to_suggestion.py`).
    """
    return pivot_encoder(settings), second_encoder(settings.second_encoder)


def build(
    settings: Settings,
    broker: dramatiq.Broker,
    *,
    encoder: Encoder | None = None,
    second: MultilingualEncoder | None = None,
) -> WorkerResources:
    encoder = encoder or pivot_encoder(settings)
    second = second or second_encoder(settings.second_encoder)
    sessions = sessions_for(
        settings.resolved_database_url,
        busy_timeout_ms=settings.database_busy_timeout_ms,
        sqlite_synchronous=settings.database_sqlite_synchronous,
    )
    replica = IndexReplica(
        model=index_model_id(settings.embedding_model),
        dim=encoder.dim,
        margin_seconds=settings.index_sync_margin_seconds,
        multi_model=second_model_id(settings.second_encoder),
        multi_dim=second.dim if second else 0,
        index=index_config(settings),
    )
    client = redis.Redis.from_url(redis_url(settings))
    # Read the generation before loading: a reindex that lands meanwhile triggers a reload.
    try:
        generation = client.get(GENERATION_KEY)
    except redis.RedisError:
        generation = None
    with sessions() as session:
        loaded = replica.sync(session, progress=True)
    log.info("index replica loaded: %d vectors", loaded)
    return WorkerResources(
        settings=settings,
        sessions=sessions,
        encoder=BatchingEncoder(
            encoder, max_batch=settings.embedding_batch_size, max_wait_ms=settings.embedding_batch_wait_ms
        ),
        # Batched too: the second encoder's numpy matmuls gain even more from a batch than torch.
        second=BatchingEncoder(
            second, max_batch=settings.embedding_batch_size, max_wait_ms=settings.embedding_batch_wait_ms
        )
        if second
        else None,
        replica=replica,
        redis=client,
        broker=broker,
        mail=transport_for(settings),
        index_generation=generation,
    )


def install(resources: WorkerResources | None) -> None:
    """Make these the process's resources (the middleware does it at boot; tests call it)."""
    global _current
    with _lock:
        _current = resources


def current() -> WorkerResources:
    if _current is None:
        raise RuntimeError("worker resources are not built: is WorkerResourcesMiddleware installed?")
    return _current


class WorkerResourcesMiddleware(dramatiq.Middleware):
    """Builds the process resources when a worker boots (never at import)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        resources = build(self.settings, broker)
        served = worker.consumer_whitelist  # None or empty: every queue
        resources.matches_inline = not served or MATCH_POSTING.queue_name in served
        install(resources)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        install(None)
