import threading
from dataclasses import replace

import numpy as np

from embeddings import index as index_module
from embeddings.index import IndexConfig, VectorIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_search_returns_database_ids_by_cosine():
    index = VectorIndex(4)
    vectors = unit(np.eye(4))
    index.upsert([10, 20, 30, 40], vectors)
    scores, ids = index.search(vectors[2:3], 2)
    assert ids[0][0] == 30 and abs(scores[0][0] - 1.0) < 1e-6


def test_upsert_replaces_and_remove_deletes():
    index = VectorIndex(4)
    index.upsert([1, 2], unit(np.eye(4)[:2]))
    index.upsert([1], unit(np.eye(4)[3:4]))  # posting 1 re-embedded
    assert len(index) == 2
    _, ids = index.search(unit(np.eye(4)[3:4]), 1)
    assert ids[0][0] == 1
    index.remove([1, 99])
    assert len(index) == 1 and 1 not in index
    _, ids = index.search(unit(np.eye(4)[3:4]), 5)
    assert list(ids[0]) == [2]


def test_empty_index_search_returns_nothing():
    scores, ids = VectorIndex(4).search(unit(np.ones((1, 4))), 5)
    assert ids.shape == (1, 0)


def test_snapshot_round_trip(tmp_path):
    index = VectorIndex(8)
    rng = np.random.default_rng(0)
    index.upsert(list(range(100, 150)), unit(rng.normal(size=(50, 8))))
    index.save(tmp_path / "need.faiss")
    loaded = VectorIndex.load(tmp_path / "need.faiss")
    query = unit(rng.normal(size=(1, 8)))
    assert len(loaded) == 50
    assert (loaded.search(query, 5)[1] == index.search(query, 5)[1]).all()


def clustered(n: int, dim: int = 16, topics: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(topics, dim)))
    return unit(centres[rng.integers(topics, size=n)] + 0.5 * rng.normal(size=(n, dim)) / np.sqrt(dim))


def recall_at_10(index: VectorIndex, vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray) -> float:
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    _, found = index.search(queries, 10)
    return float(np.mean([len(set(f) & set(ids[t])) / 10 for f, t in zip(found, truth, strict=True)]))


SMALL = IndexConfig(exact_max=300, factory="IVF{nlist},SQ8", nprobe=16)  # the product's nprobe


def test_index_switches_from_exact_to_approximate_past_the_threshold_and_keeps_recall():
    vectors = clustered(2000)
    ids = np.arange(1000, 3000)
    index = VectorIndex(16, SMALL)
    index.upsert(ids[:300], vectors[:300])
    assert index.mode == "exact"
    for start in range(300, 2000, 100):  # growing as catch-ups add rows
        index.upsert(ids[start : start + 100], vectors[start : start + 100])
    index.wait_for_rebuild()
    index.rebuild()  # the last growth may have started before the final rows: now trained on all
    assert index.mode == "approximate" and len(index) == 2000
    assert recall_at_10(index, vectors, ids, clustered(50, seed=1)) >= 0.9
    # Stored vectors read back from the 8-bit codes: close to the originals.
    assert np.abs(index.vectors(ids[:5]) - vectors[:5]).max() < 0.05


def test_approximate_removals_and_replacements_never_return_dead_rows():
    vectors = clustered(1000)
    ids = np.arange(1, 1001)
    index = VectorIndex.from_arrays(16, ids, vectors, SMALL)
    assert index.mode == "approximate"
    index.remove(ids[:100].tolist())
    index.upsert([500], vectors[:1])  # posting 500 re-embedded as posting 1's vector
    _, found = index.search(vectors[:100], 10)
    assert not set(found.ravel().tolist()) & set(range(1, 101))
    assert 500 in found[0] and len(index) == 900 and 1 not in index


def test_exact_removal_moves_the_last_row_into_the_hole():
    vectors = unit(np.random.default_rng(3).normal(size=(5, 4)))
    index = VectorIndex(4)
    index.upsert([1, 2, 3, 4, 5], vectors)
    index.remove([2])
    assert len(index) == 4 and 2 not in index
    np.testing.assert_array_equal(index.vectors([5, 1]), vectors[[4, 0]])
    _, ids = index.search(vectors[4:5], 1)
    assert ids[0][0] == 5


def test_batched_search_answers_as_single_searches_do():
    vectors = clustered(500)
    index = VectorIndex.from_arrays(16, np.arange(500), vectors)
    queries = clustered(30, seed=2)
    _, batched = index.search(queries, 10)
    singles = np.stack([index.search(q[None, :], 10)[1][0] for q in queries])
    np.testing.assert_array_equal(batched, singles)


def test_rebuild_happens_aside_while_searches_and_writes_go_on(monkeypatch):
    vectors = clustered(1200)
    ids = np.arange(1, 1201)
    index = VectorIndex(16, SMALL)
    index.upsert(ids[:300], vectors[:300])
    release, building = threading.Event(), threading.Event()
    real_build = index_module._build

    def slow_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        building.set()
        assert release.wait(10)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(index_module, "_build", slow_build)
    index.upsert(ids[300:1000], vectors[300:1000])  # past the threshold: the rebuild starts aside
    assert building.wait(10)
    # Meanwhile the current (exact) index answers and takes writes.
    _, found = index.search(vectors[:1], 1)
    assert found[0][0] == 1 and index.mode == "exact"
    index.upsert(ids[1000:], vectors[1000:])
    index.remove([2])
    release.set()
    index.wait_for_rebuild()
    # The swapped-in index holds what was written during the build.
    assert index.mode == "approximate" and len(index) == 1199 and 2 not in index and 1200 in index
    _, found = index.search(vectors[1199:1200], 1)
    assert found[0][0] == 1200


def test_lists_grow_as_four_square_roots_a_power_of_two():
    config = IndexConfig()
    assert [config.nlist_for(n) for n in (100_000, 250_000, 1_000_000, 4_000_000)] == [1024, 2048, 4096, 8192]


def test_cached_search_parameters_follow_removals_and_additions():
    vectors = clustered(1000)
    ids = np.arange(1, 1001)
    index = VectorIndex.from_arrays(16, ids, vectors, SMALL)
    _, found = index.search(vectors[:1], 5)  # parameters cached with no dead slot
    assert found[0][0] == 1
    index.remove([1])  # the first dead slot: the next search must carry a selector
    _, found = index.search(vectors[:1], 5)
    assert 1 not in found[0]
    index.upsert([2000], vectors[:1])  # a new slot past the cached selector's range
    _, found = index.search(vectors[:1], 5)
    assert found[0][0] == 2000 and 1 not in found[0]


def test_an_approximate_search_short_of_k_results_pads_with_minus_one():
    vectors = clustered(1000)
    index = VectorIndex.from_arrays(16, np.arange(1, 1001), vectors, replace(SMALL, nprobe=1))
    _, found = index.search(vectors[:1], 900)  # one list holds fewer than 900 rows
    assert (found[0] == -1).any() and set(found[0][found[0] >= 0]) <= set(range(1, 1001))


def test_a_bulk_add_in_chunks_keeps_every_row(monkeypatch):
    monkeypatch.setattr(index_module, "ADD_CHUNK", 97)
    vectors = clustered(1000)
    index = VectorIndex.from_arrays(16, np.arange(1, 1001), vectors, SMALL)
    assert len(index) == 1000
    _, found = index.search(vectors[[0, 500, 999]], 1)
    assert found[:, 0].tolist() == [1, 501, 1000]


def test_a_bulk_add_list_by_list_answers_as_faiss_own_add(monkeypatch):
    vectors = clustered(3000)
    ids = np.arange(1, 3001)
    queries = clustered(20, seed=4)
    monkeypatch.setattr(index_module, "BULK_ADD", 10**9)  # FAISS's add
    theirs = VectorIndex.from_arrays(16, ids, vectors, SMALL)
    theirs.upsert(np.arange(5000, 5600), vectors[:600])
    monkeypatch.setattr(index_module, "BULK_ADD", 500)  # list by list
    ours = VectorIndex.from_arrays(16, ids, vectors, SMALL)
    assert ours._impl._lists_by_hand()
    ours.upsert(np.arange(5000, 5600), vectors[:600])  # a second bulk add, onto filled lists
    for a, b in zip(ours.search(queries, 10), theirs.search(queries, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours.vectors([1, 2999, 5599]), theirs.vectors([1, 2999, 5599]))
