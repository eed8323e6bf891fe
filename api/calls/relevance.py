"""How well a posting fits a funding call: features, a calibrated score, reasons and covered concepts.

The same machinery as need/offer suggestions: a call is represented like a posting (English pivot
passages, head, terms, raw text for the multilingual encoder), compared on cosines and TF-IDF,
and scored by a logistic model fitted on labelled call/posting pairs (`clustermatch eval`
measures it; the weights and threshold live in `embeddings/data/call_calibration.json`). A call
text lists several topics and a posting answers one of them, so the best single call passage
counts beside the whole text. Pure functions over vectors and texts: the worker and the
evaluation harness call the same code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from api.calls.terms import CallTerms
from api.matching.explain import AREA_NAMES, LANGUAGES
from api.matching.replica import IndexReplica
from embeddings.concepts import ConceptSide, best_sentences, shared_concepts
from embeddings.representation import Representation, represent
from embeddings.scoring import DEFAULT_CALIBRATION, across_languages

DEFAULT_CALL_CALIBRATION = DEFAULT_CALIBRATION.with_name("call_calibration.json")

# semantic: cosine of the whole texts; passage: the best cosine of one call passage with the
# posting; gist: cosine of the heads (title + keywords); lexical: TF-IDF cosine of the pivot
# terms; in_area: the posting's area is one the call addresses (0.5 when it names none);
# across: Italian against English; multi: cosine of the raw texts by the multilingual second
# encoder (0 without one). The TRL range is no feature: eligibility already applies it, and a
# missing TRL must not count against a posting.
CALL_FEATURES = ("semantic", "passage", "gist", "lexical", "in_area", "across", "multi")


@dataclass(frozen=True)
class CallProbe:
    """A call as the scoring sees it."""

    vector: np.ndarray  # unit mean of the passage vectors
    head_vector: np.ndarray
    passage_vectors: np.ndarray  # (passages, dim), unit rows
    terms: dict[str, int]
    language: str
    s3_areas: frozenset[str]
    trl_min: int | None = None
    trl_max: int | None = None
    multi_vector: np.ndarray | None = None


@dataclass(frozen=True)
class CallMatch:
    posting_id: int
    score: float
    features: dict[str, float]


def call_representation(title: str, text: str, keywords: Sequence[str] = ()) -> Representation:
    """What the encoder reads of a call: the posting representation of its title and text."""
    return represent(title, text, list(keywords))


def call_probe(
    representation: Representation,
    encoded: np.ndarray,
    *,
    terms: CallTerms,
    language: str,
    multi_vector: np.ndarray | None = None,
) -> CallProbe:
    """A probe from the encoder's rows for `representation.texts` (head first, then passages)."""
    head, passages = _unit_rows(encoded[:1])[0], _unit_rows(encoded[1:])
    mean = passages.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return CallProbe(
        vector=(mean / norm if norm else mean).astype(np.float32),
        head_vector=head,
        passage_vectors=passages,
        terms=dict(representation.terms),
        language=language,
        s3_areas=frozenset(terms.s3_areas),
        trl_min=terms.trl_min,
        trl_max=terms.trl_max,
        multi_vector=multi_vector,
    )


def call_features(
    probe: CallProbe,
    *,
    vectors: np.ndarray,
    heads: np.ndarray,
    lexical: np.ndarray,
    areas: Sequence[str],
    languages: Sequence[str],
    multi: np.ndarray | None = None,
) -> np.ndarray:
    """CALL_FEATURES of the call against each posting (rows of `vectors`, `heads`... in one order)."""
    n = len(areas)
    semantic = vectors @ probe.vector
    passage = (vectors @ probe.passage_vectors.T).max(axis=1) if len(probe.passage_vectors) else semantic
    gist = heads @ probe.head_vector
    in_area = [1.0 if a in probe.s3_areas else 0.0 for a in areas] if probe.s3_areas else [0.5] * n
    across = [float(across_languages(probe.language, lang)) for lang in languages]
    if multi is not None and probe.multi_vector is not None and probe.multi_vector.any():
        multi_cos = multi @ probe.multi_vector
    else:
        multi_cos = np.zeros(n)
    columns = [semantic, passage, gist, lexical, in_area, across, multi_cos]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]).reshape(n, len(CALL_FEATURES))


@dataclass(frozen=True)
class CallCalibration:
    """Logistic weights over CALL_FEATURES; a posting is told of a call when its score reaches `threshold`."""

    weights: tuple[float, ...]
    bias: float
    threshold: float
    fitted_on: str = ""

    def score(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, dtype=np.float64) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(CALL_FEATURES), **asdict(self), "weights": list(self.weights)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = DEFAULT_CALL_CALIBRATION) -> CallCalibration:
        data = json.loads(path.read_text())
        if tuple(data.pop("features", ())) != CALL_FEATURES:
            raise ValueError(f"{path} was fitted for other call features; refit it (see README, calls)")
        weights = tuple(float(w) for w in data.pop("weights"))
        return cls(weights=weights, bias=float(data["bias"]), threshold=float(data["threshold"]),
                   fitted_on=str(data.get("fitted_on", "")))  # fmt: skip


@lru_cache(maxsize=1)
def default_call_calibration() -> CallCalibration:
    return CallCalibration.load()


def score_postings(
    replica: IndexReplica,
    probe: CallProbe,
    kind: str,
    calibration: CallCalibration,
    *,
    candidates: int = 50,
    ids: Sequence[int] | None = None,
) -> list[CallMatch]:
    """The postings of `kind` in the replica scored against the call, best first.

    Without `ids`, candidates come from the whole-text vectors, each call passage, the TF-IDF
    terms and the multilingual vectors (as the matcher retrieves); eligibility is the caller's.
    """
    if ids is None:
        found = {i for i, _ in replica.search(kind, probe.vector, candidates)}
        for passage in probe.passage_vectors:
            found.update(i for i, _ in replica.search(kind, passage, candidates))
        found.update(i for i, _ in replica.lexical.search(kind, probe.terms, candidates))
        found.update(i for i, _ in replica.search_multi(kind, probe.multi_vector, candidates))
        ids = sorted(i for i in found if i in replica.facts)
    ids = [i for i in ids if i in replica.facts and replica.facts[i].kind == kind]
    if not ids:
        return []
    facts = [replica.facts[i] for i in ids]
    multi = replica.multi[kind].vectors(ids) if replica.multi is not None else None
    features = call_features(
        probe,
        vectors=replica.indexes[kind].vectors(ids),
        heads=replica.heads[kind].vectors(ids),
        lexical=replica.lexical.similarity(probe.terms, ids),
        areas=[f.s3_area for f in facts],
        languages=[f.language for f in facts],
        multi=multi,
    )
    scores = calibration.score(features)
    matches = [
        CallMatch(i, round(float(s), 4), dict(zip(CALL_FEATURES, row.round(4).tolist(), strict=True)))
        for i, s, row in zip(ids, scores, features, strict=True)
    ]
    return sorted(matches, key=lambda m: (-m.score, m.posting_id))


def fitting(matches: Sequence[CallMatch], calibration: CallCalibration) -> list[CallMatch]:
    """The matches worth telling the member about."""
    return [m for m in matches if m.score >= calibration.threshold]


# The words every call text uses for its terms (who applies, how, when): rare in postings, so
# the lexical weights would rank them first, yet a posting sharing "almeno" covers nothing.
CALL_BOILERPLATE = frozenset(
    """almeno ammessi ammissibili bando bandi concludersi contributo devono dimostrare finanzia impresa
    imprese organismo organismi partenariato partenza presso progetto progetti regione soggetti sostiene
    spese vista call calls companies company consortia consortium eligible entities expected funds least
    legal member million must organisation organisations partnership project projects proposals reach
    starting states supports""".split()
)


def call_concepts(
    call: ConceptSide, posting: ConceptSide, weight: Callable[[str], float], *, limit: int = 6
) -> list[tuple[str, str]]:
    """(call's word, posting's word) for the rarest concepts they share, the call's boilerplate aside."""

    def content(stem: str) -> float:
        return weight(stem) if _content_word(call.written.get(stem, "")) else 0.0

    # Boilerplate weighs nothing, so it sorts last: dropping it leaves the content words first.
    return [pair for pair in shared_concepts(call, posting, content, limit=limit) if _content_word(pair[0])]


def _content_word(word: str) -> bool:
    return word.lower() not in CALL_BOILERPLATE and not word.isdigit()


def covered_concepts(
    call: ConceptSide, posting: ConceptSide, weight: Callable[[str], float], *, limit: int = 6
) -> tuple[str, ...]:
    """The call's own words for the rarest concepts the posting shares with it (what it covers)."""
    words: list[str] = []
    for call_word, _ in call_concepts(call, posting, weight, limit=limit):
        if call_word.lower() not in (w.lower() for w in words):
            words.append(call_word)
    return tuple(words)


MESSAGES: dict[str, dict[str, str]] = {
    "call_fits": {
        "it": "Questo bando è adatto al tuo {kind_it} ({percent}).",
        "en": "This call fits your {kind_en} ({percent}).",
    },
    "call_concepts": {
        "it": "Temi del bando che il tuo annuncio tocca: {pairs}.",
        "en": "Parts of the call your posting covers: {pairs}.",
    },
    "call_sentences": {
        "it": "Il bando dice: «{call}» — il tuo annuncio: «{posting}»",
        "en": "The call says: “{call}” — your posting: “{posting}”",
    },
    "call_area": {
        "it": "Il bando riguarda la tua area ({area}).",
        "en": "The call addresses your area ({area}).",
    },
    "call_trl": {
        "it": "La tua maturità (TRL {trl}) rientra nel bando (TRL {trl_min}–{trl_max}).",
        "en": "Your maturity (TRL {trl}) is within the call's range (TRL {trl_min}–{trl_max}).",
    },
    "call_eligible": {
        "it": "La tua organizzazione può partecipare ({organisation_type}).",
        "en": "Your organisation may apply ({organisation_type}).",
    },
    "call_deadline": {"it": "Scadenza: {deadline}.", "en": "Deadline: {deadline}."},
}
_KIND_NAMES = {"need": {"it": "bisogno", "en": "need"}, "offer": {"it": "offerta", "en": "offer"}}


def call_reasons(
    call: ConceptSide,
    posting: ConceptSide,
    *,
    weight: Callable[[str], float],
    score: float,
    terms: CallTerms,
    posting_kind: str,
    posting_area: str,
    posting_trl: int | None,
    organisation_type: str,
    deadline: str | None = None,
) -> list[dict[str, str]]:
    """Why a call fits a posting, each reason {"code", "it", "en"} (for an eligible posting)."""
    reasons: list[tuple[str, dict[str, Any]]] = [
        ("call_fits", {"kind": posting_kind, "percent": f"{round(score * 100)}%"})
    ]
    pairs = call_concepts(call, posting, weight)
    if pairs:
        shown = ", ".join(c if c.lower() == p.lower() else f"{c} ↔ {p}" for c, p in pairs)
        reasons.append(("call_concepts", {"pairs": shown}))
    sentences = best_sentences(call, posting, weight)
    if sentences:
        reasons.append(("call_sentences", {"call": sentences[0], "posting": sentences[1]}))
    if posting_area in terms.s3_areas:
        reasons.append(("call_area", {"area": posting_area}))
    if posting_trl is not None and (terms.trl_min is not None or terms.trl_max is not None):
        reasons.append(
            ("call_trl", {"trl": posting_trl, "trl_min": terms.trl_min or 1, "trl_max": terms.trl_max or 9})
        )
    if terms.eligible_types:
        reasons.append(("call_eligible", {"organisation_type": organisation_type}))
    if deadline:
        reasons.append(("call_deadline", {"deadline": deadline}))
    return [_render(code, params) for code, params in reasons]


def _render(code: str, params: dict[str, Any]) -> dict[str, str]:
    rendered = {"code": code}
    for lang in LANGUAGES:
        values = {k: AREA_NAMES[v][lang] if k == "area" and v in AREA_NAMES else v for k, v in params.items()}
        if "kind" in params:
            values[f"kind_{lang}"] = _KIND_NAMES.get(params["kind"], {}).get(lang, params["kind"])
        rendered[lang] = MESSAGES[code][lang].format(**values)
    return rendered


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.where(norms == 0, 1, norms)).astype(np.float32)
