"""A suggestion's explanation in the members' languages (Italian and English)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from embeddings.concepts import ConceptSide, best_sentences, shared_concepts
from embeddings.scoring import trl_fit

Reason = tuple[str, dict[str, Any]]  # (code, parameters), rendered in each language

LANGUAGES = ("it", "en")

AREA_NAMES = {
    "agrifood": {"it": "agroalimentare", "en": "agrifood"},
    "mechatronics_automotive": {"it": "meccatronica e motoristica", "en": "mechatronics and automotive"},
    "construction": {"it": "edilizia e costruzioni", "en": "construction"},
    "health_wellbeing": {"it": "salute e benessere", "en": "health and wellbeing"},
    "culture_creative": {"it": "cultura e creatività", "en": "culture and creative industries"},
    "services_innovation": {"it": "innovazione nei servizi", "en": "innovation in services"},
    "energy_sustainability": {
        "it": "energia e sviluppo sostenibile",
        "en": "energy and sustainable development",
    },
    "urban_tourism": {"it": "economia urbana e turismo", "en": "urban economy and tourism"},
}
SIDE_NAMES = {"need": {"it": "Il bisogno", "en": "The need"}, "offer": {"it": "L'offerta", "en": "The offer"}}

LANGUAGE_NAMES = {
    "it": {"it": "italiano", "en": "Italian"},
    "en": {"it": "inglese", "en": "English"},
    "mixed": {"it": "italiano e inglese", "en": "Italian and English"},
}

MESSAGES: dict[str, dict[str, str]] = {
    "semantic_close": {
        "it": "L'offerta descrive da vicino ciò che il bisogno chiede.",
        "en": "The offer describes closely what the need asks for.",
    },
    "semantic_related": {
        "it": "Offerta e bisogno trattano argomenti affini.",
        "en": "The offer and the need talk about related topics.",
    },
    "shared_concepts": {"it": "Concetti in comune: {pairs}.", "en": "Shared concepts: {pairs}."},
    "matching_sentences": {
        "it": "Il bisogno dice: «{need}» — l'offerta risponde: «{offer}»",
        "en": "The need says: “{need}” — the offer answers: “{offer}”",
    },
    "across_languages": {
        "it": "Il bisogno è scritto in {need_lang}, l'offerta in {offer_lang}: sono stati confrontati i significati.",
        "en": "The need is written in {need_lang}, the offer in {offer_lang}: their meanings were compared.",
    },
    "same_area": {
        "it": "Stessa area di specializzazione ({area}).",
        "en": "Same specialisation area ({area}).",
    },
    "cross_area": {
        "it": "Incontro tra aree diverse ({need_area} / {offer_area}).",
        "en": "A match across areas ({need_area} / {offer_area}).",
    },
    "trl_fits": {
        "it": "Maturità adeguata: l'offerta è a TRL {offer_trl}, il bisogno chiede TRL {need_trl}.",
        "en": "Maturity fits: the offer is at TRL {offer_trl}, the need asks TRL {need_trl}.",
    },
    "trl_gap": {
        "it": "L'offerta (TRL {offer_trl}) è poco sotto il TRL {need_trl} richiesto: un progetto comune può colmare il divario.",
        "en": "The offer (TRL {offer_trl}) is a little below the need's TRL {need_trl}: a joint project could close the gap.",
    },
    "add_trl": {
        "it": "{side} potrebbe indicare il proprio TRL, per confrontare la maturità.",
        "en": "{side} could state its TRL, so maturity can be compared.",
    },
    "add_keywords": {
        "it": "{side} potrebbe elencare almeno tre parole chiave.",
        "en": "{side} could list at least three keywords.",
    },
    "add_detail": {
        "it": "{side} potrebbe descrivere meglio problema e vincoli.",
        "en": "{side} could describe the problem and constraints in more detail.",
    },
    "add_english_keywords": {
        "it": "{side} potrebbe aggiungere parole chiave in inglese, per farsi trovare da chi scrive in inglese.",
        "en": "{side} could add English keywords, to be found by members who write in English.",
    },
    # What a person reads first: the label and the strongest plain reason, no numbers.
    "summary": {"it": "{label}. {reason}", "en": "{label}. {reason}"},
    # The numbers, for whoever wants them, after the reasons.
    "details": {
        "it": "Punteggio {percent}. Dettagli: significato {semantic}, sintesi {gist}, termini {lexical}, stessa area {same_area}, maturità {trl_fit}, multilingue {multi}.",
        "en": "Score {percent}. Details: meaning {semantic}, gist {gist}, terms {lexical}, same area {same_area}, maturity {trl_fit}, multilingual {multi}.",
    },
}

# A calibrated score reads as a probability, and "0.97" reads as certainty: people see a word,
# with the percentage in the details. Bands on the score itself (the delivery threshold is lower).
SCORE_LABELS = ((0.8, "strong"), (0.6, "good"), (0.0, "possible"))
LABEL_NAMES = {
    "strong": {"it": "Abbinamento forte", "en": "Strong match"},
    "good": {"it": "Abbinamento buono", "en": "Good match"},
    "possible": {"it": "Abbinamento possibile", "en": "Possible match"},
}


def score_label(score: float) -> str:
    """The word a person reads: "strong", "good" or "possible"."""
    return next(label for floor, label in SCORE_LABELS if score >= floor)


def score_percent(score: float) -> str:
    return f"{round(score * 100)}%"


# Cosines of the English pivot texts above these read as "close" / "related" to a person.
SEMANTIC_CLOSE, SEMANTIC_RELATED = 0.6, 0.4


def render(code: str, params: dict[str, Any]) -> dict[str, str]:
    """{"code", "it", "en"}: the same message in each language."""
    rendered: dict[str, str] = {"code": code}
    for lang in LANGUAGES:
        rendered[lang] = MESSAGES[code][lang].format(**{k: _localised(k, v, lang) for k, v in params.items()})
    return rendered


def _localised(key: str, value: Any, lang: str) -> Any:
    if key.endswith("area") and value in AREA_NAMES:
        return AREA_NAMES[value][lang]
    if key == "side":
        return SIDE_NAMES[value][lang]
    if key.endswith("_lang"):
        return LANGUAGE_NAMES[value][lang]
    if key == "label":
        return LABEL_NAMES[value][lang]
    return value


@dataclass(frozen=True)
class PostingSummary:
    """What an explanation reads of a posting."""

    kind: str
    language: str
    s3_area: str
    trl: int | None
    description: str
    keywords: list[str]
    concepts: ConceptSide


def explanation_of(
    need: PostingSummary,
    offer: PostingSummary,
    *,
    score: float,
    features: dict[str, float],
    contributions: dict[str, float],
    weight: Callable[[str], float],
) -> dict[str, Any]:
    """Score parts, the reasons in both languages, and advice to each side."""
    reasons: list[Reason] = []
    meaning = max(features["semantic"], features["gist"])
    if meaning >= SEMANTIC_CLOSE:
        reasons.append(("semantic_close", {}))
    elif meaning >= SEMANTIC_RELATED:
        reasons.append(("semantic_related", {}))
    pairs = shared_concepts(need.concepts, offer.concepts, weight)
    if pairs:
        shown = ", ".join(n if n.lower() == o.lower() else f"{n} ↔ {o}" for n, o in pairs)
        reasons.append(("shared_concepts", {"pairs": shown}))
    sentences = best_sentences(need.concepts, offer.concepts, weight)
    if sentences:
        reasons.append(("matching_sentences", {"need": sentences[0], "offer": sentences[1]}))
    if {need.language, offer.language} == {"it", "en"}:
        reasons.append(("across_languages", {"need_lang": need.language, "offer_lang": offer.language}))
    if need.s3_area == offer.s3_area:
        reasons.append(("same_area", {"area": need.s3_area}))
    else:
        reasons.append(("cross_area", {"need_area": need.s3_area, "offer_area": offer.s3_area}))
    fit = trl_fit(need.trl, offer.trl)
    if need.trl is not None and offer.trl is not None and fit > 0:
        reasons.append(
            ("trl_fits" if fit == 1.0 else "trl_gap", {"offer_trl": offer.trl, "need_trl": need.trl})
        )
    rendered = [render(code, params) for code, params in reasons]
    # Formatted here, not by render(): the reason is already in each language.
    summary = {
        lang: MESSAGES["summary"][lang]
        .format(label=LABEL_NAMES[score_label(score)][lang], reason=rendered[0][lang] if rendered else "")
        .rstrip()
        for lang in LANGUAGES
    }
    details = render(
        "details",
        {
            "percent": score_percent(score),
            **{k: f"{features.get(k, 0.0):.2f}" for k in ("semantic", "gist", "lexical", "trl_fit", "multi")},
            "same_area": "✓" if features["same_area"] else "✗",
        },
    )
    return {
        "summary": summary,
        "details": {lang: details[lang] for lang in LANGUAGES},
        "parts": {"features": features, "contributions": contributions},
        "reasons": rendered,
        "shared_terms": [n for n, _ in pairs],
        "advice": [render(code, params) for code, params in _advice(need) + _advice(offer)],
    }


class _Written(Protocol):
    kind: str
    language: str
    trl: int | None
    description: str
    keywords: list[str]


def posting_advice(posting: _Written) -> list[dict[str, str]]:
    """What would help a posting be found, in both languages (shown when it found no suggestion)."""
    return [render(code, params) for code, params in _advice(posting)]


def _advice(side: _Written) -> list[Reason]:
    advice: list[Reason] = []
    if side.trl is None:
        advice.append(("add_trl", {"side": side.kind}))
    if len(side.keywords or []) < 3:
        advice.append(("add_keywords", {"side": side.kind}))
    if len(side.description.split()) < 40:
        advice.append(("add_detail", {"side": side.kind}))
    if side.language == "it":
        advice.append(("add_english_keywords", {"side": side.kind}))
    return advice
