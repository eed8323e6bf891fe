"""The FAISS replica follows the embeddings table, including rows that commit late."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import delete, select, update

from api.core.db import sessions_for, unit_of_work
from api.core.jobs import JobBuffer
from api.matching.replica import TOMBSTONES_KEPT, IndexReplica, prune_tombstones
from api.models import Embedding, EmbeddingTombstone
from api.models.base import utcnow
from embeddings.index import VectorIndex
from tests import factories
from tests.samples import VISION_NEED, VISION_OFFER

DIM = 8


def store(session, posting, vector, changed_at=None):  # type: ignore[no-untyped-def]
    raw = np.asarray(vector, dtype="<f4").tobytes()
    session.merge(
        Embedding(
            posting_id=posting.id,
            kind=posting.kind,
            model="m",
            dim=DIM,
            vector=raw,
            head_vector=raw,
            terms={"vision": 1, f"posting{posting.id}": 1},
            posting_revision=1,
            active=True,
            changed_at=changed_at or utcnow(),
        )
    )


def test_replica_catches_up_with_inserts_late_commits_and_deactivations(settings):
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=60)
    rng = np.random.default_rng(1)
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        need = factories.posting(session, JobBuffer(), author, VISION_NEED)
        offers = [factories.posting(session, JobBuffer(), author, VISION_OFFER) for _ in range(3)]
        store(session, need, rng.normal(size=DIM))
        store(session, offers[0], rng.normal(size=DIM))
    assert not replica.holds(need.id, 1)
    with sessions() as session:
        assert replica.sync(session) == 2
    assert len(replica.indexes["need"]) == 1 and len(replica.indexes["offer"]) == 1
    # What a step that scores only this posting asks before skipping its catch-up.
    assert replica.holds(need.id, 1) and not replica.holds(need.id, 2) and not replica.holds(offers[1].id, 1)
    assert len(replica.lexical) == 2 and replica.facts[need.id].s3_area == need.s3_area
    probe = replica.probe(need.id)
    assert probe.terms == {"vision": 1, f"posting{need.id}": 1} and probe.facts.kind == "need"

    # A transaction that started before the last catch-up but committed after it.
    with unit_of_work(sessions) as session:
        store(session, offers[1], rng.normal(size=DIM), changed_at=utcnow() - timedelta(seconds=30))
        store(session, offers[2], rng.normal(size=DIM), changed_at=utcnow() - timedelta(seconds=300))
    with sessions() as session:
        replica.sync(session)
    assert offers[1].id in replica.indexes["offer"]
    assert offers[2].id not in replica.indexes["offer"]  # beyond the margin: documented limit

    with unit_of_work(sessions) as session:
        session.execute(
            update(Embedding)
            .where(Embedding.posting_id == offers[0].id)
            .values(active=False, changed_at=utcnow())
        )
    with sessions() as session:
        replica.sync(session)
    assert offers[0].id not in replica.indexes["offer"] and offers[0].id not in replica
    assert not replica.holds(offers[0].id, 1)  # deactivated
    assert replica.lexical.search("offer", {f"posting{offers[0].id}": 1}, 5) == []
    hits = replica.search("offer", np.ones(DIM, dtype=np.float32), 10)
    assert [posting_id for posting_id, _ in hits] == [offers[1].id]

    replica.reset()
    with sessions() as session:
        replica.sync(session)  # a full reload sees everything, whatever its age
    assert offers[2].id in replica.indexes["offer"]


def test_second_vectors_enter_their_own_index_only_from_the_configured_encoder(settings):
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=60, multi_model="use+raw-1", multi_dim=4)
    multi = np.asarray([1, 0, 0, 0], dtype="<f4")
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        need = factories.posting(session, JobBuffer(), author, VISION_NEED)
        current, stale = (factories.posting(session, JobBuffer(), author, VISION_OFFER) for _ in range(2))
        for posting in (need, current, stale):
            store(session, posting, np.ones(DIM))
        session.flush()
        for posting, model in ((need, "use+raw-1"), (current, "use+raw-1"), (stale, "other+raw-1")):
            session.execute(
                update(Embedding)
                .where(Embedding.posting_id == posting.id)
                .values(multi_vector=multi.tobytes(), multi_model=model)
            )
    with sessions() as session:
        replica.sync(session)
    probe = replica.probe(need.id)
    assert probe.multi_vector is not None and probe.multi_vector.tolist() == [1, 0, 0, 0]
    # Another encoder's vector is not comparable: it reads as zeros (unknown) until reindexed.
    hits = dict(replica.search_multi("offer", probe.multi_vector, 5))
    assert hits[current.id] == 1.0 and hits[stale.id] == 0.0
    assert replica.search_multi("offer", None, 5) == []
    assert IndexReplica(model="m", dim=DIM, margin_seconds=60).search_multi("offer", multi, 5) == []


def test_a_row_inside_the_margin_window_is_applied_once(settings, monkeypatch):
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=600)
    upserted: list[int] = []
    real_upsert = VectorIndex.upsert

    def counting_upsert(self, ids, vectors):  # type: ignore[no-untyped-def]
        upserted.extend(int(i) for i in ids)
        return real_upsert(self, ids, vectors)

    monkeypatch.setattr(VectorIndex, "upsert", counting_upsert)
    rng = np.random.default_rng(2)
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        need = factories.posting(session, JobBuffer(), author, VISION_NEED)
        offer = factories.posting(session, JobBuffer(), author, VISION_OFFER)
        store(session, need, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
        replica.sync(session)  # the need's row is read again (inside the margin) but not re-applied
    assert upserted.count(need.id) == 2  # once into the whole-text index, once into the heads
    with unit_of_work(sessions) as session:
        store(session, offer, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
        replica.sync(session)
    assert upserted.count(need.id) == 2 and upserted.count(offer.id) == 2
    assert replica.rows_applied == 2

    # A change moves changed_at: the row is applied again, once.
    with unit_of_work(sessions) as session:
        store(session, need, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
        replica.sync(session)
    assert upserted.count(need.id) == 4


def test_tombstones_still_drop_erased_rows_once_and_a_reused_id_comes_back(settings):
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=600)
    rng = np.random.default_rng(4)
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        offer = factories.posting(session, JobBuffer(), author, VISION_OFFER)
        store(session, offer, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
    assert offer.id in replica
    with unit_of_work(sessions) as session:
        session.execute(delete(Embedding).where(Embedding.posting_id == offer.id))
        session.add(EmbeddingTombstone(posting_id=offer.id, kind="offer", deleted_at=utcnow()))
    with sessions() as session:
        replica.sync(session)
    assert offer.id not in replica and offer.id not in replica.indexes["offer"]
    assert replica.lexical.search("offer", {f"posting{offer.id}": 1}, 5) == []
    # The id comes back (a later row for it): the tombstone, read again in the window, is not re-applied.
    with unit_of_work(sessions) as session:
        store(session, offer, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
        replica.sync(session)
    assert offer.id in replica.indexes["offer"]


def test_near_searches_prepared_in_one_batch_answer_as_single_searches(settings):
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=60)
    rng = np.random.default_rng(5)
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        needs = [factories.posting(session, JobBuffer(), author, VISION_NEED) for _ in range(4)]
        offers = [factories.posting(session, JobBuffer(), author, VISION_OFFER) for _ in range(6)]
        for posting in needs + offers:
            store(session, posting, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
    view = replica.with_reverse_searches([n.id for n in needs], 3)
    for need in needs:
        probe = replica.probe(need.id)
        assert view.probe(need.id).vector.tolist() == probe.vector.tolist()
        batched, single = view.near(probe, 3), replica.near(probe, 3)
        assert [i for i, _ in batched] == [i for i, _ in single]  # scores equal to float rounding
        assert np.allclose([s for _, s in batched], [s for _, s in single], atol=1e-5)
        assert view.lexical.search("offer", view.probe(need.id).terms, 3) == replica.lexical.search(
            "offer", probe.terms, 3
        )
    assert view.nearby and view.facts is replica.facts


def test_old_tombstones_are_pruned_and_a_replica_idle_beyond_them_loads_in_full(settings):
    sessions = sessions_for(settings.resolved_database_url)
    replica = IndexReplica(model="m", dim=DIM, margin_seconds=600)
    rng = np.random.default_rng(6)
    with unit_of_work(sessions) as session:
        author = factories.member(session)
        kept, erased = (factories.posting(session, JobBuffer(), author, VISION_OFFER) for _ in range(2))
        for posting in (kept, erased):
            store(session, posting, rng.normal(size=DIM))
    with sessions() as session:
        replica.sync(session)
    assert erased.id in replica
    # Erased over a week ago: the tombstone is gone by the time this replica catches up again.
    long_ago = utcnow() - TOMBSTONES_KEPT - timedelta(hours=1)
    with unit_of_work(sessions) as session:
        session.execute(delete(Embedding).where(Embedding.posting_id == erased.id))
        session.add(EmbeddingTombstone(posting_id=erased.id, kind="offer", deleted_at=long_ago))
        session.add(EmbeddingTombstone(posting_id=10**6, kind="offer", deleted_at=utcnow()))
    with unit_of_work(sessions) as session:
        assert prune_tombstones(session, now=utcnow()) == 1
    with sessions() as session:
        assert session.scalars(select(EmbeddingTombstone.posting_id)).all() == [10**6]
    replica._synced_from = long_ago  # idle since before the pruned tombstone
    with sessions() as session:
        replica.sync(session)
    assert erased.id not in replica and erased.id not in replica.indexes["offer"]
    assert kept.id in replica.indexes["offer"]
