from string import Formatter

from api.matching.explain import MESSAGES, explanation_of, render
from embeddings.scoring import PairScore


def test_every_message_exists_in_italian_and_english_with_the_same_placeholders():
    for code, texts in MESSAGES.items():
        assert set(texts) == {"it", "en"}, code
        fields = {
            lang: sorted(f for _, f, _, _ in Formatter().parse(text) if f) for lang, text in texts.items()
        }
        assert fields["it"] == fields["en"], code


def test_render_localises_areas_and_sides():
    assert (
        render("same_area", {"area": "agrifood"})["it"] == "Stessa area di specializzazione (agroalimentare)."
    )
    assert render("add_trl", {"side": "offer"})["en"].startswith("The offer could state")


def test_explanation_has_a_summary_in_both_languages():
    result = PairScore(
        score=0.71,
        parts={"semantic": 0.6, "area": 1.0, "keywords": 0.5, "trl": 1.0, "cosine": 0.5},
        shared_terms=["robotica"],
        reasons=[("shared_terms", {"terms": "robotica"})],
        advice=[],
    )
    explanation = explanation_of(result)
    assert explanation["summary"]["it"].startswith("Punteggio 0.71")
    assert explanation["reasons"][0] == {
        "code": "shared_terms",
        "it": "Temi in comune: robotica.",
        "en": "Shared topics: robotica.",
    }
