"""Scoring a need/offer pair: score parts, a score in [0, 1], and the reasons in plain words.

Pure functions: the matcher passes the postings' features and their cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from embeddings.text import content_terms, fold

# S3 areas whose competences often serve each other (e.g. energy monitoring for a food plant).
NEIGHBOUR_AREAS: dict[str, frozenset[str]] = {
    "agrifood": frozenset({"health_wellbeing", "energy_sustainability"}),
    "mechatronics_automotive": frozenset({"energy_sustainability", "construction"}),
    "construction": frozenset({"energy_sustainability", "urban_tourism", "mechatronics_automotive"}),
    "health_wellbeing": frozenset({"agrifood", "services_innovation"}),
    "culture_creative": frozenset({"urban_tourism", "services_innovation"}),
    "services_innovation": frozenset(
        {"culture_creative", "health_wellbeing", "urban_tourism", "mechatronics_automotive"}
    ),
    "energy_sustainability": frozenset(
        {"agrifood", "construction", "mechatronics_automotive", "urban_tourism"}
    ),
    "urban_tourism": frozenset({"culture_creative", "construction", "services_innovation"}),
}

WEIGHTS = {"semantic": 0.60, "area": 0.15, "keywords": 0.15, "trl": 0.10}
# Cosine similarities of this model below LOW say nothing; above HIGH they are near-paraphrases.
SEMANTIC_LOW, SEMANTIC_HIGH = 0.15, 0.75


Reason = tuple[str, dict[str, object]]  # (code, parameters): rendered in each language by the app


@dataclass(frozen=True)
class PostingFeatures:
    kind: str
    title: str
    description: str
    keywords: list[str]
    s3_area: str
    trl: int | None = None


@dataclass
class PairScore:
    score: float
    parts: dict[str, float]
    shared_terms: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    advice: list[Reason] = field(default_factory=list)


def _clip01(x: float) -> float:
    return max(0.0, min(1.0, x))


def semantic_part(cosine: float) -> float:
    return _clip01((cosine - SEMANTIC_LOW) / (SEMANTIC_HIGH - SEMANTIC_LOW))


def area_part(need_area: str, offer_area: str) -> float:
    if need_area == offer_area:
        return 1.0
    return 0.5 if offer_area in NEIGHBOUR_AREAS.get(need_area, ()) else 0.0


def trl_part(need_trl: int | None, offer_trl: int | None) -> float:
    """A lab at or above the level the company needs fits; one or two levels below can close it."""
    if need_trl is None or offer_trl is None:
        return 0.5
    gap = need_trl - offer_trl
    if gap <= 0:
        return 1.0
    return {1: 0.7, 2: 0.4}.get(gap, 0.0)


def keyword_terms(features: PostingFeatures) -> set[str]:
    return content_terms(" ".join(features.keywords)) or content_terms(features.title)


def keyword_part(need: PostingFeatures, offer: PostingFeatures) -> tuple[float, list[str]]:
    """How many of each side's keywords the other side talks about (averaged both ways)."""
    need_kw, offer_kw = keyword_terms(need), keyword_terms(offer)
    need_all = content_terms(f"{need.title} {need.description} {' '.join(need.keywords)}")
    offer_all = content_terms(f"{offer.title} {offer.description} {' '.join(offer.keywords)}")
    found_in_offer = need_kw & offer_all
    found_in_need = offer_kw & need_all
    shares = [len(found_in_offer) / len(need_kw) if need_kw else 0.0]
    shares.append(len(found_in_need) / len(offer_kw) if offer_kw else 0.0)
    shared = _readable_terms(need, offer, found_in_offer | found_in_need)
    return _clip01(2 * sum(shares) / len(shares)), shared


def _readable_terms(need: PostingFeatures, offer: PostingFeatures, stems: set[str]) -> list[str]:
    """Show the keywords as the members wrote them, not as stems."""
    readable: list[str] = []
    for keyword in [*need.keywords, *offer.keywords]:
        if content_terms(keyword) & stems and fold(keyword) not in {fold(r) for r in readable}:
            readable.append(keyword)
    return readable[:6]


def score_pair(need: PostingFeatures, offer: PostingFeatures, cosine: float) -> PairScore:
    keywords, shared = keyword_part(need, offer)
    parts = {
        "semantic": round(semantic_part(cosine), 4),
        "area": area_part(need.s3_area, offer.s3_area),
        "keywords": round(keywords, 4),
        "trl": trl_part(need.trl, offer.trl),
    }
    score = round(sum(WEIGHTS[name] * value for name, value in parts.items()), 4)
    return PairScore(
        score=score,
        parts={**parts, "cosine": round(float(cosine), 4)},
        shared_terms=shared,
        reasons=_reasons(need, offer, parts, shared),
        advice=_advice(need, offer),
    )


def _reasons(
    need: PostingFeatures, offer: PostingFeatures, parts: dict[str, float], shared: list[str]
) -> list[Reason]:
    reasons: list[Reason] = []
    if parts["semantic"] >= 0.6:
        reasons.append(("semantic_close", {}))
    elif parts["semantic"] >= 0.35:
        reasons.append(("semantic_related", {}))
    if shared:
        reasons.append(("shared_terms", {"terms": ", ".join(shared)}))
    if parts["area"] == 1.0:
        reasons.append(("same_area", {"area": need.s3_area}))
    elif parts["area"] > 0:
        reasons.append(("neighbour_area", {"need_area": need.s3_area, "offer_area": offer.s3_area}))
    if need.trl is not None and offer.trl is not None:
        if parts["trl"] == 1.0:
            reasons.append(("trl_fits", {"offer_trl": offer.trl, "need_trl": need.trl}))
        elif parts["trl"] > 0:
            reasons.append(("trl_gap", {"offer_trl": offer.trl, "need_trl": need.trl}))
    return reasons


def _advice(need: PostingFeatures, offer: PostingFeatures) -> list[Reason]:
    advice: list[Reason] = []
    for side in (need, offer):
        if side.trl is None:
            advice.append(("add_trl", {"side": side.kind}))
        if len(side.keywords) < 3:
            advice.append(("add_keywords", {"side": side.kind}))
        if len(side.description.split()) < 40:
            advice.append(("add_detail", {"side": side.kind}))
    return advice
