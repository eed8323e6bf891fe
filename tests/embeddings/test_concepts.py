from embeddings.concepts import best_sentences, concept_side, shared_concepts


def test_concepts_meet_across_languages_with_each_side_wording():
    need = concept_side(
        "Tracciare i consumi di energia",
        "Vogliamo ridurre i consumi. Il controllo qualità resta manuale.",
        ["energia", "consumi"],
    )
    offer = concept_side(
        "Energy monitoring",
        "We install wireless meters to cut energy consumption. Our lab also studies robots.",
        ["energy monitoring"],
    )
    pairs = shared_concepts(need, offer, weight=lambda stem: 1.0)
    assert ("energia", "energy monitoring") in pairs
    need_sentence, offer_sentence = best_sentences(need, offer, weight=lambda stem: 1.0)
    assert "energy" in offer_sentence.lower()
    assert need_sentence in need.sentences


def test_no_shared_concepts_no_sentences():
    a = concept_side("Vino", "Analisi sensoriale del vino.", [])
    b = concept_side("Steel", "Welding of steel frames.", [])
    assert shared_concepts(a, b, weight=lambda stem: 1.0) == []
    assert best_sentences(a, b, weight=lambda stem: 1.0) is None
