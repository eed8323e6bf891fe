import numpy as np

from embeddings.representation import PASSAGE_WORDS, english_terms, represent, vectors_of


def test_italian_posting_is_represented_in_english():
    rep = represent(
        "Controllo qualità dei pezzi",
        "Cerchiamo un sistema di visione per il controllo qualità. " * 3,
        ["controllo qualità"],
    )
    assert rep.language == "it"
    assert "quality" in rep.head.split() and "control" in rep.head.split()
    assert rep.terms["qualiti"] >= 2  # English stems count across title, keywords and text
    assert rep.texts[0] == rep.head


def test_english_sentences_are_kept_as_written_in_a_mixed_posting():
    rep = represent(
        "Monitoraggio energetico",
        "Offriamo audit energetici per le imprese. Key facts in English: we deploy wireless sensors.",
        [],
    )
    assert "we deploy wireless sensors." in rep.passages[-1]


def test_long_texts_are_cut_into_passages():
    rep = represent("Title", " ".join(["word"] * (PASSAGE_WORDS * 2 + 5)), [])
    assert len(rep.passages) == 3


def test_english_terms_drop_stop_words_and_stem():
    assert english_terms("The sensors and the sensor") == {"sensor": 2}


def test_vectors_of_averages_passages_and_keeps_the_head():
    encoded = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    body, head = vectors_of(encoded)
    assert np.allclose(head, [1.0, 0.0]) and np.allclose(body, [0.0, 1.0])
