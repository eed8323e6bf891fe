"""An in-process Dramatiq worker on the real Redis broker, with the real model and FAISS
(a pytest plugin of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import dramatiq
import pytest

from api.core.db import sessions_for
from api.core.jobs import JobBuffer
from api.core.settings import DEFAULT_EMBEDDING_MODEL, Settings
from embeddings.encoder import USE_MULTILINGUAL, Encoder, MultilingualEncoder

QUEUES = ("embedding", "matching", "notifications")


@pytest.fixture(scope="session")
def broker(redis_url: str) -> Iterator[dramatiq.Broker]:
    from workers.broker import install_broker

    broker = install_broker(Settings(redis_url=redis_url, environment="test"))
    import workers.actors  # noqa: F401  (actors bind to the broker installed just above)

    # A failing actor must fail the test at once, not retry with backoff.
    for name in broker.get_declared_actors():
        broker.get_actor(name).options["max_retries"] = 0
    yield broker
    broker.close()


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder(DEFAULT_EMBEDDING_MODEL)


@pytest.fixture(scope="session")
def second() -> MultilingualEncoder:
    return MultilingualEncoder(USE_MULTILINGUAL)


class Pipeline:
    """Send jobs, run them to completion, and look at the database."""

    def __init__(self, settings: Settings, broker: dramatiq.Broker, resources) -> None:  # type: ignore[no-untyped-def]
        self.settings = settings
        self.broker = broker
        self.resources = resources
        self.sessions = sessions_for(settings.resolved_database_url)

    def send(self, jobs: JobBuffer) -> None:
        assert jobs.flush(self.broker) == 0

    def drain(self) -> None:
        # Jobs enqueue follow-up jobs: join every queue until a full pass finds nothing.
        for _ in range(4):
            for queue in QUEUES:
                self.broker.join(queue, timeout=60_000)


@pytest.fixture
def pipeline(
    settings: Settings, broker: dramatiq.Broker, encoder: Encoder, second: MultilingualEncoder
) -> Iterator[Pipeline]:
    from workers import resources

    broker.flush_all()
    worker_resources = resources.build(settings, broker, encoder=encoder, second=second)
    resources.install(worker_resources)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield Pipeline(settings, broker, worker_resources)
    finally:
        worker.stop()
        resources.install(None)
