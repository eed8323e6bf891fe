"""Hybrid retrieval and ranking over the replica, and the delivery rule.

Candidates come from three retrievers, so that neither words nor meaning alone decide who is
considered: the nearest whole-text vectors (FAISS), the best TF-IDF matches of the English
pivot terms, and the nearest raw-text vectors of the multilingual second encoder (if any). Every candidate is then scored on the same features with the calibrated model.
The evaluation harness calls these very functions: what it measures is what the matcher does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from api.matching.replica import IndexReplica, Probe, opposite
from embeddings.scoring import FEATURES, Calibration, across_languages, trl_fit

# How many of a posting's nearest by the vector `surely_ranked` scores (besides the one it checks):
# FIRST_PART for every posting (at 300k they settle 60-90% of an offer's needs), PART_SIZE for the rest.
FIRST_PART = 3
PART_SIZE = 10
# Near neighbours searched for a part: PART_SIZE of other organisations, with room for the posting's own.
PART_HITS = 2 * PART_SIZE


@dataclass(frozen=True)
class Candidate:
    posting_id: int
    score: float
    features: dict[str, float]


def pair_features(replica: IndexReplica, probe: Probe, ids: list[int]) -> np.ndarray:
    """FEATURES for the probe against each stored posting of the opposite kind (rows in `ids` order)."""
    return pairs_features(replica, [probe], [ids])


def pairs_features(replica: IndexReplica, probes: list[Probe], ids_of: list[list[int]]) -> np.ndarray:
    """FEATURES of each probe (all of one kind) against its own list of stored postings: the rows
    of the first probe's ids, then the second's... One read of each index for all of them."""
    kind = opposite(probes[0].facts.kind)
    ids = [i for group in ids_of for i in group]
    owner = np.repeat(np.arange(len(probes)), [len(group) for group in ids_of])
    facts = [replica.facts[i] for i in ids]
    mine = [probes[n].facts for n in owner.tolist()]

    def similarity(stored: np.ndarray, own: list[np.ndarray]) -> np.ndarray:
        return np.einsum("ij,ij->i", stored, np.stack(own)[owner])

    semantic = similarity(replica.indexes[kind].vectors(ids), [p.vector for p in probes])
    gist = similarity(replica.heads[kind].vectors(ids), [p.head_vector for p in probes])
    lexical = replica.lexical.similarity_many([p.terms for p in probes], ids_of)
    same_area = [float(f.s3_area == m.s3_area) for f, m in zip(facts, mine, strict=True)]
    if kind == "offer":
        trl = [trl_fit(m.trl, f.trl) for f, m in zip(facts, mine, strict=True)]
    else:
        trl = [trl_fit(f.trl, m.trl) for f, m in zip(facts, mine, strict=True)]
    across = np.array(
        [float(across_languages(f.language, m.language)) for f, m in zip(facts, mine, strict=True)]
    )
    if replica.multi is not None and any(p.multi_vector is not None for p in probes):
        # A probe without a second-encoder vector scores 0 there (unknown), as a zero vector would.
        none = np.zeros(replica.multi_dim, dtype=np.float32)
        own = [p.multi_vector if p.multi_vector is not None else none for p in probes]
        multi = similarity(replica.multi[kind].vectors(ids), own)
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


def surely_ranked(
    replica: IndexReplica, posting_ids: list[int], also: int, calibration: Calibration
) -> dict[int, list[Candidate]]:
    """A cheap part of each stored posting's ranking: a few of its near neighbours by the vector
    (`replica.near`, a coarse search) and `also`, scored as `rank` scores them, best first. One
    batch for all.

    A posting that does not clearly fit this part cannot clearly fit the whole ranking: the whole
    only adds competitors, so its best is as high or higher and `also` ranks as low or lower. The
    delivery rule uses it to skip the full ranking of every need an offer clearly cannot reach
    (most of them, once the collection is large), with the same pairs as a result. That holds of
    any part: the neighbours need not be the exact nearest (at a million postings the coarse
    search halved the batch's cost), and FIRST_PART of them settle most needs, so only the rest
    are scored on PART_SIZE.
    """
    parts = _parts(replica, posting_ids, also, calibration, FIRST_PART)
    undecided = [i for i in posting_ids if _fits(also, parts[i], calibration)]
    parts.update(_parts(replica, undecided, also, calibration, PART_SIZE))
    return parts


def _parts(
    replica: IndexReplica, posting_ids: list[int], also: int, calibration: Calibration, size: int
) -> dict[int, list[Candidate]]:
    """Each posting's `size` near neighbours (other organisations) and `also`, scored, best first."""
    if not posting_ids:
        return {}
    probes = [replica.probe(i) for i in posting_ids]
    ids_of = []
    for probe in probes:
        ids = {also}
        for i, _ in replica.near(probe, PART_HITS):
            if len(ids) > size:
                break
            if i in replica.facts and replica.facts[i].organisation_id != probe.facts.organisation_id:
                ids.add(i)
        ids_of.append(sorted(ids))
    # Rounded as `score_against` rounds, so that equal scores tie the same way.
    scores = [round(float(s), 4) for s in calibration.score(pairs_features(replica, probes, ids_of))]
    parts, start = {}, 0
    for posting_id, ids in zip(posting_ids, ids_of, strict=True):
        scored = [
            Candidate(i, score, {}) for i, score in zip(ids, scores[start : start + len(ids)], strict=True)
        ]
        parts[posting_id] = sorted(scored, key=lambda c: (-c.score, c.posting_id))
        start += len(ids)
    return parts


def deliverable(
    probe_id: int,
    probe_kind: str,
    ranked: list[Candidate],
    calibration: Calibration,
    ranking_of: Callable[[int], list[Candidate]],
    *,
    limit: int | None = None,
    part_of_ranking: Mapping[int, list[Candidate]] | None = None,
) -> list[Candidate]:
    """The candidates worth a suggestion: the pairs in which the offer clearly fits the need.

    For a need that is its own ranking; for an offer, the needs above the threshold whose own
    ranking (`ranking_of(id)` ranks a stored posting) it clearly fits. The same predicate on the
    same postings gives the same pairs whichever side arrived last. `limit` keeps the best ones
    only, and spares an offer ranking the needs it would not suggest anyway; so does
    `part_of_ranking[id]` (`surely_ranked`: a need the offer does not clearly fit even there is
    skipped without its full ranking).
    """
    if probe_kind == "need":
        return clearly_fitting(ranked, calibration)[:limit]
    chosen: list[Candidate] = []
    for candidate in ranked:
        if candidate.score < calibration.threshold or len(chosen) == limit:
            break  # ranked best first: no later need can reach the threshold either
        need = candidate.posting_id
        part = part_of_ranking.get(need) if part_of_ranking is not None else None
        if part is not None and not _fits(probe_id, part, calibration):
            continue
        if _fits(probe_id, ranking_of(need), calibration):
            chosen.append(candidate)
    return chosen


def _fits(offer_id: int, need_ranking: list[Candidate], calibration: Calibration) -> bool:
    return any(c.posting_id == offer_id for c in clearly_fitting(need_ranking, calibration))


@dataclass(frozen=True)
class Match:
    """One posting's matching step: its ranking, the candidates the delivery rule chose, and the
    (cached) rankings of the other side it consulted."""

    ranked: list[Candidate]
    chosen: list[Candidate]
    ranking_of: Callable[[int], list[Candidate]]


def match_probe(
    replica: IndexReplica, probe: Probe, calibration: Calibration, *, candidates: int, limit: int | None
) -> Match:
    """Rank the probe and apply the delivery rule: what `match_posting` does between its database
    reads, and what the benchmarks time. An offer's candidate needs are searched in one batch."""
    ranked = rank(replica, probe, calibration, candidates=candidates)
    is_offer = probe.facts.kind == "offer"
    checked = [c.posting_id for c in ranked if c.score >= calibration.threshold] if is_offer else []
    reverse = replica.with_reverse_searches(checked, PART_HITS)

    @functools.cache
    def ranking_of(other: int) -> list[Candidate]:
        return rank(reverse, reverse.probe(other), calibration, candidates=candidates)

    parts = surely_ranked(reverse, checked, probe.posting_id, calibration)
    chosen = deliverable(
        probe.posting_id,
        probe.facts.kind,
        ranked,
        calibration,
        ranking_of,
        limit=limit,
        part_of_ranking=parts,
    )
    return Match(ranked, chosen, ranking_of)
