from string import Formatter

from api.matching.explain import MESSAGES, PostingSummary, explanation_of, render, score_label, score_percent
from embeddings.concepts import concept_side

FEATURES = {"semantic": 0.66, "gist": 0.5, "lexical": 0.3, "same_area": 1.0, "trl_fit": 1.0}


def summary(kind: str, language: str, title: str, description: str, keywords: list[str], trl=None):  # type: ignore[no-untyped-def]
    return PostingSummary(
        kind=kind,
        language=language,
        s3_area="mechatronics_automotive",
        trl=trl,
        description=description,
        keywords=keywords,
        concepts=concept_side(title, description, keywords),
    )


NEED = summary(
    "need",
    "it",
    "Controllo qualità automatico di pezzi lavorati",
    "Cerchiamo un sistema di visione artificiale per rilevare difetti superficiali sui pezzi.",
    ["visione artificiale", "controllo qualità"],
    trl=6,
)
OFFER = summary(
    "offer",
    "en",
    "Machine vision for industrial quality inspection",
    "Deep learning detects surface defects on machined parts, with automatic quality control reports.",
    ["machine vision", "quality control", "surface defects"],
    trl=6,
)


def test_every_message_exists_in_italian_and_english_with_the_same_placeholders():
    for code, texts in MESSAGES.items():
        assert set(texts) == {"it", "en"}, code
        fields = {
            lang: sorted(f for _, f, _, _ in Formatter().parse(text) if f) for lang, text in texts.items()
        }
        assert fields["it"] == fields["en"], code


def test_render_localises_areas_sides_and_languages():
    assert (
        render("same_area", {"area": "agrifood"})["it"] == "Stessa area di specializzazione (agroalimentare)."
    )
    assert render("add_trl", {"side": "offer"})["en"].startswith("The offer could state")
    assert (
        "in italiano, l'offerta in inglese"
        in render("across_languages", {"need_lang": "it", "offer_lang": "en"})["it"]
    )


def test_explanation_shows_concepts_matched_across_languages_and_the_score_parts():
    explanation = explanation_of(
        NEED,
        OFFER,
        score=0.71,
        features=FEATURES,
        contributions={"semantic": 5.0},
        weight=lambda stem: 1.0,
    )
    # The plain sentence first, the numbers apart.
    assert explanation["summary"]["it"] == "Abbinamento buono. " + explanation["reasons"][0]["it"]
    assert explanation["summary"]["en"] == "Good match. The offer describes closely what the need asks for."
    assert "0.71" not in explanation["summary"]["en"] and "71%" not in explanation["summary"]["en"]
    assert explanation["details"]["it"].startswith("Punteggio 71%. Dettagli: significato 0.66")
    assert explanation["details"]["en"].startswith("Score 71%. Details: meaning 0.66")
    codes = [r["code"] for r in explanation["reasons"]]
    assert codes[:2] == ["semantic_close", "shared_concepts"]
    assert {"matching_sentences", "across_languages", "same_area", "trl_fits"} <= set(codes)
    shared = explanation["reasons"][1]["en"]
    # The Italian wording on the need's side faces the English wording on the offer's side.
    assert "controllo qualità ↔ quality control" in shared or "difetti ↔ defects" in shared, shared
    assert explanation["parts"]["features"] == FEATURES
    advice = {(a["code"]) for a in explanation["advice"]}
    assert "add_english_keywords" in advice  # the Italian need could be found by more labs


def test_a_score_reads_as_a_word_with_its_percentage():
    assert [score_label(s) for s in (0.97, 0.8, 0.79, 0.6, 0.31)] == [
        "strong",
        "strong",
        "good",
        "good",
        "possible",
    ]
    assert score_percent(0.314) == "31%" and score_percent(1.0) == "100%"
