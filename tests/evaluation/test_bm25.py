import math

import numpy as np
import pytest

from api.evaluation.bm25 import BM25, ENGLISH_STOP_WORDS, ITALIAN_STOP_WORDS, bm25_tokens


def test_tokens_are_lowercased_unaccented_and_filtered():
    text = "Qualità dell'acqua per l'Industria — the IoT sensors, PERCHÉ no? x 3D"
    assert bm25_tokens(text) == ["qualita", "acqua", "industria", "iot", "sensors", "perche", "3d"]


def test_no_stemming_or_translation():
    assert bm25_tokens("sensore sensori sensor") == ["sensore", "sensori", "sensor"]


def test_stop_word_lists_are_substantial():
    assert len(ITALIAN_STOP_WORDS) >= 60 and len(ENGLISH_STOP_WORDS) >= 60
    assert {"della", "nostri", "piu"} <= ITALIAN_STOP_WORDS
    assert {"the", "which", "between"} <= ENGLISH_STOP_WORDS


def test_hand_checked_scores_on_a_two_document_corpus():
    bm25 = BM25([["cat", "dog"], ["cat", "cat", "fish"]])  # N = 2, avgdl = 2.5
    # "fish": df = 1 -> idf = ln(1.5/1.5 + 1) = ln 2; doc 1 tf = 1, |d| = 3
    # -> ln2 * 1 * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 3 / 2.5)) = ln2 * 2.5 / 2.725
    fish = bm25.scores(["fish"])
    assert fish.shape == (2,)
    assert fish[0] == 0.0
    assert fish[1] == pytest.approx(math.log(2) * 2.5 / 2.725)
    assert fish[1] == pytest.approx(0.635915, abs=1e-6)
    # "cat": df = 2 -> idf = ln(0.5/2.5 + 1) = ln 1.2
    # doc 0: tf 1, |d| 2 -> 2.5 / (1 + 1.5 * 0.85) = 2.5 / 2.275; doc 1: tf 2 -> 5 / (2 + 1.725)
    cat = bm25.scores(["cat"])
    assert cat == pytest.approx([math.log(1.2) * 2.5 / 2.275, math.log(1.2) * 5 / 3.725])
    assert cat[1] > cat[0]
    # Scores add up over query tokens; unknown tokens contribute nothing.
    assert bm25.scores(["cat", "fish", "zebra"]) == pytest.approx(cat + fish)
    assert bm25.idf("zebra") == pytest.approx(math.log(2.5 / 0.5 + 1))


def test_ranking_order_prefers_the_document_matching_rare_terms():
    texts = [
        "Visione artificiale per l'ispezione di parti metalliche",
        "Visione artificiale per le malattie delle colture",
        "Additive manufacturing of metal parts",
        "Energy monitoring with IoT sensors in food plants",
    ]
    bm25 = BM25([bm25_tokens(t) for t in texts])
    scores = bm25.scores(bm25_tokens("ispezione visiva di parti metalliche con visione artificiale"))
    assert list(np.argsort(-scores))[:2] == [0, 1]
    assert scores[3] == 0.0
    assert bm25.scores(bm25_tokens("IoT energy"))[3] > 0 and np.count_nonzero(bm25.scores(["iot"])) == 1


def test_empty_corpus_and_empty_query():
    assert BM25([]).scores(["a"]).shape == (0,)
    assert BM25([[], []]).scores(["a"]) == pytest.approx([0.0, 0.0])
    assert BM25([["a"]]).scores([]) == pytest.approx([0.0])
