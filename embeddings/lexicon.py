"""Italian-to-English glossing: how Italian postings meet English ones on common ground.

The bundled encoder understands English only, and a company's Italian need must still find an
English-speaking lab. Italian text is therefore glossed word by word into English (the
"pivot") before it is embedded and indexed. The gloss is not fluent, but the encoder and the
lexical index only need its content words.

Three sources, in order:
1. a word-translation table learnt from English/Italian parallel sentences (IBM Model 1,
   `clustermatch train-lexicon`), looked up by surface form and then by Italian stem;
2. regular Italian/English cognates (-zione/-tion, -ità/-ity, ...), accepted only when the
   English candidate is a known English word;
3. optionally (`correct_typos`), a known word one typo away, when exactly one is;
4. otherwise the word itself: technical terms, acronyms and names are often shared.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from embeddings.text import ITALIAN_STOP_WORDS, Stemmer, words

DEFAULT_LEXICON = Path(__file__).parent / "data" / "lexicon-it-en.json.gz"
# Shorter words are corrected too often into another real word ("pane" / "pone").
MIN_TYPO_LENGTH = 6

# Regular correspondences of Latinate word endings (Italian ending, English ending), longest first.
COGNATE_ENDINGS: tuple[tuple[str, str], ...] = (
    ("izzazioni", "izations"), ("izzazione", "ization"), ("zioni", "tions"), ("zione", "tion"),
    ("sioni", "sions"), ("sione", "sion"), ("grafia", "graphy"), ("logia", "logy"),
    ("mente", "ly"), ("izzare", "ize"), ("metri", "meters"), ("metro", "meter"),
    ("iche", "ics"), ("ici", "ic"), ("ica", "ic"), ("ico", "ic"), ("ali", "al"), ("ale", "al"),
    ("osi", "ous"), ("oso", "ous"), ("osa", "ous"), ("ose", "ous"),
    ("ivi", "ive"), ("ivo", "ive"), ("iva", "ive"), ("ive", "ive"),
    ("isti", "ists"), ("ista", "ist"), ("ismo", "ism"), ("enti", "ents"), ("ente", "ent"),
    ("anti", "ants"), ("ante", "ant"), ("enza", "ence"), ("anza", "ance"), ("ure", "ures"),
    ("ura", "ure"), ("ario", "ary"), ("aria", "ary"), ("ari", "aries"), ("ori", "ors"),
    ("ore", "or"), ("ati", "ated"), ("ato", "ated"), ("ata", "ated"), ("are", "ate"), ("ita", "ity"),
    ("i", ""), ("e", ""), ("o", ""), ("a", ""),
)  # fmt: skip
# Italian spelling differences from English in the stem (doubled consonants, ph, th, ...).
_SPELLING = (("ff", "f"), ("tt", "t"), ("zz", "z"), ("pp", "p"), ("cc", "c"), ("ll", "l"),
             ("mm", "m"), ("f", "ph"), ("t", "th"), ("z", "c"))  # fmt: skip


@dataclass(frozen=True)
class Lexicon:
    """An Italian-to-English word table; `english` is the vocabulary that validates cognates."""

    words: dict[str, tuple[str, ...]]
    stems: dict[str, tuple[str, ...]]
    english: frozenset[str]
    # Off: on the development set and its hurried copy it did not help (see the README).
    correct_typos: bool = False

    @classmethod
    def load(cls, path: Path = DEFAULT_LEXICON) -> Lexicon:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        return cls(
            words={k: tuple(v) for k, v in data["words"].items()},
            stems={k: tuple(v) for k, v in data["stems"].items()},
            english=frozenset(data["english"]),
        )

    def translate(self, word: str) -> tuple[str, ...]:
        """English renderings of one folded Italian word (the word itself when unknown)."""
        found = self.words.get(word) or self.stems.get(italian_stem(word))
        if found:
            return found
        cognate = self.cognate(word)
        if cognate:
            return (cognate,)
        corrected = self.correct(word) if self.correct_typos else None
        return self.words.get(corrected) or self.stems[corrected] if corrected else (word,)

    def correct(self, word: str) -> str | None:
        """The known Italian word one typo away (a letter dropped, doubled, swapped or wrong), if
        exactly one is: hurried members mistype, and an unknown word would pass through unglossed."""
        if len(word) < MIN_TYPO_LENGTH:
            return None
        for form in (word, italian_stem(word)):  # the table's surface forms, then its stems
            found = {known for variant in _deletes(form) for known in self._by_delete.get(variant, ())}
            found.discard(form)
            if found:
                return found.pop() if len(found) == 1 else None
        return None

    @cached_property
    def _by_delete(self) -> dict[str, tuple[str, ...]]:
        # Symmetric deletes: two words one edit apart share a one-letter deletion (or one is the
        # other's), so a lookup is a few dictionary probes instead of a scan of the vocabulary.
        index: dict[str, set[str]] = {}
        for known in [*self.words, *self.stems]:
            if len(known) >= MIN_TYPO_LENGTH - 1 and known.isalpha():
                for variant in _deletes(known):
                    index.setdefault(variant, set()).add(known)
        return {k: tuple(v) for k, v in index.items()}

    def cognate(self, word: str) -> str | None:
        if len(word) > 3 and word in self.english and word[-1] not in "aeio":
            return word  # already an English word (e.g. "software", "laser")
        for italian, english in COGNATE_ENDINGS:
            if word.endswith(italian) and len(word) > len(italian) + 2:
                for candidate in _spellings(word[: -len(italian)] + english):
                    if len(candidate) > 3 and candidate in self.english:
                        return candidate
        return None

    def gloss(self, text: str) -> str:
        """The content words of an Italian text, in English, in their original order."""
        out: list[str] = []
        for word in words(text):
            if word not in ITALIAN_STOP_WORDS:
                out.extend(self.translate(word))
        return " ".join(out)


def _deletes(word: str) -> set[str]:
    """The word and every way of dropping one of its letters."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _spellings(candidate: str):
    yield candidate
    for italian, english in _SPELLING:
        if italian in candidate:
            yield candidate.replace(italian, english)
    yield candidate + "e"
    yield candidate + "s"


_ITALIAN_STEMMER = Stemmer("italian")


def italian_stem(word: str) -> str:
    return _ITALIAN_STEMMER.stem(word)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon.load()
