"""A suggestion's explanation in the members' languages (Italian and English)."""

from __future__ import annotations

from typing import Any

from embeddings.scoring import PairScore, Reason

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

MESSAGES: dict[str, dict[str, str]] = {
    "semantic_close": {
        "it": "L'offerta descrive da vicino ciò che il bisogno chiede.",
        "en": "The offer describes closely what the need asks for.",
    },
    "semantic_related": {
        "it": "Offerta e bisogno trattano argomenti affini.",
        "en": "The offer and the need talk about related topics.",
    },
    "shared_terms": {"it": "Temi in comune: {terms}.", "en": "Shared topics: {terms}."},
    "same_area": {
        "it": "Stessa area di specializzazione ({area}).",
        "en": "Same specialisation area ({area}).",
    },
    "neighbour_area": {
        "it": "Aree vicine ({need_area} / {offer_area}).",
        "en": "Neighbouring areas ({need_area} / {offer_area}).",
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
    "summary": {
        "it": "Punteggio {score}: significato {semantic}, area {area}, parole chiave {keywords}, maturità {trl}.",
        "en": "Score {score}: meaning {semantic}, area {area}, keywords {keywords}, maturity {trl}.",
    },
}


def render(code: str, params: dict[str, Any]) -> dict[str, str]:
    """{"code", "it", "en"}: the same message in each language."""
    rendered: dict[str, str] = {"code": code}
    for lang in LANGUAGES:
        localised = {
            key: AREA_NAMES[value][lang]
            if key.endswith("area") and value in AREA_NAMES
            else SIDE_NAMES[value][lang]
            if key == "side"
            else value
            for key, value in params.items()
        }
        rendered[lang] = MESSAGES[code][lang].format(**localised)
    return rendered


def _render_all(items: list[Reason]) -> list[dict[str, str]]:
    return [render(code, params) for code, params in items]


def explanation_of(result: PairScore) -> dict[str, Any]:
    parts = result.parts
    summary = render(
        "summary",
        {
            name: f"{value:.2f}"
            for name, value in {
                "score": result.score,
                **{k: parts[k] for k in ("semantic", "area", "keywords", "trl")},
            }.items()
        },
    )
    return {
        "summary": {lang: summary[lang] for lang in LANGUAGES},
        "reasons": _render_all(result.reasons),
        "shared_terms": result.shared_terms,
        "advice": _render_all(result.advice),
    }
