"""Funding calls in `clustermatch eval`: call->posting ranking quality and the consortia proposed.

Runs on a set already loaded by the harness (its postings embedded and in the replica), so the
call section only encodes the calls themselves. The ranking, eligibility and group builder are
the production functions of `api/calls/`; the consortia are judged on two counts: every group
satisfies its call's rule (must be 100 %), and every member's posting is graded >= 1 for the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from api.calls.consortium import CallCandidate, propose_groups, rule_violations
from api.calls.eligibility import eligibility
from api.calls.relevance import (
    CALL_FEATURES,
    CallCalibration,
    CallMatch,
    CallProbe,
    call_probe,
    call_representation,
    covered_concepts,
    fitting,
    score_postings,
)
from api.evaluation.call_set import CallSet, EvalCall
from api.evaluation.harness import LoadedSet
from api.evaluation.metrics import ranking_metrics
from api.matching.service import MatchPolicy
from embeddings.concepts import ConceptSide, concept_side
from embeddings.encoder import Encoder, MultilingualEncoder

# Labelled sets carry no country: their organisations are all in Emilia-Romagna.
SET_COUNTRY = "IT"
THRESHOLDS = [round(float(t), 2) for t in np.arange(0.05, 0.95, 0.05)]
REGULARISATION = 10.0  # as for need/offer pairs (api/evaluation/calibrate.py)
# Labelled calls carry no dates: any moment will do for eligibility.
_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def call_probes(
    calls: Sequence[EvalCall], encoder: Encoder, second: MultilingualEncoder | None
) -> dict[str, CallProbe]:
    """Each call encoded as a posting is (head, passages; raw text for the second encoder), in one batch."""
    representations = [call_representation(c.title, c.text, c.keywords) for c in calls]
    texts = [text for r in representations for text in r.texts]
    encoded = encoder.encode(texts) if texts else np.zeros((0, encoder.dim), dtype=np.float32)
    multi = second.encode([r.raw for r in representations]) if second and calls else None
    probes, start = {}, 0
    for n, (call, representation) in enumerate(zip(calls, representations, strict=True)):
        count = len(representation.texts)
        probes[call.id] = call_probe(
            representation,
            encoded[start : start + count],
            terms=call.terms,
            language=call.language,
            multi_vector=None if multi is None else multi[n],
        )
        start += count
    return probes


def eligible_postings(data: LoadedSet, call: EvalCall) -> list[str]:
    """The set's postings whose organisation may apply (labelled calls carry no dates: all open)."""
    return [
        p.id
        for p in data.eval_set.postings
        if eligibility(
            call.terms, organisation_type=p.org_type, posting_trl=p.trl, posting_area=p.s3_area, now=_NOW
        ).ok
    ]


def call_matches(
    data: LoadedSet, call: EvalCall, probe: CallProbe, calibration: CallCalibration
) -> list[CallMatch]:
    """Every eligible posting of either kind scored against the call, best first."""
    ids = [data.db_id[i] for i in eligible_postings(data, call)]
    matches = [
        m
        for kind in ("need", "offer")
        for m in score_postings(data.replica, probe, kind, calibration, ids=ids)
    ]
    return sorted(matches, key=lambda m: (-m.score, m.posting_id))


def evaluate_calls(
    data: LoadedSet,
    call_set: CallSet,
    encoder: Encoder,
    second: MultilingualEncoder | None,
    policy: MatchPolicy,
    calibration: CallCalibration,
) -> dict[str, Any]:
    probes = call_probes(call_set.calls, encoder, second)
    rankings: dict[str, list[str]] = {}
    relevant: dict[str, dict[str, int]] = {c.id: {} for c in call_set.calls}
    for (call_id, posting_id), grade in call_set.grades.items():
        relevant[call_id][posting_id] = grade
    told = useful = 0
    matches_of: dict[str, list[CallMatch]] = {}
    for call in call_set.calls:
        matches = call_matches(data, call, probes[call.id], calibration)
        matches_of[call.id] = matches
        rankings[call.id] = [data.set_id[m.posting_id] for m in matches]
        chosen = fitting(matches, calibration)
        told += len(chosen)
        useful += sum(1 for m in chosen if call_set.grade(call.id, data.set_id[m.posting_id]) >= 1)
    graded = sum(1 for g in call_set.grades.values() if g >= 1)
    metrics = ranking_metrics(rankings, relevant)
    return {
        "source": call_set.source,
        "calls": len(call_set.calls),
        "call_to_posting": {k: v for k, v in metrics.items() if k != "queries"},
        "telling": {
            "threshold": calibration.threshold,
            "told": told,
            "precision": useful / told if told else 0.0,
            "recall": useful / graded if graded else 0.0,
        },
        "consortia": consortia_metrics(data, call_set, matches_of, policy, calibration),
    }


def consortia_metrics(
    data: LoadedSet,
    call_set: CallSet,
    matches_of: dict[str, list[CallMatch]],
    policy: MatchPolicy,
    calibration: CallCalibration,
) -> dict[str, Any]:
    """Build the consortia of every call with the production group builder and judge them."""
    ranking_of = data.ranking_of(policy.calibration, policy.candidates)
    by_id = {p.id: p for p in data.eval_set.postings}
    weight = data.replica.lexical.idf
    sides: dict[str, ConceptSide] = {}

    def side(posting_id: str) -> ConceptSide:
        if posting_id not in sides:
            p = by_id[posting_id]
            sides[posting_id] = concept_side(p.title, p.description, list(p.keywords))
        return sides[posting_id]

    def pair_fit(need_id: int, offer_id: int) -> float | None:
        # What the matcher would suggest: the offer in the need's ranking, above the threshold.
        for c in ranking_of(need_id):
            if c.posting_id == offer_id:
                return c.score if c.score >= policy.calibration.threshold else None
        return None

    groups = satisfied = all_relevant = 0
    unmet: dict[str, str] = {}
    for call in call_set.calls:
        call_side = concept_side(call.title, call.text, list(call.keywords))
        candidates = []
        for m in fitting(matches_of[call.id], calibration):
            p = by_id[data.set_id[m.posting_id]]
            candidates.append(
                CallCandidate(
                    organisation_id=data.replica.facts[m.posting_id].organisation_id,
                    organisation_type=p.org_type,
                    country=SET_COUNTRY,
                    cluster=p.s3_area,
                    posting_id=m.posting_id,
                    posting_kind=p.kind,
                    score=m.score,
                    covers=frozenset(covered_concepts(call_side, side(p.id), weight)),
                )
            )
        proposals = propose_groups(call.terms, candidates, pair_fit=pair_fit, introduced=set())
        if not proposals.groups:
            unmet[call.id] = proposals.unmet_reason or ""
        for group in proposals.groups:
            groups += 1
            satisfied += not rule_violations(call.terms.rule, group.members)
            all_relevant += all(
                call_set.grade(call.id, data.set_id[m.posting_id]) >= 1 for m in group.members
            )
    return {
        "calls_with_groups": len(call_set.calls) - len(unmet),
        "groups": groups,
        "rule_satisfied": satisfied / groups if groups else 0.0,
        "all_members_relevant": all_relevant / groups if groups else 0.0,
        "unmet": unmet,
    }


def labelled_call_pairs(
    data: LoadedSet, call_set: CallSet, probes: dict[str, CallProbe], calls: Sequence[EvalCall] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (grade >= 1) of every eligible (call, posting) pair."""
    neutral = CallCalibration(weights=(0.0,) * len(CALL_FEATURES), bias=0.0, threshold=0.5)
    rows, labels = [], []
    for call in call_set.calls if calls is None else calls:
        for m in call_matches(data, call, probes[call.id], neutral):
            rows.append(list(m.features.values()))
            labels.append(call_set.grade(call.id, data.set_id[m.posting_id]) >= 1)
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=int)


def fit_call_calibration(
    data: LoadedSet, call_set: CallSet, encoder: Encoder, second: MultilingualEncoder | None
) -> tuple[CallCalibration, dict[str, Any]]:
    """Logistic weights on every eligible pair; the threshold with the best F1 of telling members.

    Also reports nDCG@10 with each call ranked by weights fitted without it (leave one call out),
    the honest figure for calls the weights never saw.
    """
    probes = call_probes(call_set.calls, encoder, second)
    features, labels = labelled_call_pairs(data, call_set, probes)
    weights, bias = _fit(features, labels)
    fitted = CallCalibration(weights, bias, 0.5, fitted_on=call_set.source)
    scores = fitted.score(features)
    best: tuple[float, float, dict[str, float]] = (-1.0, 0.5, {})
    for threshold in THRESHOLDS:
        picked = labels[scores >= threshold]
        precision = float(picked.mean()) if len(picked) else 0.0
        recall = float(picked.sum() / labels.sum()) if labels.sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best[0]:
            best = (f1, threshold, {"precision": precision, "recall": recall, "f1": f1})
    calibration = CallCalibration(weights, bias, best[1], fitted_on=call_set.source)
    rankings: dict[str, list[str]] = {}
    for call in call_set.calls:
        others = [c for c in call_set.calls if c.id != call.id]
        w, b = _fit(*labelled_call_pairs(data, call_set, probes, others))
        held_out = CallCalibration(w, b, 0.5)
        rankings[call.id] = [
            data.set_id[m.posting_id] for m in call_matches(data, call, probes[call.id], held_out)
        ]
    relevant: dict[str, dict[str, int]] = {c.id: {} for c in call_set.calls}
    for (call_id, posting_id), grade in call_set.grades.items():
        relevant[call_id][posting_id] = grade
    report = {
        "pairs": len(labels),
        "positives": int(labels.sum()),
        "held_out_ndcg@10": ranking_metrics(rankings, relevant)["ndcg@10"],
        "telling": {"threshold": best[1], **best[2]},
    }
    return calibration, report


def _fit(features: np.ndarray, labels: np.ndarray) -> tuple[tuple[float, ...], float]:
    model = LogisticRegression(C=REGULARISATION, max_iter=5000).fit(features, labels)
    return tuple(round(float(w), 4) for w in model.coef_[0]), round(float(model.intercept_[0]), 4)
