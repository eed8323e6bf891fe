"""`clustermatch eval --perturb SEED`: a copy of a labelled set written the way hurried members write.

Same postings, pairs and grades; only what members get wrong changes. Each posting draws its own
changes from a generator seeded by (seed, posting id), so a copy depends on the seed alone, not
on the order of the postings. The rates (share of postings affected) are in `PerturbRates`.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from api.evaluation.dataset import EvalPosting, EvalSet


@dataclass(frozen=True)
class PerturbRates:
    drop_keywords: float = 0.5  # no keywords at all
    cut_text: float = 0.4  # description cut to its first sentence or first half, whichever is longer
    strip_accents: float = 0.5  # "qualità" -> "qualita", "è" -> "e"
    typos: float = 0.3  # postings with typos; in those, this share of the longer words:
    typo_words: float = 0.08
    lower_title: float = 0.4
    drop_trl: float = 0.5
    wrong_area: float = 0.1  # another S3 area of the set


_WORD = re.compile(r"\w{5,}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def perturb(eval_set: EvalSet, seed: int, rates: PerturbRates = PerturbRates()) -> EvalSet:
    areas = sorted({p.s3_area for p in eval_set.postings})
    postings = tuple(
        _perturb_posting(p, random.Random(f"{seed}:{p.id}"), rates, areas) for p in eval_set.postings
    )
    return EvalSet(f"{eval_set.name} (perturbed, seed {seed})", postings, dict(eval_set.grades))


def _perturb_posting(
    p: EvalPosting, rng: random.Random, rates: PerturbRates, areas: list[str]
) -> EvalPosting:
    # Every draw happens whatever the earlier ones gave, so one rate does not shift the others.
    drop_keywords, cut, strip, typos, lower, drop_trl, wrong = (
        rng.random() < rate
        for rate in (
            rates.drop_keywords,
            rates.cut_text,
            rates.strip_accents,
            rates.typos,
            rates.lower_title,
            rates.drop_trl,
            rates.wrong_area,
        )
    )
    title, description, keywords = p.title, p.description, list(p.keywords)
    if drop_keywords:
        keywords = []
    if cut:
        description = cut_text(description)
    if typos:
        title = add_typos(title, rng, rates.typo_words)
        description = add_typos(description, rng, rates.typo_words)
    if strip:
        title, description = strip_accents(title), strip_accents(description)
        keywords = [strip_accents(k) for k in keywords]
    if lower:
        title = title.lower()
    area = p.s3_area
    others = [a for a in areas if a != p.s3_area]
    if wrong and others:
        area = rng.choice(others)
    return replace(
        p,
        title=title,
        description=description,
        keywords=tuple(keywords),
        trl=None if drop_trl else p.trl,
        s3_area=area,
    )


def cut_text(text: str) -> str:
    """The first sentence, or the first half of the words if that is longer."""
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    words = text.split()
    half = " ".join(words[: max(1, len(words) // 2)])
    return first if len(first) >= len(half) else half


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def add_typos(text: str, rng: random.Random, share: float) -> str:
    """Swap, drop or double one letter in this share of the words of five letters or more."""

    def typo(match: re.Match[str]) -> str:
        word = match.group()
        if rng.random() >= share:
            return word
        at = rng.randrange(1, len(word) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        if kind == 1:
            return word[:at] + word[at + 1 :]
        return word[:at] + word[at] + word[at:]

    return _WORD.sub(typo, text)


def to_json(eval_set: EvalSet) -> dict[str, Any]:
    """The set in the file format `load_eval_set` reads (FORMAT.md)."""
    postings = []
    for p in eval_set.postings:
        item: dict[str, Any] = {
            "id": p.id,
            "kind": p.kind,
            "org_name": p.org_name,
            "org_type": p.org_type,
            "lang": p.lang,
            "s3_area": p.s3_area,
            "title": p.title,
            "description": p.description,
            "keywords": list(p.keywords),
            ("trl_min" if p.kind == "need" else "trl"): p.trl,
        }
        postings.append(item)
    qrels = [{"need": n, "offer": o, "grade": g} for (n, o), g in sorted(eval_set.grades.items())]
    return {"name": eval_set.name, "postings": postings, "qrels": qrels}
