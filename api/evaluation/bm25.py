"""Okapi BM25 over token lists: the plain lexical BASELINE (deliberately no stemming, no translation)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np

# Accent-stripped, lower-case; tokens shorter than 2 characters are dropped anyway.
ITALIAN_STOP_WORDS = frozenset(
    """
    il lo la gli le un uno una di da in con su per tra fra del dello della dei degli delle al allo
    alla ai agli alle dal dallo dalla dai dagli dalle nel nello nella nei negli nelle sul sullo sulla
    sui sugli sulle dell all dall nell sull ed che non si ci ne come anche ma se piu sono essere ha
    hanno questo questa questi queste quello quella nostro nostra nostri nostre cui ogni tutto tutti
    """.split()
)
ENGLISH_STOP_WORDS = frozenset(
    """
    the and or of to in on for with by at from as an is are was were be been being it its this that
    these those we our us you your they their them he she his her not no but if then than so such can
    will would should could may might must do does did has have had into about over under between
    which who whom what when where how all any each also more most other some only very
    """.split()
)
STOP_WORDS = ITALIAN_STOP_WORDS | ENGLISH_STOP_WORDS

_SPLIT = re.compile(r"[\W_]+")


def bm25_tokens(text: str) -> list[str]:
    """Lower-case, strip accents (NFKD), split on non-alphanumerics, drop short tokens and stop words."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [tok for tok in _SPLIT.split(plain) if len(tok) >= 2 and tok not in STOP_WORDS]


class BM25:
    """Okapi BM25 with idf = ln((N - df + 0.5) / (df + 0.5) + 1).

    score(q, d) = sum over query tokens t (repeats count) of
        idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    """

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.n_docs = len(documents)
        lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        avgdl = float(lengths.mean()) if self.n_docs else 0.0
        # Length normalisation per document; all-empty corpora score 0 everywhere anyway.
        self._norm = k1 * (1 - b + b * lengths / avgdl) if avgdl > 0 else np.full(self.n_docs, k1)
        postings: dict[str, list[tuple[int, int]]] = {}
        for index, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((index, tf))
        self._postings = {
            term: (np.array([i for i, _ in rows]), np.array([tf for _, tf in rows], dtype=np.float64))
            for term, rows in postings.items()
        }

    def idf(self, term: str) -> float:
        df = len(self._postings[term][0]) if term in self._postings else 0
        return math.log((self.n_docs - df + 0.5) / (df + 0.5) + 1)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """One score per document, in corpus order."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        for term in query:
            if term not in self._postings:
                continue
            docs, tf = self._postings[term]
            out[docs] += self.idf(term) * tf * (self.k1 + 1) / (tf + self._norm[docs])
        return out
