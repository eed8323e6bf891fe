"""Ranking and delivery metrics for matchmaking evaluation.

Grades: 2 = relevant (a facilitator would introduce the pair), 1 = partially relevant, 0 = not
relevant (any unlabelled pair). Nothing is rounded here; the caller formats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _dcg(gains: Iterable[int]) -> float:
    return sum((2**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(gains, start=1))


def ranking_metrics(
    rankings: Mapping[str, Sequence[str]],
    relevant: Mapping[str, Mapping[str, int]],
    k: int = 10,
) -> dict[str, Any]:
    """nDCG@k, Recall@k and MRR@k averaged over the queries of `rankings` that have a grade-2 item.

    `rankings[q]` is the ranked list of candidate ids for query `q` (best first, no duplicates);
    `relevant[q]` maps the query's labelled items to their grade (missing items are grade 0).
    - nDCG@k: gain 2^grade - 1, discount log2(rank + 1); the ideal DCG uses the query's labels
      sorted by grade, top k.
    - Recall@k: grade-2 items in the top k / all grade-2 items of the query.
    - MRR@k: 1 / rank of the first grade-2 item in the top k, else 0.
    Queries without any grade-2 label are skipped; "queries" is the number averaged over
    (the three metrics are 0.0 when it is 0).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ndcg_sum = recall_sum = mrr_sum = 0.0
    queries = 0
    for query, ranking in rankings.items():
        labels = relevant.get(query, {})
        n_grade2 = sum(1 for grade in labels.values() if grade == 2)
        if n_grade2 == 0:
            continue
        top = list(ranking[:k])
        if len(set(top)) != len(top):
            raise ValueError(f"ranking for query {query!r} has duplicate items in its top {k}")
        queries += 1
        grades = [labels.get(item, 0) for item in top]
        ideal = _dcg(sorted(labels.values(), reverse=True)[:k])
        ndcg_sum += _dcg(grades) / ideal
        recall_sum += sum(1 for grade in grades if grade == 2) / n_grade2
        first = next((rank for rank, grade in enumerate(grades, start=1) if grade == 2), None)
        mrr_sum += 1.0 / first if first is not None else 0.0
    denominator = queries or 1  # every sum is 0.0 when no query counted
    return {
        f"ndcg@{k}": ndcg_sum / denominator,
        f"recall@{k}": recall_sum / denominator,
        f"mrr@{k}": mrr_sum / denominator,
        "queries": queries,
    }


def cross_lingual_recall(
    need_rankings: Mapping[str, Sequence[str]],
    grade2_pairs_cross_lingual: Iterable[tuple[str, str]],
    k: int = 10,
) -> float:
    """Share of the given (need, offer) pairs whose offer is in the need's top k.

    The caller passes only the grade-2 pairs whose two postings have different languages. A need
    missing from `need_rankings` counts as a miss. Returns 0.0 when no pairs are given.
    """
    pairs = list(grade2_pairs_cross_lingual)
    if not pairs:
        return 0.0
    hits = sum(1 for need, offer in pairs if offer in need_rankings.get(need, ())[:k])
    return hits / len(pairs)


def delivery_metrics(
    delivered: Iterable[tuple[str, str]],
    grades: Mapping[tuple[str, str], int],
    need_ids: Iterable[str],
    threshold: float,
) -> dict[str, float | int]:
    """Quality of the (need, offer) suggestions actually delivered at a score `threshold`.

    - precision: delivered pairs with grade >= 1 / delivered pairs (0.0 if nothing delivered);
    - recall: grade-2 pairs delivered / all grade-2 pairs in `grades` (0.0 if there are none);
    - f1: harmonic mean of the two (0.0 if both are 0);
    - no_match_silence: among the needs of `need_ids` without any grade-2 offer, the share that
      receive no delivered grade-0 pair (grade-1 deliveries are tolerated); 0.0 if there are no
      such needs;
    - delivered: number of distinct delivered pairs; threshold: echoed back.
    """
    pairs = set(delivered)
    n_delivered = len(pairs)
    useful = sum(1 for pair in pairs if grades.get(pair, 0) >= 1)
    precision = useful / n_delivered if n_delivered else 0.0

    grade2 = {pair for pair, grade in grades.items() if grade == 2}
    recall = len(grade2 & pairs) / len(grade2) if grade2 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0

    needs_with_match = {need for need, _ in grade2}
    no_match_needs = {need for need in need_ids if need not in needs_with_match}
    noisy = {need for need, offer in pairs if grades.get((need, offer), 0) == 0}
    silence = len(no_match_needs - noisy) / len(no_match_needs) if no_match_needs else 0.0

    return {
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "no_match_silence": silence,
        "delivered": n_delivered,
    }
