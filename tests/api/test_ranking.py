"""The delivery rule: threshold, mutual top-k and margin, on hand-made rankings."""

from api.matching.ranking import Candidate, deliverable
from embeddings.scoring import FEATURES, Calibration

RULE = Calibration(weights=(0.0,) * len(FEATURES), bias=0.0, threshold=0.3, top_k=2, margin=0.2)


def ranking(*pairs: tuple[int, float]) -> list[Candidate]:
    return [Candidate(i, s, {}) for i, s in pairs]


def test_delivers_mutual_best_partners_above_the_threshold():
    mine = ranking((10, 0.9), (11, 0.8), (12, 0.75))
    others = {10: ranking((1, 0.9)), 11: ranking((1, 0.8)), 12: ranking((1, 0.75))}
    chosen = deliverable(1, mine, RULE, others.__getitem__)
    # 12 is out of the top 2; 10 and 11 are within the margin of the best.
    assert [c.posting_id for c in chosen] == [10, 11]


def test_a_partner_that_has_much_better_matches_is_not_flooded():
    mine = ranking((10, 0.6))
    popular = ranking((2, 0.95), (3, 0.9), (1, 0.6))
    assert deliverable(1, mine, RULE, {10: popular}.__getitem__) == []
    within_margin = ranking((2, 0.7), (1, 0.6))
    assert [c.posting_id for c in deliverable(1, mine, RULE, {10: within_margin}.__getitem__)] == [10]


def test_weak_candidates_far_below_the_best_or_under_the_threshold_are_dropped():
    mine = ranking((10, 0.9), (11, 0.5))
    others = {10: ranking((1, 0.9)), 11: ranking((1, 0.5))}
    assert [c.posting_id for c in deliverable(1, mine, RULE, others.__getitem__)] == [10]
    assert deliverable(1, ranking((10, 0.2)), RULE, {10: ranking((1, 0.2))}.__getitem__) == []
    assert deliverable(1, [], RULE, {}.__getitem__) == []
