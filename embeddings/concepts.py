"""Which concepts and sentences two postings share, across languages, as their authors wrote them.

Each word is taken to its English pivot stems (through the lexicon when the sentence is
Italian), so "confezionamento" in a need and "packaging" in an offer meet on one stem, and the
explanation can show both words side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from embeddings.lexicon import Lexicon, default_lexicon
from embeddings.representation import english_stem
from embeddings.text import ENGLISH_STOP_WORDS, ITALIAN_STOP_WORDS, detect_language, sentences, words

MAX_SENTENCE_CHARS = 220
# Sides kept per process: a lab's offer is explained again for every company it is suggested to.
CACHED_SIDES = 1024


@dataclass(frozen=True)
class ConceptSide:
    """A posting's sentences, each with its pivot stems, and the written word behind each stem."""

    sentences: tuple[str, ...]
    sentence_stems: tuple[frozenset[str], ...]
    written: Mapping[str, str]


def concept_side(
    title: str, description: str, keywords: list[str], *, lexicon: Lexicon | None = None
) -> ConceptSide:
    """A posting's side (read-only: sides made with the default lexicon are cached and shared)."""
    if lexicon is None:
        return _default_side(title, description, tuple(keywords))
    return _side(title, description, list(keywords), lexicon)


@lru_cache(maxsize=CACHED_SIDES)
def _default_side(title: str, description: str, keywords: tuple[str, ...]) -> ConceptSide:
    return _side(title, description, list(keywords), default_lexicon())


def _side(title: str, description: str, keywords: list[str], lexicon: Lexicon) -> ConceptSide:
    language = "en" if detect_language(f"{title}. {description}") == "en" else "it"
    texts = [title, *keywords, *sentences(description)]
    written: dict[str, str] = {}
    stems_per_text = []
    for text in texts:
        english = detect_language(text, default=language) == "en"
        stems: set[str] = set()
        for word in words(text):
            if len(word) < 3 or word in ENGLISH_STOP_WORDS or word in ITALIAN_STOP_WORDS:
                continue
            for rendering in (word,) if english else lexicon.translate(word):
                stem = english_stem(rendering)
                stems.add(stem)
                written.setdefault(stem, word)
        stems_per_text.append(frozenset(stems))
    # Keywords are written as phrases; show the keyword itself when one of its words matches.
    for keyword in keywords:
        for stem in stems_per_text[1 + keywords.index(keyword)]:
            written[stem] = keyword.strip()
    first_sentence = 1 + len(keywords)
    return ConceptSide(
        tuple([title, *texts[first_sentence:]]),
        tuple([stems_per_text[0], *stems_per_text[first_sentence:]]),
        MappingProxyType(written),
    )


def all_stems(side: ConceptSide) -> set[str]:
    return set(side.written)


def shared_concepts(
    need: ConceptSide, offer: ConceptSide, weight: Callable[[str], float], *, limit: int = 6
) -> list[tuple[str, str]]:
    """(need's word, offer's word) for the rarest shared stems, one pair per distinct wording."""
    shared = sorted(all_stems(need) & all_stems(offer), key=lambda s: (-weight(s), s))
    pairs: list[tuple[str, str]] = []
    for stem in shared:
        pair = (need.written[stem], offer.written[stem])
        if pair not in pairs:
            pairs.append(pair)
        if len(pairs) == limit:
            break
    return pairs


def best_sentences(
    need: ConceptSide, offer: ConceptSide, weight: Callable[[str], float]
) -> tuple[str, str] | None:
    """The need sentence and offer sentence that share the most (weighted) concepts."""
    best, best_score = None, 0.0
    for need_sentence, need_stems in zip(need.sentences, need.sentence_stems, strict=True):
        for offer_sentence, offer_stems in zip(offer.sentences, offer.sentence_stems, strict=True):
            score = sum(weight(s) for s in need_stems & offer_stems)
            if score > best_score:
                best, best_score = (_clip(need_sentence), _clip(offer_sentence)), score
    return best


def _clip(sentence: str) -> str:
    return (
        sentence if len(sentence) <= MAX_SENTENCE_CHARS else sentence[: MAX_SENTENCE_CHARS - 1].rstrip() + "…"
    )
