"""The text pipeline gives the same result from many threads as from one (shared stemmers, caches)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from embeddings.lexicon import default_lexicon
from embeddings.representation import represent
from embeddings.text import Stemmer

DEMO = json.loads((Path(__file__).parents[2] / "api/demo/demo_data.json").read_text())


def _texts() -> list[tuple[str, str, list[str]]]:
    """Every demo posting, plus variants whose new words reach the stemmers uncached."""
    base = [(p["title"], p["description"], p.get("keywords", [])) for p in DEMO["postings"]]
    variants = [
        (f"{title} {n}", " ".join(f"{word}{suffix}" for word in description.split()), keywords)
        for n, (title, description, keywords) in enumerate(base)
        for suffix in ("a", "zione", "ing")
    ]
    return base + variants


def test_representation_from_four_threads_equals_the_serial_run():
    texts = _texts()
    default_lexicon()  # loaded once, before the threads race
    # The serial reference uses fresh caches of its own, so neither run reuses the other's stems.
    serial = [represent(*text) for text in texts]
    _clear_stem_caches()
    barrier = threading.Barrier(4)

    def run(offset: int) -> list:
        barrier.wait()  # all threads stem at once
        order = texts[offset:] + texts[:offset]
        reps = [represent(*text) for text in order]
        return reps[-offset:] + reps[:-offset] if offset else reps

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [0, 7, 19, 31]))
    for reps in results:
        assert reps == serial
    # and what the threads left in the caches is right too
    assert [represent(*text) for text in texts] == serial


def test_a_stemmer_shared_by_threads_stems_every_word_correctly():
    stemmer = Stemmer("english", cache_size=0)  # no cache: every call reaches the stemmer
    words = [
        f"{stem}{suffix}"
        for stem in ("automat", "manifold", "connect", "general")
        for suffix in ("ion", "ions", "ing", "ed", "ically", "izations")
    ] * 200
    reference = Stemmer("english")
    expected = [reference.stem(word) for word in words]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: [stemmer.stem(w) for w in words], range(4)))
    assert all(result == expected for result in results)


def _clear_stem_caches() -> None:
    from embeddings import lexicon, representation

    lexicon._ITALIAN_STEMMER.stem.cache_clear()
    representation._ENGLISH_STEMMER.stem.cache_clear()
