"""Call relevance: features over vectors, the calibrated score, covered concepts and reasons (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from api.calls.relevance import (
    CALL_FEATURES,
    CallCalibration,
    CallMatch,
    call_features,
    call_probe,
    call_reasons,
    covered_concepts,
    fitting,
)
from api.calls.terms import CallTerms
from embeddings.concepts import ConceptSide
from embeddings.representation import Representation


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


# A call with two topics (two passages): "x" and "y"; the posting answers only "y".
REPRESENTATION = Representation("en", "head", ("topic x", "topic y"), {"inspect": 2})
ENCODED = np.stack([unit(1, 1, 0), unit(1, 0, 0), unit(0, 1, 0)])
TERMS = CallTerms(s3_areas=frozenset({"agrifood"}), trl_min=4, trl_max=7)
PROBE = call_probe(REPRESENTATION, ENCODED, terms=TERMS, language="it")


def features_of(vectors: np.ndarray, areas: list[str], languages: list[str]) -> np.ndarray:
    return call_features(
        PROBE,
        vectors=vectors,
        heads=vectors,
        lexical=np.zeros(len(areas)),
        areas=areas,
        languages=languages,
    )


def test_the_probe_averages_the_passages_and_keeps_each_one():
    assert PROBE.passage_vectors.shape == (2, 3)
    assert np.allclose(PROBE.vector, unit(1, 1, 0)) and np.isclose(np.linalg.norm(PROBE.vector), 1.0)


def test_a_posting_answering_one_topic_of_the_call_scores_fully_on_the_passage_feature():
    rows = features_of(np.stack([unit(0, 1, 0), unit(0, 0, 1)]), ["agrifood", "construction"], ["it", "en"])
    assert rows.shape == (2, len(CALL_FEATURES))
    named = [dict(zip(CALL_FEATURES, row, strict=True)) for row in rows]
    assert named[0]["passage"] == pytest.approx(1.0) and named[0]["semantic"] == pytest.approx(
        0.7071, abs=1e-4
    )
    assert named[1]["passage"] == pytest.approx(0.0)
    assert (named[0]["in_area"], named[1]["in_area"]) == (1.0, 0.0)
    assert (named[0]["across"], named[1]["across"]) == (0.0, 1.0)
    assert named[0]["multi"] == 0.0  # no second encoder


def test_a_call_without_areas_is_neutral_on_the_area():
    probe = call_probe(REPRESENTATION, ENCODED, terms=CallTerms(), language="en")
    rows = call_features(
        probe,
        vectors=ENCODED[1:],
        heads=ENCODED[1:],
        lexical=np.zeros(2),
        areas=["a", "b"],
        languages=["en", "en"],
    )
    assert list(rows[:, CALL_FEATURES.index("in_area")]) == [0.5, 0.5]


def test_the_calibrated_score_rises_with_the_passage_cosine_and_the_threshold_selects():
    calibration = CallCalibration(weights=(0, 10, 0, 0, 0, 0, 0), bias=-5, threshold=0.5)
    rows = features_of(np.stack([unit(0, 1, 0), unit(0, 0, 1)]), ["agrifood"] * 2, ["it"] * 2)
    scores = calibration.score(rows)
    assert scores[0] > 0.99 and scores[1] < 0.01
    matches = [CallMatch(1, float(scores[0]), {}), CallMatch(2, float(scores[1]), {})]
    assert [m.posting_id for m in fitting(matches, calibration)] == [1]


CALL_SIDE = ConceptSide(
    sentences=("Funding for packaging.", "Recyclable packaging and shelf life of fresh salads."),
    sentence_stems=(frozenset({"fund", "packag"}), frozenset({"recycl", "packag", "shelf", "life", "salad"})),
    written={
        "fund": "Funding",
        "packag": "packaging",
        "recycl": "Recyclable",
        "shelf": "shelf",
        "life": "life",
        "salad": "salads",
    },
)
POSTING_SIDE = ConceptSide(
    sentences=("Insalate in busta", "Vogliamo imballaggi riciclabili e più vita commerciale."),
    sentence_stems=(frozenset({"salad"}), frozenset({"packag", "recycl", "life"})),
    written={"salad": "insalate", "packag": "imballaggi", "recycl": "riciclabili", "life": "vita"},
)
RARITY = {"recycl": 3.0, "salad": 2.5, "packag": 2.0, "life": 1.0}


def test_covered_concepts_are_the_call_s_words_for_what_the_posting_shares_rarest_first():
    covered = covered_concepts(CALL_SIDE, POSTING_SIDE, lambda s: RARITY.get(s, 0.0))
    assert covered == ("Recyclable", "salads", "packaging", "life")


def test_the_reasons_say_why_in_both_languages():
    reasons = call_reasons(
        CALL_SIDE,
        POSTING_SIDE,
        weight=lambda s: RARITY.get(s, 0.0),
        score=0.82,
        terms=TERMS,
        posting_kind="need",
        posting_area="agrifood",
        posting_trl=6,
        organisation_type="company",
        deadline="2027-03-31",
    )
    codes = [r["code"] for r in reasons]
    assert codes == ["call_fits", "call_concepts", "call_sentences", "call_area", "call_trl", "call_deadline"]
    assert reasons[0]["en"] == "This call fits your need (82%)." and reasons[0]["it"].endswith(
        "bisogno (82%)."
    )
    assert "Recyclable ↔ riciclabili" in reasons[1]["en"]
    assert reasons[3]["it"] == "Il bando riguarda la tua area (agroalimentare)."
    assert reasons[4]["en"] == "Your maturity (TRL 6) is within the call's range (TRL 4–7)."


def test_the_call_s_boilerplate_is_not_a_covered_concept():
    call = ConceptSide(
        sentences=("At least one company must join.", "Packaging."),
        sentence_stems=(frozenset({"least", "compani"}), frozenset({"packag"})),
        written={"least": "least", "compani": "company", "packag": "packaging"},
    )
    posting = ConceptSide(
        sentences=("We are a company with at least ten packaging lines.",),
        sentence_stems=(frozenset({"least", "compani", "packag"}),),
        written={"least": "least", "compani": "company", "packag": "packaging"},
    )
    rare_boilerplate = {"least": 9.0, "compani": 8.0, "packag": 1.0}
    assert covered_concepts(call, posting, lambda s: rare_boilerplate[s]) == ("packaging",)
