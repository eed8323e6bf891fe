"""Scoring a need/offer pair: features, a calibrated score in [0, 1], and the delivery rule.

Pure functions over numbers the matcher gathers (cosines from the vector indexes, TF-IDF
cosine from the lexical index, the postings' areas and TRLs). The weights are not written by
hand: `clustermatch calibrate` fits them on labelled pairs (logistic regression), so the score
reads as "how likely a facilitator would make this introduction".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_CALIBRATION = Path(__file__).parent / "data" / "calibration.json"

# semantic: cosine of the whole texts; gist: cosine of title + keywords; lexical: TF-IDF cosine
# of the English-pivot terms; same_area: same S3 area; trl_fit: the offer's maturity for the need;
# across: one posting Italian, the other English. A glossed text is compared with an English
# one at lower similarities than two texts of one language, so the model learns how much a
# cosine is worth across languages (the *_across interactions). multi: cosine of the raw texts
# by the multilingual second encoder (0 when there is none), which reads Italian itself and so
# carries most where the gloss is weak (across languages, short texts, typos).
FEATURES = (
    "semantic", "gist", "lexical", "same_area", "trl_fit", "across", "semantic_across", "lexical_across",
    "multi", "multi_across",
)  # fmt: skip


def across_languages(a: str, b: str) -> bool:
    return {a, b} == {"it", "en"}


def trl_fit(need_trl: int | None, offer_trl: int | None) -> float:
    """A lab at or above the level the company needs fits; one or two levels below can close it."""
    if need_trl is None or offer_trl is None:
        return 0.5
    gap = need_trl - offer_trl
    if gap <= 0:
        return 1.0
    return {1: 0.7, 2: 0.4}.get(gap, 0.0)


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over FEATURES, and the delivery rule chosen on the same data.

    A pair is delivered when its score reaches `threshold`, each side is in the other's
    `top_k`, and its score is within `margin` of each side's best: a posting hears about its
    clearly best partners only, and a popular lab is not suggested to everyone.
    """

    weights: tuple[float, ...]
    bias: float
    threshold: float
    top_k: int
    margin: float
    fitted_on: str = ""

    def score(self, features: np.ndarray) -> np.ndarray:
        """Rows of FEATURES -> scores in [0, 1]."""
        logits = np.asarray(features, dtype=np.float64) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def contributions(self, features: dict[str, float]) -> dict[str, float]:
        """Each feature's share of the logit, to show which parts carried a score."""
        return {name: round(w * features[name], 3) for name, w in zip(FEATURES, self.weights, strict=True)}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"features": FEATURES, **asdict(self)}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = DEFAULT_CALIBRATION) -> Calibration:
        data = json.loads(path.read_text())
        if tuple(data.pop("features")) != FEATURES:
            raise ValueError(f"{path} was fitted for other features; run `clustermatch calibrate`")
        return cls(**{**data, "weights": tuple(data["weights"])})


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    return Calibration.load()
