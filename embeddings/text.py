"""Text processing shared by embedding and scoring: what is embedded, and light tokenisation."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")

ITALIAN_STOP_WORDS = frozenset(
    """a ad al alla alle agli ai all allo anche che chi ci con da dal dalla dalle dai dagli dei del
    della delle dello degli di e ed gli i il in la le lo ma ne nei nel nella nelle nello non o per
    piu po se si sono su sul sulla sui sulle tra fra un una uno come questo questa questi queste
    quello quella nostro nostra nostri nostre vostro siamo essere ogni cui dove quando via anni
    ha hanno abbiamo viene vengono sia dell nell dall sull quest l d c""".split()
)
ENGLISH_STOP_WORDS = frozenset(
    """a an and are as at be been by can for from has have in into is it its of on or our that
    the their them these they this those to us was we were which who will with within per via
    also such other more most than then there both each any all not no""".split()
)


def posting_text(title: str, description: str, keywords: list[str]) -> str:
    """The posting as one text: title and keywords lead."""
    parts = [title.strip()]
    if keywords:
        parts.append(", ".join(k.strip() for k in keywords if k.strip()))
    parts.append(description.strip())
    return ". ".join(p for p in parts if p)


def fold(text: str) -> str:
    """Lower-case and strip accents, so "qualità" and "qualita" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Folded word tokens; an apostrophe separates words ("dell'impianto" -> "dell", "impianto")."""
    return _WORD.findall(fold(text))


def sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


_ITALIAN_MARKERS = frozenset(
    "il lo la gli le di del della dei delle che per con una uno nel nella sono siamo cerchiamo "
    "nostro nostra nostri nostre questo questa anche come essere alla alle sulla tra".split()
)
_ENGLISH_MARKERS = frozenset(
    "the of and for with our we are is to that this from on as by an be have seeking "
    "looking which can".split()
)


def detect_language(text: str, *, default: str = "it") -> str:
    """ "it", "en", or "mixed" from function-word counts; `default` when the text has none."""
    tokens = words(text)
    italian = sum(w in _ITALIAN_MARKERS for w in tokens)
    english = sum(w in _ENGLISH_MARKERS for w in tokens)
    if italian == english == 0:
        return default
    if italian and english and min(italian, english) >= 0.35 * max(italian, english):
        return "mixed"
    return "en" if english > italian else "it"


class Stemmer:
    """A snowball stemmer safe to share between threads.

    A snowballstemmer object keeps its working state on itself, so two threads stemming with one
    object corrupt each other's words (wrong stems, IndexError). Each thread gets its own object,
    and only results computed that way are cached.
    """

    def __init__(self, language: str, *, cache_size: int = 65536) -> None:
        self.language = language
        self._local = threading.local()
        # lru_cache is thread-safe; what it stores is now always a correct stem.
        self.stem = lru_cache(maxsize=cache_size)(self._stem)

    def _stem(self, word: str) -> str:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            stemmer = self._local.stemmer = snowballstemmer.stemmer(self.language)
        return stemmer.stemWord(word)
