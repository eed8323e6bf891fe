"""Hybrid retrieval and ranking over the replica, and the delivery rule.

Candidates come from three retrievers, so that neither words nor meaning alone decide who is
considered: the nearest whole-text vectors (FAISS), the best TF-IDF matches of the English
pivot terms, and the nearest raw-text vectors of the multilingual second encoder (if any). Every candidate is then scored on the same features with the calibrated model.
The evaluation harness calls these very functions: what it measures is what the matcher does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from api.matching.replica import IndexReplica, Probe, opposite
from embeddings.scoring import FEATURES, Calibration, across_languages, trl_fit


@dataclass(frozen=True)
class Candidate:
    posting_id: int
    score: float
    features: dict[str, float]


def pair_features(replica: IndexReplica, probe: Probe, ids: list[int]) -> np.ndarray:
    """FEATURES for the probe against each stored posting of the opposite kind (rows in `ids` order)."""
    kind = opposite(probe.facts.kind)
    semantic = replica.indexes[kind].vectors(ids) @ probe.vector
    gist = replica.heads[kind].vectors(ids) @ probe.head_vector
    lexical = replica.lexical.similarity(probe.terms, ids)
    same_area = [float(replica.facts[i].s3_area == probe.facts.s3_area) for i in ids]
    if probe.facts.kind == "need":
        trl = [trl_fit(probe.facts.trl, replica.facts[i].trl) for i in ids]
    else:
        trl = [trl_fit(replica.facts[i].trl, probe.facts.trl) for i in ids]
    across = np.array([float(across_languages(replica.facts[i].language, probe.facts.language)) for i in ids])
    if replica.multi is not None and probe.multi_vector is not None:
        multi = replica.multi[kind].vectors(ids) @ probe.multi_vector
    else:
        multi = np.zeros(len(ids))
    return np.column_stack(
        [semantic, gist, lexical, same_area, trl, across, semantic * across, lexical * across,
         multi, multi * across]
    ).astype(np.float64)  # fmt: skip


def rank(
    replica: IndexReplica, probe: Probe, calibration: Calibration, *, candidates: int
) -> list[Candidate]:
    """The probe's candidates of the opposite kind, best first (other organisations only)."""
    kind = opposite(probe.facts.kind)
    found = {i for i, _ in replica.search(kind, probe.vector, candidates)}
    found.update(i for i, _ in replica.lexical.search(kind, probe.terms, candidates))
    found.update(i for i, _ in replica.search_multi(kind, probe.multi_vector, candidates))
    ids = sorted(
        i
        for i in found
        if i in replica.facts and replica.facts[i].organisation_id != probe.facts.organisation_id
    )
    if not ids:
        return []
    return sorted(score_against(replica, probe, ids, calibration), key=lambda c: (-c.score, c.posting_id))


def score_against(
    replica: IndexReplica, probe: Probe, ids: list[int], calibration: Calibration
) -> list[Candidate]:
    """The probe scored against these stored postings, in `ids` order."""
    features = pair_features(replica, probe, ids)
    scores = calibration.score(features)
    return [
        Candidate(i, round(float(score), 4), dict(zip(FEATURES, row.round(4).tolist(), strict=True)))
        for i, score, row in zip(ids, scores, features, strict=True)
    ]


def clearly_fitting(need_ranking: list[Candidate], calibration: Calibration) -> list[Candidate]:
    """The offers that clearly fit a need: in its top_k, above the threshold, within `margin` of its best.

    Relevance is the need's to judge: a company hears of the offers that clearly fit its problem,
    whatever other companies posted. A lab that fits many needs is not rationed here (that would
    hide it from every company after the first few): the per-organisation budget paces it.
    """
    if not need_ranking:
        return []
    floor = max(calibration.threshold, need_ranking[0].score - calibration.margin)
    return [c for c in need_ranking[: calibration.top_k] if c.score >= floor]


def deliverable(
    probe_id: int,
    probe_kind: str,
    ranked: list[Candidate],
    calibration: Calibration,
    ranking_of: Callable[[int], list[Candidate]],
    *,
    limit: int | None = None,
) -> list[Candidate]:
    """The candidates worth a suggestion: the pairs in which the offer clearly fits the need.

    For a need that is its own ranking; for an offer, the needs above the threshold whose own
    ranking (`ranking_of(id)` ranks a stored posting) it clearly fits. The same predicate on the
    same postings gives the same pairs whichever side arrived last. `limit` keeps the best ones
    only, and spares an offer ranking the needs it would not suggest anyway.
    """
    if probe_kind == "need":
        return clearly_fitting(ranked, calibration)[:limit]
    chosen: list[Candidate] = []
    for candidate in ranked:
        if candidate.score < calibration.threshold or len(chosen) == limit:
            break  # ranked best first: no later need can reach the threshold either
        fits = clearly_fitting(ranking_of(candidate.posting_id), calibration)
        if any(c.posting_id == probe_id for c in fits):
            chosen.append(candidate)
    return chosen
