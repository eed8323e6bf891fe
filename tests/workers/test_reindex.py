"""`clustermatch reindex`: stale or missing vectors are embedded again and live replicas reload."""

from __future__ import annotations

import time

import redis
from sqlalchemy import delete, select, update

from api.core.db import unit_of_work
from api.matching.indexing import GENERATION_KEY, rebuild_index
from api.models import Embedding, Posting
from embeddings.representation import index_model_id, second_model_id
from tests.workers.test_pipeline_actors import publish


def test_reindex_restores_lost_and_foreign_vectors_and_tells_workers_to_reload(pipeline, encoder, second):
    need_id, offer_id, other_id = publish(pipeline, *_three_postings())
    with unit_of_work(pipeline.sessions) as session:
        session.execute(delete(Embedding).where(Embedding.posting_id == need_id))
        session.execute(update(Embedding).where(Embedding.posting_id == offer_id).values(model="old-model"))
        session.execute(update(Posting).where(Posting.id == other_id).values(status="closed"))
    client = redis.Redis.from_url(pipeline.settings.redis_url)
    before = int(client.get(GENERATION_KEY) or 0)
    replica = pipeline.resources.current_replica()  # the worker knows the current generation
    old_need_index = replica.indexes["need"]

    report = rebuild_index(pipeline.settings, pipeline.sessions, encoder=encoder, second=second)

    assert report.embedded == 2 and report.deactivated == 1
    assert (report.needs, report.offers) == (1, 1)
    with pipeline.sessions() as session:
        rows = {e.posting_id: e for e in session.scalars(select(Embedding))}
    assert rows[need_id].model == rows[offer_id].model == index_model_id(pipeline.settings.embedding_model)
    multi_model = second_model_id(pipeline.settings.second_encoder)
    assert rows[need_id].multi_model == rows[offer_id].multi_model == multi_model != ""
    assert len(rows[need_id].multi_vector) == 4 * second.dim
    assert rows[other_id].active is False
    assert int(client.get(GENERATION_KEY)) == before + 1
    # It sees the new generation and loads a fresh replica aside, serving the old one meanwhile.
    deadline = time.monotonic() + 60
    while (replica := pipeline.resources.current_replica()).indexes["need"] is old_need_index:
        assert time.monotonic() < deadline, "the fresh replica never replaced the old one"
        time.sleep(0.05)
    with pipeline.sessions() as session:
        replica.sync(session)
    assert need_id in replica.indexes["need"] and other_id not in replica.indexes["offer"]


def _three_postings():  # type: ignore[no-untyped-def]
    from tests.samples import VISION_NEED, VISION_OFFER, WINE_OFFER

    return VISION_NEED, VISION_OFFER, WINE_OFFER
