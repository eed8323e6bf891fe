from embeddings.scoring import PostingFeatures, area_part, score_pair, semantic_part, trl_part

NEED = PostingFeatures(
    kind="need",
    title="Controllo qualità automatico di ingranaggi",
    description="Cerchiamo un sistema di visione artificiale per rilevare difetti superficiali sui pezzi lavorati.",
    keywords=["visione artificiale", "controllo qualità", "difetti superficiali"],
    s3_area="mechatronics_automotive",
    trl=6,
)
OFFER = PostingFeatures(
    kind="offer",
    title="Visione artificiale per l'ispezione industriale",
    description="Reti neurali per il rilevamento di difetti superficiali su componenti metallici.",
    keywords=["visione artificiale", "deep learning", "difetti superficiali"],
    s3_area="mechatronics_automotive",
    trl=5,
)


def test_same_area_scores_above_neighbour_above_unrelated():
    assert area_part("agrifood", "agrifood") == 1.0
    assert area_part("agrifood", "energy_sustainability") == 0.5
    assert area_part("agrifood", "culture_creative") == 0.0


def test_trl_fits_when_offer_is_mature_enough_and_decays_with_the_gap():
    assert trl_part(5, 6) == 1.0
    assert trl_part(6, 5) > trl_part(6, 4) > trl_part(6, 2) == 0.0
    assert trl_part(None, 5) == 0.5


def test_semantic_part_is_clipped_to_unit_interval():
    assert semantic_part(-0.2) == 0.0
    assert semantic_part(0.99) == 1.0
    assert 0 < semantic_part(0.5) < 1


def test_score_is_in_unit_interval_and_grows_with_similarity():
    low = score_pair(NEED, OFFER, 0.2)
    high = score_pair(NEED, OFFER, 0.7)
    assert 0.0 <= low.score < high.score <= 1.0
    assert set(high.parts) >= {"semantic", "area", "keywords", "trl", "cosine"}


def test_explanation_names_shared_keywords_as_written():
    result = score_pair(NEED, OFFER, 0.6)
    assert "visione artificiale" in result.shared_terms
    codes = dict(result.reasons)
    assert codes["shared_terms"]["terms"].startswith("visione artificiale")
    assert codes["trl_gap"] == {"offer_trl": 5, "need_trl": 6}


def test_advice_asks_for_missing_trl_and_keywords():
    bare = PostingFeatures("need", "Titolo", "Breve.", [], "agrifood", None)
    result = score_pair(bare, OFFER, 0.5)
    assert ("add_trl", {"side": "need"}) in result.advice
    assert ("add_keywords", {"side": "need"}) in result.advice
    assert ("add_trl", {"side": "offer"}) not in result.advice
