import numpy as np

from embeddings.index import VectorIndex


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
