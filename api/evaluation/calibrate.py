"""`clustermatch calibrate`: fit the score model and choose the delivery rule on labelled pairs.

The score is a logistic regression over the matcher's features, trained to tell pairs a
facilitator would introduce (grade >= 1) from the rest, so it reads as a probability. It is fitted
on the set and on a hurried copy of it (`api/evaluation/perturb.py`, same pairs and grades), so
a missing keyword or TRL, a wrong area or a typo is not learnt as evidence against a pair. The
delivery rule (threshold, top-k, margin) is then chosen among the rules with precision >= 0.85
and no-match silence >= 0.85 on the set: the best F1, averaged over the set and its hurried copy
(every suggestion is reviewed by a facilitator before it goes out, and the budgets pace it, so a
missed introduction now costs as much as a weak one).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from api.evaluation.dataset import EvalPosting, EvalSet
from api.evaluation.harness import LoadedSet, loaded
from api.evaluation.metrics import delivery_metrics, ranking_metrics
from api.evaluation.perturb import perturb
from api.matching.ranking import Candidate, deliverable, pair_features
from embeddings.encoder import Encoder, MultilingualEncoder
from embeddings.scoring import Calibration

THRESHOLDS = [round(float(t), 2) for t in np.arange(0.05, 0.95, 0.05)]
TOP_KS = (2, 3, 4)
MARGINS = (0.1, 0.2, 0.3)
MIN_PRECISION, MIN_SILENCE = 0.85, 0.85
BETA = 1.0
# Inverse strength of the L2 penalty: chosen by the area-held-out nDCG@10 (10 beat 3, 30 and 100).
REGULARISATION = 10.0
# The hurried copy the weights are also fitted on (a fixed seed: calibrate is reproducible).
HURRIED_SEED = 0


def labelled_pairs(data: LoadedSet, needs: list[EvalPosting] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (grade >= 1) of every need/offer pair of different organisations."""
    rows, labels = [], []
    offers = data.eval_set.offers
    for need in data.eval_set.needs if needs is None else needs:
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
        for chosen in deliverable(posting_id, item.kind, ranking_of(posting_id), calibration, ranking_of):
            other = data.set_id[chosen.posting_id]
            pairs.add((item.id, other) if item.kind == "need" else (other, item.id))
    return pairs


def f_beta(precision: float, recall: float, *, beta: float) -> float:
    if precision == recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def fit_weights(
    features: np.ndarray, labels: np.ndarray, regularisation: float
) -> tuple[tuple[float, ...], float]:
    model = LogisticRegression(C=regularisation, max_iter=5000).fit(features, labels)
    return tuple(round(float(w), 4) for w in model.coef_[0]), round(float(model.intercept_[0]), 4)


def held_out_ndcg(
    data: LoadedSet, candidates: int, regularisation: float, hurried: LoadedSet | None = None
) -> float:
    """need->offer nDCG@10 with the needs of each S3 area ranked by weights fitted without them
    (nor their hurried copies)."""
    eval_set, rankings = data.eval_set, {}
    for area in sorted({n.s3_area for n in eval_set.needs}):
        held_out = [n for n in eval_set.needs if n.s3_area == area]
        kept = {n.id for n in eval_set.needs if n.s3_area != area}
        features, labels = _training_pairs(data, hurried, kept)
        weights, bias = fit_weights(features, labels, regularisation)
        ranking_of = data.ranking_of(Calibration(weights, bias, 0.5, 3, 0.2), candidates)
        for need in held_out:
            rankings[need.id] = [data.set_id[c.posting_id] for c in ranking_of(data.db_id[need.id])]
    relevant: dict[str, dict[str, int]] = {n.id: {} for n in eval_set.needs}
    for (need_id, offer_id), grade in eval_set.grades.items():
        relevant[need_id][offer_id] = grade
    return ranking_metrics(rankings, relevant)["ndcg@10"]


def _training_pairs(
    data: LoadedSet, hurried: LoadedSet | None, need_ids: set[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The labelled pairs of the set, and of its hurried copy when there is one (same labels)."""
    parts = [
        labelled_pairs(d, [n for n in d.eval_set.needs if need_ids is None or n.id in need_ids])
        for d in (data, hurried)
        if d is not None
    ]
    return np.concatenate([f for f, _ in parts]), np.concatenate([y for _, y in parts])


def calibrate(
    eval_set: EvalSet,
    encoder: Encoder,
    second: MultilingualEncoder | None = None,
    *,
    candidates: int,
    regularisation: float = REGULARISATION,
    hurried_seed: int | None = HURRIED_SEED,
) -> tuple[Calibration, dict[str, Any]]:
    """Fit on the set and, unless `hurried_seed` is None, on a hurried copy of it too (same pairs and
    grades; `api/evaluation/perturb.py`): the weights then learn not to count a missing keyword, TRL
    or a wrong area as evidence against, and the rule is chosen to serve both kinds of posting."""
    with ExitStack() as stack:
        data = stack.enter_context(loaded(eval_set, encoder, second))
        hurried = None
        if hurried_seed is not None:
            hurried = stack.enter_context(loaded(perturb(eval_set, hurried_seed), encoder, second))
        features, labels = _training_pairs(data, hurried)
        weights, bias = fit_weights(features, labels, regularisation)
        fitted = Calibration(
            weights=weights,
            bias=bias,
            threshold=0.5,
            top_k=3,
            margin=0.2,
            fitted_on=eval_set.name,
        )
        need_ids = [n.id for n in eval_set.needs]
        sets = [d for d in (data, hurried) if d is not None]
        # The rule does not change the ranking: one ranking per set serves every rule.
        rankings = [d.ranking_of(fitted, candidates) for d in sets]
        best: tuple[tuple[float, float], Calibration, dict[str, Any]] | None = None
        for top_k, margin, threshold in itertools.product(TOP_KS, MARGINS, THRESHOLDS):
            rule = replace(fitted, top_k=top_k, margin=margin, threshold=threshold)
            metrics = [
                delivery_metrics(delivered_by_rule(d, rule, ranking_of), eval_set.grades, need_ids, threshold)
                for d, ranking_of in zip(sets, rankings, strict=True)
            ]
            if metrics[0]["precision"] < MIN_PRECISION or metrics[0]["no_match_silence"] < MIN_SILENCE:
                continue
            score = sum(f_beta(m["precision"], m["recall"], beta=BETA) for m in metrics) / len(metrics)
            key = (score, threshold)
            if best is None or key > best[0]:
                best = (key, rule, metrics[0])
        report = {
            "pairs": len(labels),
            "positives": int(labels.sum()),
            "held_out_ndcg@10": held_out_ndcg(data, candidates, regularisation, hurried),
            "delivery": best[2] if best else None,
        }
    return (best[1] if best else fitted), report
