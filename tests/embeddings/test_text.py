from embeddings.text import detect_language, fold, posting_text, sentences, words


def test_fold_strips_accents_and_case():
    assert fold("Qualità ÈCCELLENTE") == "qualita eccellente"


def test_words_split_elisions_and_punctuation():
    assert words("Dell'impianto: qualità, 4.0!") == ["dell", "impianto", "qualita", "4", "0"]


def test_sentences_split_on_final_punctuation():
    assert sentences("Uno. Due; tre? Quattro") == ["Uno.", "Due;", "tre?", "Quattro"]


def test_posting_text_leads_with_title_and_keywords():
    text = posting_text("Titolo", "Descrizione lunga.", ["a", "b"])
    assert text.startswith("Titolo. a, b. Descrizione")


def test_detect_language():
    assert detect_language("Cerchiamo un partner per il controllo della qualità dei nostri prodotti") == "it"
    assert detect_language("We are looking for a partner for the quality control of our products") == "en"
    assert detect_language("IoT, PLC, SCADA", default="en") == "en"
