from embeddings.text import content_terms, detect_language, fold, posting_text


def test_fold_strips_accents_and_case():
    assert fold("Qualità ÈCCELLENTE") == "qualita eccellente"


def test_content_terms_drop_stop_words_and_share_stems_across_inflections():
    assert "del" not in content_terms("il controllo del processo")
    assert content_terms("sensori") & content_terms("sensore")
    assert content_terms("inspections") & content_terms("inspection")


def test_posting_text_leads_with_title_and_keywords():
    text = posting_text("Titolo", "Descrizione lunga.", ["a", "b"])
    assert text.startswith("Titolo. a, b. Descrizione")


def test_detect_language():
    assert detect_language("Cerchiamo un partner per il controllo della qualità dei nostri prodotti") == "it"
    assert detect_language("We are looking for a partner for the quality control of our products") == "en"
