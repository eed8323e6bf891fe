"""Text processing shared by embedding and scoring: what is embedded, and light tokenisation."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")

# Function words of Italian and English that carry no topic.
STOP_WORDS = frozenset(
    """a ad al alla alle agli ai all anche che chi con da dal dalla dai degli dei del della delle di
    e ed gli i il in la le lo ma ne nei nel nella nelle non o per piu po se si sono su sul sulla tra
    un una uno come questo questa quello quella nostro nostra nostri nostre vostro siamo essere ogni
    cui dove quando the an and or of to for with on at by from into our we us is are be this that
    these those it its as can which who per via new""".split()
)


def posting_text(title: str, description: str, keywords: list[str]) -> str:
    """The text that represents a posting for the encoder: title and keywords lead."""
    parts = [title.strip()]
    if keywords:
        parts.append(", ".join(k.strip() for k in keywords if k.strip()))
    parts.append(description.strip())
    return ". ".join(p for p in parts if p)


def fold(text: str) -> str:
    """Lower-case and strip accents, so "qualità" and "qualita" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(token: str) -> str:
    """A crude shared stem for Italian/English inflections (plural, gender, -ing, -ed)."""
    for suffix in ("zioni", "zione", "ations", "ation", "mente", "ing", "ies", "es", "ed"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)]
    if len(token) > 4 and token[-1] in "aeios":
        return token[:-1]
    return token


def content_terms(text: str) -> set[str]:
    """The stemmed content words of a text."""
    return {stem(t) for t in _WORD.findall(fold(text)) if len(t) > 2 and t not in STOP_WORDS}


_ITALIAN_MARKERS = frozenset(
    "il lo la gli le di del della dei delle che per con una uno nel nella sono siamo cerchiamo "
    "nostro nostra nostri nostre questo questa anche come essere alla alle sulla tra".split()
)
_ENGLISH_MARKERS = frozenset(
    "the of and for with our we are is to in that this from on as by an be have seeking "
    "looking which can".split()
)


def detect_language(text: str) -> str:
    """ "it", "en", or "mixed" from function-word counts; enough for the postings' main language."""
    words = _WORD.findall(fold(text))
    italian = sum(w in _ITALIAN_MARKERS for w in words)
    english = sum(w in _ENGLISH_MARKERS for w in words)
    if italian and english and min(italian, english) >= 0.35 * max(italian, english):
        return "mixed"
    return "en" if english > italian else "it"
