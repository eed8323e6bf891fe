from embeddings.lexicon import Lexicon, default_lexicon
from embeddings.lexicon_training import read_parallel_sts, train_lexicon

TINY = Lexicon(words={"acqua": ("water",)}, stems={"svilupp": ("development",)}, english=frozenset())


def test_words_then_stems_then_cognates_then_the_word_itself():
    lexicon = Lexicon(
        words={"acqua": ("water",)},
        stems={"svilupp": ("development",)},
        english=frozenset({"automation", "traceability", "software", "process"}),
    )
    assert lexicon.translate("acqua") == ("water",)
    assert lexicon.translate("sviluppiamo") == ("development",)  # by stem
    assert lexicon.translate("automazione") == ("automation",)  # -zione -> -tion
    assert lexicon.translate("processi") == ("process",)  # plural
    assert lexicon.translate("software") == ("software",)  # already English
    assert lexicon.translate("tortellini") == ("tortellini",)  # unknown: kept


def test_gloss_drops_italian_function_words():
    assert TINY.gloss("Lo sviluppo dell'acqua") == "development water"


def test_shipped_lexicon_glosses_a_need_into_english():
    gloss = default_lexicon().gloss("Cerchiamo un sistema per il controllo qualità e la riduzione dei costi")
    for word in ("system", "control", "quality", "costs"):
        assert word in gloss.split(), gloss


def test_ibm_model_learns_translations_from_parallel_sentences():
    pairs = [
        ("il cane corre", "the dog runs"),
        ("il gatto corre", "the cat runs"),
        ("il cane dorme", "the dog sleeps"),
        ("il gatto dorme", "the cat sleeps"),
    ] * 2
    lexicon = train_lexicon(pairs, english_vocabulary=[], english_stop_words=frozenset({"the"}), iterations=8)
    assert lexicon["words"]["cane"][0] == "dog"
    assert lexicon["words"]["gatto"][0] == "cat"
    assert "il" not in lexicon["words"]  # only ever aligned with a stop word


def test_parallel_reader_pairs_rows(tmp_path):
    for lang, rows in {"it": ["Un cane.,Un gatto.,1.0"], "en": ["A dog.,A cat.,1.0"]}.items():
        for split in ("train", "dev"):
            (tmp_path / f"stsb-{lang}-{split}.csv").write_text("\n".join(rows) + "\n")
    assert read_parallel_sts(tmp_path) == [("Un cane.", "A dog."), ("Un gatto.", "A cat.")]


def test_a_word_one_typo_from_a_single_known_word_is_glossed_as_that_word():
    lexicon = Lexicon(
        words={"ispezione": ("inspection",), "saldatura": ("welding",), "visione": ("vision",)},
        stems={"svilupp": ("development",)},
        english=frozenset(),
        correct_typos=True,
    )
    assert lexicon.translate("ispezzione") == ("inspection",)  # a letter doubled
    assert lexicon.translate("saldatrua") == ("welding",)  # two letters swapped
    assert lexicon.translate("visone") == ("vision",)  # a letter dropped
    assert lexicon.translate("sviluppiamo") == ("development",)  # by stem, as before
    assert lexicon.translate("svilupiamo") == ("development",)  # a typo in the stem
    assert lexicon.correct("tortellini") is None and lexicon.translate("tortellini") == ("tortellini",)
    assert TINY.translate("acqqua") == ("acqqua",)  # off by default
    # Short words are left alone, and so is a word one typo from two known words.
    assert Lexicon({"pane": ("bread",)}, {}, frozenset()).correct("pone") is None
    twice = Lexicon({"mercato": ("market",), "mercati": ("markets",)}, {}, frozenset())
    assert twice.correct("mercatu") is None
