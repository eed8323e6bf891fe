"""`clustermatch calibrate`: fit the score model and choose the delivery rule on labelled pairs.

The score is a logistic regression over the matcher's features, trained to tell pairs a
facilitator would introduce (grade >= 1) from the rest, so it reads as a probability. The
delivery rule (threshold, top-k, margin) is then chosen on the same data: the best F1 among
the rules with precision >= 0.8 and no-match silence >= 0.7.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from api.evaluation.dataset import EvalSet
from api.evaluation.harness import LoadedSet, loaded
from api.evaluation.metrics import delivery_metrics
from api.matching.ranking import Candidate, deliverable, pair_features
from embeddings.encoder import Encoder
from embeddings.scoring import Calibration

THRESHOLDS = [round(t, 2) for t in np.arange(0.05, 0.95, 0.05)]
TOP_KS = (2, 3, 4)
MARGINS = (0.1, 0.2, 0.3)
MIN_PRECISION, MIN_SILENCE = 0.8, 0.7


def labelled_pairs(data: LoadedSet) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (grade >= 1) of every need/offer pair of different organisations."""
    rows, labels = [], []
    offers = data.eval_set.offers
    for need in data.eval_set.needs:
        probe = data.replica.probe(data.db_id[need.id])
        others = [o for o in offers if o.org_name != need.org_name]
        rows.append(pair_features(data.replica, probe, [data.db_id[o.id] for o in others]))
        labels += [data.eval_set.grade(need.id, o.id) >= 1 for o in others]
    return np.concatenate(rows), np.asarray(labels, dtype=int)


def delivered_by_rule(
    data: LoadedSet, calibration: Calibration, ranking_of: Callable[[int], list[Candidate]]
) -> set[tuple[str, str]]:
    """What the matcher would deliver under this rule (both sides run it: the union)."""
    pairs = set()
    for item in data.eval_set.postings:
        posting_id = data.db_id[item.id]
        for chosen in deliverable(posting_id, ranking_of(posting_id), calibration, ranking_of):
            other = data.set_id[chosen.posting_id]
            pairs.add((item.id, other) if item.kind == "need" else (other, item.id))
    return pairs


def calibrate(
    eval_set: EvalSet, encoder: Encoder, *, candidates: int, regularisation: float = 100.0
) -> tuple[Calibration, dict[str, Any]]:
    with loaded(eval_set, encoder) as data:
        features, labels = labelled_pairs(data)
        model = LogisticRegression(C=regularisation, max_iter=5000).fit(features, labels)
        fitted = Calibration(
            weights=tuple(round(float(w), 4) for w in model.coef_[0]),
            bias=round(float(model.intercept_[0]), 4),
            threshold=0.5,
            top_k=3,
            margin=0.2,
            fitted_on=eval_set.name,
        )
        need_ids = [n.id for n in eval_set.needs]
        ranking_of = data.ranking_of(fitted, candidates)  # the rule does not change the ranking
        best: tuple[tuple[float, float], Calibration, dict[str, Any]] | None = None
        for top_k, margin, threshold in itertools.product(TOP_KS, MARGINS, THRESHOLDS):
            rule = replace(fitted, top_k=top_k, margin=margin, threshold=threshold)
            metrics = delivery_metrics(
                delivered_by_rule(data, rule, ranking_of), eval_set.grades, need_ids, threshold
            )
            if metrics["precision"] < MIN_PRECISION or metrics["no_match_silence"] < MIN_SILENCE:
                continue
            key = (metrics["f1"], threshold)
            if best is None or key > best[0]:
                best = (key, rule, metrics)
    if best is None:
        return fitted, {"pairs": len(labels), "positives": int(labels.sum()), "delivery": None}
    return best[1], {"pairs": len(labels), "positives": int(labels.sum()), "delivery": best[2]}
