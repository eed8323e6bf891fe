"""The delivery rule, judged from the need's side: threshold, top-k and margin, on hand-made rankings;
and the features and candidates the second encoder adds."""

from types import SimpleNamespace

import numpy as np
import pytest

from api.matching import ranking as ranking_module
from api.matching.ranking import (
    Candidate,
    clearly_fitting,
    deliverable,
    match_probe,
    pair_features,
    rank,
    surely_ranked,
)
from api.matching.replica import IndexReplica, PostingFacts
from embeddings.index import IndexConfig
from embeddings.scoring import FEATURES, Calibration

RULE = Calibration(weights=(0.0,) * len(FEATURES), bias=0.0, threshold=0.3, top_k=2, margin=0.2)


def ranking(*pairs: tuple[int, float]) -> list[Candidate]:
    return [Candidate(i, s, {}) for i, s in pairs]


def ids(candidates: list[Candidate]) -> list[int]:
    return [c.posting_id for c in candidates]


def test_a_need_hears_of_its_clearly_best_offers_above_the_threshold():
    mine = ranking((10, 0.9), (11, 0.8), (12, 0.75))
    # 12 is out of the top 2; 10 and 11 are within the margin of the best.
    assert ids(deliverable(1, "need", mine, RULE, {}.__getitem__)) == [10, 11]


def test_weak_offers_far_below_the_best_or_under_the_threshold_are_dropped():
    assert ids(clearly_fitting(ranking((10, 0.9), (11, 0.5)), RULE)) == [10]
    assert clearly_fitting(ranking((10, 0.2)), RULE) == []
    assert clearly_fitting([], RULE) == []


def test_a_popular_offer_reaches_every_need_it_clearly_fits():
    # Six needs, each with this offer (1) as its best: a mutual top-2 rule would keep only two.
    needs = {n: ranking((1, 0.9 - n / 100)) for n in range(10, 16)}
    mine = ranking(*((n, 0.9 - n / 100) for n in needs))
    assert ids(deliverable(1, "offer", mine, RULE, needs.__getitem__)) == list(needs)


def test_an_offer_is_not_suggested_to_a_need_that_has_much_better_offers():
    mine = ranking((10, 0.6), (11, 0.6))
    needs = {10: ranking((2, 0.95), (1, 0.6)), 11: ranking((2, 0.7), (1, 0.6))}
    # Need 10's best is 0.95: 0.6 is beyond the margin. Need 11's best is within it.
    assert ids(deliverable(1, "offer", mine, RULE, needs.__getitem__)) == [11]


def test_the_same_pairs_whichever_side_is_matched():
    offers_of = {1: ranking((10, 0.8), (11, 0.7), (12, 0.4)), 2: ranking((11, 0.75), (10, 0.3))}
    needs_of = {
        10: ranking((1, 0.8), (2, 0.3)),
        11: ranking((2, 0.75), (1, 0.7)),
        12: ranking((1, 0.4)),
    }
    rankings = {**offers_of, **needs_of}
    from_needs = {
        (n, c.posting_id) for n in needs_of for c in deliverable(n, "need", needs_of[n], RULE, {}.get)
    }
    from_offers = {
        (c.posting_id, o)
        for o in offers_of
        for c in deliverable(o, "offer", offers_of[o], RULE, rankings.__getitem__)
    }
    assert from_needs == from_offers == {(10, 1), (11, 2), (11, 1), (12, 1)}


def _row(posting_id: int, kind: str, vector, multi, language: str) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    raw = np.asarray(vector, dtype="<f4").tobytes()
    return SimpleNamespace(
        posting_id=posting_id,
        kind=kind,
        active=True,
        vector=raw,
        head_vector=raw,
        terms={f"only{posting_id}": 1},
        multi_vector=np.asarray(multi, dtype="<f4").tobytes(),
        multi_model="use+raw-1",
        organisation_id=posting_id,
        s3_area="agrifood",
        trl=None,
        language=language,
    )


def test_the_second_encoder_adds_its_cosine_features_and_its_own_candidates():
    replica = IndexReplica(model="m", dim=2, margin_seconds=60, multi_model="use+raw-1", multi_dim=2)
    replica.apply(
        [
            _row(1, "need", [1, 0], [0.6, 0.8], "it"),
            _row(2, "offer", [0, 1], [0.6, 0.8], "en"),  # the pivot sees nothing in common
            _row(3, "offer", [1, 0], [1, 0], "it"),
        ]
    )
    probe = replica.probe(1)
    features = pair_features(replica, probe, [2, 3])
    multi, multi_across = FEATURES.index("multi"), FEATURES.index("multi_across")
    assert features[:, multi].round(4).tolist() == [1.0, 0.6]
    assert features[:, multi_across].round(4).tolist() == [1.0, 0.0]  # only offer 2 crosses languages
    # One candidate per retriever: offer 2 is reached by the second encoder's index alone.
    calibration = Calibration(tuple(1.0 for _ in FEATURES), -3.0, 0.5, 3, 0.2)
    assert {c.posting_id for c in rank(replica, probe, calibration, candidates=1)} == {2, 3}


def _clustered_replica(
    rng: np.random.Generator, postings: int, index: IndexConfig | None = None
) -> IndexReplica:
    """Postings around a few topics, so that many needs compete for the same offers."""
    topics = rng.normal(size=(4, 8))
    topic = rng.integers(4, size=postings)
    vectors = topics[topic] + rng.normal(scale=0.6, size=(postings, 8))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    words = [f"w{n}" for n in range(60)]
    terms = [{words[int(w)]: 1 for w in rng.integers(10 * t, 10 * t + 14, size=5)} for t in topic.tolist()]
    facts = [
        PostingFacts(("need", "offer")[n % 2], int(rng.integers(1, 30)), ("agrifood", "construction")[n % 3 % 2],
                     int(rng.integers(1, 10)), ("it", "en")[n % 5 % 2])
        for n in range(postings)
    ]  # fmt: skip
    return IndexReplica.from_arrays(
        model="m", dim=8, margin_seconds=60, ids=np.arange(1, postings + 1), facts=facts,
        vectors=vectors, head_vectors=vectors, terms=terms, index=index,
    )  # fmt: skip


@pytest.mark.parametrize(
    "index",
    [None, IndexConfig(exact_max=50, factory="IVF{nlist},Flat")],
    ids=["exact", "approximate: parts from a coarse search"],
)
def test_the_cheap_part_of_a_ranking_changes_no_pair_the_rule_delivers(index):
    # Every offer matched with the shortcut and without: the same pairs, and most needs settled early.
    replica = _clustered_replica(np.random.default_rng(3), 400, index)
    assert replica.indexes["offer"].mode == ("exact" if index is None else "approximate")
    calibration = Calibration((3.0, 2.0, 2.0, 0.3, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0), -3.2, 0.5, 2, 0.1)
    full_rankings, skipped, delivered = {}, 0, 0
    for offer in [i for i, f in replica.facts.items() if f.kind == "offer"]:
        match = match_probe(replica, replica.probe(offer), calibration, candidates=12, limit=None)
        asked = set()

        def ranking_of(need: int) -> list[Candidate]:
            asked.add(need)  # noqa: B023 (used within this iteration only)
            if need not in full_rankings:
                full_rankings[need] = rank(replica, replica.probe(need), calibration, candidates=12)
            return full_rankings[need]

        assert ids(match.chosen) == ids(deliverable(offer, "offer", match.ranked, calibration, ranking_of))
        delivered += len(match.chosen)
        skipped += len(asked) - match.ranking_of.cache_info().currsize  # type: ignore[attr-defined]
    assert delivered > 100  # pairs were delivered: the comparison is not between two empty sets
    assert skipped > 1000  # and the shortcut settled needs without their full ranking


def test_the_first_small_part_settles_the_same_needs_as_the_whole_part(monkeypatch):
    # surely_ranked scores FIRST_PART neighbours of every need, then PART_SIZE of those still open:
    # the needs it leaves open are exactly those one part of PART_SIZE leaves open.
    replica = _clustered_replica(np.random.default_rng(4), 400)
    calibration = Calibration((3.0, 2.0, 2.0, 0.3, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0), -3.2, 0.5, 2, 0.1)
    offers = [i for i, f in replica.facts.items() if f.kind == "offer"][:30]
    needs = [i for i, f in replica.facts.items() if f.kind == "need"]
    part_size = ranking_module.PART_SIZE

    def open_needs() -> dict[int, set[int]]:
        out = {}
        for offer in offers:
            parts = surely_ranked(replica, needs, offer, calibration)
            out[offer] = {n for n in needs if offer in ids(clearly_fitting(parts[n], calibration))}
        return out

    staged = open_needs()
    monkeypatch.setattr(ranking_module, "PART_SIZE", ranking_module.FIRST_PART)
    first_only = open_needs()
    monkeypatch.setattr(ranking_module, "PART_SIZE", part_size)
    monkeypatch.setattr(ranking_module, "FIRST_PART", part_size)
    assert staged == open_needs()
    # Both stages did work: the first settled most needs, the second some of those it left open.
    assert sum(map(len, staged.values())) < sum(map(len, first_only.values())) < len(offers) * len(needs) / 2
