"""What the matcher knows of a posting's text: English "pivot" passages and index terms.

Every posting is brought to English first (Italian sentences are glossed, English ones kept),
so that one English encoder and one lexical index compare an Italian need with an English
offer as readily as two English postings. Then:
- `head`: title and keywords, the posting's gist, embedded on its own;
- `passages`: the whole text in short passages, embedded and averaged (the encoder reads at
  most 256 word pieces, and a long offer would otherwise lose its end);
- `terms`: English stems with their counts, for the lexical (TF-IDF) index;
- `raw`: title, keywords and description as written, for the multilingual second encoder
  (it reads Italian itself, so the gloss would only lose words).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from embeddings.lexicon import Lexicon, default_lexicon
from embeddings.text import ENGLISH_STOP_WORDS, Stemmer, detect_language, posting_text, sentences, words

PASSAGE_WORDS = 60
# Stored with each vector: changing how postings are represented makes old vectors stale,
# and `clustermatch reindex` re-embeds them.
REPRESENTATION = "pivot-en-1"


def index_model_id(model: str) -> str:
    return f"{model}+{REPRESENTATION}"


RAW_REPRESENTATION = "raw-1"


def second_model_id(model: str) -> str:
    """What is stored beside the second vector ("" when there is no second encoder)."""
    return f"{model}+{RAW_REPRESENTATION}" if model else ""


@dataclass(frozen=True)
class Representation:
    language: str
    head: str
    passages: tuple[str, ...]
    terms: dict[str, int]
    raw: str = ""

    @property
    def texts(self) -> list[str]:
        """What the encoder embeds, in the order `vectors_of` expects."""
        return [self.head, *self.passages]


def to_english(text: str, language: str, lexicon: Lexicon) -> str:
    """English sentences as written, the others glossed (a sentence without cues follows the posting)."""
    out = []
    for sentence in sentences(text):
        if detect_language(sentence, default=language) == "en":
            out.append(sentence)
        else:
            out.append(lexicon.gloss(sentence))
    return " ".join(out)


def represent(
    title: str, description: str, keywords: list[str], *, lexicon: Lexicon | None = None
) -> Representation:
    lexicon = lexicon or default_lexicon()
    keyword_line = ", ".join(k.strip() for k in keywords if k.strip())
    language = detect_language(f"{title}. {description}")
    posting_language = "en" if language == "en" else "it"
    head = to_english(f"{title}. {keyword_line}.", posting_language, lexicon)
    body = to_english(description, posting_language, lexicon)
    all_words = f"{head} {body}".split()
    passages = tuple(
        " ".join(all_words[i : i + PASSAGE_WORDS]) for i in range(0, len(all_words), PASSAGE_WORDS)
    ) or (head,)
    raw = posting_text(title, description, keywords)
    return Representation(language, head, passages, english_terms(f"{head} {body}"), raw)


def english_terms(text: str) -> dict[str, int]:
    return dict(Counter(english_stem(w) for w in words(text) if len(w) > 1 and w not in ENGLISH_STOP_WORDS))


_ENGLISH_STEMMER = Stemmer("english")


def english_stem(word: str) -> str:
    return _ENGLISH_STEMMER.stem(word)


def vectors_of(encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(body vector, head vector) from the encoder's rows for `Representation.texts`."""
    head, passages = encoded[0], encoded[1:]
    body = passages.mean(axis=0)
    return _unit(body), _unit(head)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm else vector).astype(np.float32)
