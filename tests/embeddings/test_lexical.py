import math
import random
from collections import Counter

import numpy as np
import pytest

from embeddings.lexical import LexicalIndex

TOL = 1e-6  # scores come back as float32


def reference_cosines(docs: dict[int, tuple[str, dict[str, int]]], query: dict[str, int]) -> dict[int, float]:
    """Cosine of the query against every document, straight from the TF-IDF definition."""
    n = len(docs)
    df = Counter(term for _, bag in docs.values() for term, count in bag.items() if count > 0)

    def weights(bag: dict[str, int]) -> dict[str, float]:
        return {
            term: (1 + math.log(count)) * (math.log((1 + n) / (1 + df[term])) + 1)
            for term, count in bag.items()
            if count > 0
        }

    q = weights(query)
    q_norm = math.sqrt(sum(w * w for w in q.values()))
    out = {}
    for doc_id, (_, bag) in docs.items():
        d = weights(bag)
        d_norm = math.sqrt(sum(w * w for w in d.values()))
        dot = sum(w * d.get(term, 0.0) for term, w in q.items())
        out[doc_id] = dot / (q_norm * d_norm) if q_norm and d_norm else 0.0
    return out


def random_bag(rng: random.Random, vocab: list[str], max_terms: int = 8) -> dict[str, int]:
    terms = rng.sample(vocab, rng.randint(0, max_terms))
    return {term: rng.randint(1, 4) for term in terms}


def expected_top(scores: dict[int, float], k: int) -> list[int]:
    return [doc_id for doc_id, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])) if s > 0][:k]


def check_against_reference(index: LexicalIndex, docs: dict, rng: random.Random, vocab: list[str]) -> None:
    query = random_bag(rng, vocab + ["unseen-a", "unseen-b"], max_terms=10)
    expected = reference_cosines(docs, query)
    assert len(index) == len(docs)
    for kind in ("need", "offer"):
        ids, cos = index.scores(kind, query)
        assert ids.dtype == np.int64 and cos.dtype == np.float32
        got = dict(zip(ids.tolist(), cos.tolist(), strict=True))
        assert sorted(got) == sorted(i for i, (k, _) in docs.items() if k == kind)
        for doc_id, score in got.items():
            assert score == pytest.approx(expected[doc_id], abs=TOL)
        # search = the positive scores of that kind, best first, ties by id, cut at k
        hits = index.search(kind, query, 5)
        assert [doc_id for doc_id, _ in hits] == expected_top(got, 5)
        for doc_id, score in hits:
            assert score == pytest.approx(expected[doc_id], abs=TOL)
    probe = rng.sample(range(60), 10)
    sims = index.similarity(query, probe)
    assert sims.tolist() == pytest.approx([expected.get(i, 0.0) for i in probe], abs=TOL)


@pytest.mark.parametrize("merge_threshold", [1, 3, 10_000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_upserts_replacements_and_removals_match_reference(merge_threshold: int, seed: int):
    rng = random.Random(seed)
    vocab = [f"term{i}" for i in range(25)]
    index = LexicalIndex(merge_threshold=merge_threshold)
    docs: dict[int, tuple[str, dict[str, int]]] = {}
    for _ in range(150):
        op = rng.random()
        doc_id = rng.randrange(50)  # small id space: many replacements, removals of unknown ids
        if op < 0.7:
            kind = rng.choice(["need", "offer"])
            bag = random_bag(rng, vocab)
            index.upsert(doc_id, kind, bag)
            docs[doc_id] = (kind, bag)
        else:
            index.remove(doc_id)
            docs.pop(doc_id, None)
        check_against_reference(index, docs, rng, vocab)
    for doc_id, (_, bag) in docs.items():
        assert index.terms_of(doc_id) == bag


def test_scores_stay_exact_across_a_merge():
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(15)]
    index = LexicalIndex(merge_threshold=3)
    docs = {}
    for doc_id in range(12):
        bag = random_bag(rng, vocab)
        index.upsert(doc_id, "offer", bag)
        docs[doc_id] = ("offer", bag)
        check_against_reference(index, docs, rng, vocab)
    shard = index._shards["offer"]
    assert shard.mat.shape[0] > 0  # the merged matrix is in use, not just the pending buffer
    # Replace and remove merged docs, then search before and after the next merge.
    for doc_id in (0, 1):
        bag = random_bag(rng, vocab)
        index.upsert(doc_id, "offer", bag)
        docs[doc_id] = ("offer", bag)
    index.remove(2)
    del docs[2]
    assert shard.dead == 3
    check_against_reference(index, docs, rng, vocab)
    assert shard.dead == 0  # the search merged: dead slots dropped
    check_against_reference(index, docs, rng, vocab)


def test_kind_filtering_and_shared_idf():
    index = LexicalIndex()
    index.upsert(1, "need", {"robot": 2, "weld": 1})
    index.upsert(2, "offer", {"robot": 1, "weld": 1})
    index.upsert(3, "offer", {"paint": 1})
    ids, cos = index.scores("offer", {"robot": 1})
    assert sorted(ids.tolist()) == [2, 3]
    assert dict(zip(ids.tolist(), cos.tolist(), strict=True))[3] == 0.0  # zero scores are included
    assert [doc_id for doc_id, _ in index.search("need", {"robot": 1}, 10)] == [1]
    # df counts both kinds: the need makes "robot" and "weld" equally common, so doc 2 has equal weights.
    assert index.search("offer", {"robot": 1}, 10)[0][1] == pytest.approx(1 / math.sqrt(2), abs=TOL)
    with pytest.raises(ValueError):
        index.search("partner", {"robot": 1}, 10)


def test_search_orders_by_score_then_id_and_cuts_at_k():
    index = LexicalIndex()
    index.upsert(5, "offer", {"a": 1, "b": 1})
    index.upsert(3, "offer", {"a": 1, "b": 1})  # same bag as 5: a tie, smaller id first
    index.upsert(4, "offer", {"a": 1, "c": 1, "d": 1})
    index.upsert(9, "offer", {"a": 1})
    index.upsert(7, "offer", {"zzz": 3})  # no overlap with the query: never returned
    hits = index.search("offer", {"a": 1, "b": 1}, 10)
    assert [doc_id for doc_id, _ in hits] == [3, 5, 9, 4]
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert scores[0] == pytest.approx(1.0, abs=TOL)
    assert [doc_id for doc_id, _ in index.search("offer", {"a": 1, "b": 1}, 2)] == [3, 5]
    assert index.search("offer", {"a": 1, "b": 1}, 0) == []
    assert index.search("offer", {"nothing": 1}, 10) == []
    assert index.search("need", {"a": 1}, 10) == []


def test_ties_cut_at_k_keep_the_smallest_ids():
    index = LexicalIndex(merge_threshold=2)
    for doc_id in (8, 2, 6, 4, 1):
        index.upsert(doc_id, "offer", {"x": 1, "y": 2})
    index.upsert(10, "offer", {"x": 1})
    index.search("offer", {"x": 1}, 1)  # merges the pending docs
    index.upsert(11, "offer", {"q": 1})  # df moves after the merge
    assert [doc_id for doc_id, _ in index.search("offer", {"x": 1, "y": 2}, 3)] == [1, 2, 4]


def test_similarity_missing_ids_are_zero_and_order_is_kept():
    index = LexicalIndex()
    index.upsert(1, "need", {"a": 1, "b": 2})
    index.upsert(2, "offer", {"a": 1})
    sims = index.similarity({"a": 1, "b": 2}, [2, 99, 1])
    assert sims.dtype == np.float32
    assert sims[1] == 0.0 and sims[2] == pytest.approx(1.0, abs=TOL) and 0 < sims[0] < 1
    assert index.similarity({"a": 1}, []).shape == (0,)
    assert index.similarity({}, [1, 2]).tolist() == [0.0, 0.0]


def test_upsert_replaces_terms_and_kind():
    index = LexicalIndex()
    index.upsert(1, "need", {"old": 2})
    index.upsert(1, "offer", {"new": 1, "word": 3})
    assert len(index) == 1 and 1 in index
    assert index.terms_of(1) == {"new": 1, "word": 3}
    assert index.search("need", {"old": 1}, 5) == []
    assert index.search("offer", {"old": 1}, 5) == []
    assert [doc_id for doc_id, _ in index.search("offer", {"word": 1}, 5)] == [1]
    ids, _ = index.scores("need", {"new": 1})
    assert ids.size == 0


def test_remove_and_terms_of():
    index = LexicalIndex()
    index.upsert(1, "need", {"a": 1, "zero": 0})
    assert index.terms_of(1) == {"a": 1}  # zero counts are not stored
    index.remove(1)
    index.remove(1)  # unknown id: no-op
    index.remove(12345)
    assert len(index) == 0 and 1 not in index
    with pytest.raises(KeyError):
        index.terms_of(1)
    ids, cos = index.scores("need", {"a": 1})
    assert ids.size == 0 and cos.size == 0
    assert index.search("need", {"a": 1}, 3) == []


def test_negative_counts_are_rejected():
    index = LexicalIndex()
    with pytest.raises(ValueError):
        index.upsert(1, "need", {"a": -1})
    assert 1 not in index


def test_many_bags_at_once_score_as_each_bag_alone():
    # The delivery rule weighs a hundred bags in one call: the same cosines as one call per bag,
    # with unknown terms, zero and very large counts (beyond the tf table), and an empty bag.
    rng = random.Random(5)
    vocab = [f"t{n}" for n in range(40)]
    docs = {i: (("need", "offer")[i % 2], random_bag(rng, vocab)) for i in range(1, 61)}
    index = LexicalIndex()
    for doc_id, (kind, bag) in docs.items():
        index.upsert(doc_id, kind, bag)
    bags = [random_bag(rng, vocab + ["unseen"], max_terms=12) for _ in range(30)]
    bags[3] = {**bags[3], "t1": 0, "t2": 5000, "unseen": 2}
    bags[7] = {}
    ids_of = [rng.sample(range(1, 70), rng.randint(0, 12)) for _ in bags]
    together = index.similarity_many(bags, ids_of)
    alone = np.concatenate([index.similarity(bag, ids) for bag, ids in zip(bags, ids_of, strict=True)])
    assert np.array_equal(together, alone)
    expected = [
        reference_cosines(docs, bag).get(i, 0.0) for bag, ids in zip(bags, ids_of, strict=True) for i in ids
    ]
    assert together.tolist() == pytest.approx(expected, abs=TOL)
    assert together[sum(len(ids) for ids in ids_of[:3]) :][: len(ids_of[3])].any()  # the odd bag scores
    with pytest.raises(ValueError, match="'t5'"):
        index.similarity_many([{"t4": 1}, {"t5": -2}], [[1], [2]])


def test_a_stored_documents_terms_query_as_its_typed_terms_do():
    # The delivery rule queries with stored postings' terms (`terms_of`): they skip the word
    # lookups, and must score exactly as the same {term: count} typed in, mixed with typed bags.
    rng = random.Random(8)
    vocab = [f"t{n}" for n in range(40)]
    index = LexicalIndex()
    for doc_id in range(1, 41):
        index.upsert(doc_id, ("need", "offer")[doc_id % 2], random_bag(rng, vocab))
    stored = [index.terms_of(i) for i in range(1, 21)]
    typed = [dict(terms) for terms in stored]
    assert typed[0] == {t: c for t, c in stored[0].items()} and len(stored[0]) == len(typed[0])
    ids_of = [rng.sample(range(1, 41), 10) for _ in stored]
    mixed = [bag if n % 3 else {"t1": 2, "unseen": 1} for n, bag in enumerate(stored)]
    assert np.array_equal(index.similarity_many(stored, ids_of), index.similarity_many(typed, ids_of))
    assert np.array_equal(
        index.similarity_many(mixed, ids_of),
        index.similarity_many([dict(bag) for bag in mixed], ids_of),
    )
    assert index.search_many("offer", stored[:5], 4) == index.search_many("offer", typed[:5], 4)
    index.upsert(1, "need", {"t39": 7})  # the document moves on; its terms read before do not
    assert dict(stored[0]) == typed[0]


def test_lazily_synced_norms_stay_within_the_tolerance_and_similarity_stays_exact():
    # After a merge, upserts move B: the rare terms' by more than NORM_TOLERANCE (their docs'
    # norms are re-synced at the next search), the common terms' (df in the hundreds) by less (not
    # yet). Search scores may drift that little, never more; `similarity` stays exact.
    rng = random.Random(11)
    common, rare = [f"c{n}" for n in range(6)], [f"r{n}" for n in range(40)]
    index = LexicalIndex(merge_threshold=500)
    docs: dict[int, tuple[str, dict[str, int]]] = {}
    for doc_id in range(1000):
        bag = {t: rng.randint(1, 3) for t in rng.sample(common, 4) + rng.sample(rare[: 10 + doc_id // 25], 3)}
        index.upsert(doc_id, "need", bag)
        docs[doc_id] = ("need", bag)
        if doc_id % 10 == 0:
            index.search("need", {"c0": 1}, 1)  # merges or syncs, as the matcher's searches do
    assert index._shards["need"].mat.shape[0] >= 500  # most docs in the matrix, whose norms sync
    query = {"c1": 2, "c2": 1, "r3": 1, "r30": 3}
    expected = reference_cosines(docs, query)
    ids, cos = index.scores("need", query)
    for doc_id, score in zip(ids.tolist(), cos.tolist(), strict=True):
        assert score == pytest.approx(expected[doc_id], rel=1e-2, abs=TOL)
    probe = rng.sample(range(1000), 50)
    assert index.similarity(query, probe).tolist() == pytest.approx([expected[i] for i in probe], abs=TOL)
