"""STS Benchmark: load sentence pairs and score an encoder by Spearman correlation (x100)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

_COLUMNS = 7  # genre, file, year, id, score, sentence1, sentence2


def load_sts(path: str | Path) -> list[tuple[str, str, float]]:
    """Read an STS Benchmark TSV file into (sentence1, sentence2, gold score) triples.

    Extra trailing tab-separated columns (present on some lines) are ignored; blank lines are skipped.
    """
    path = Path(path)
    pairs: list[tuple[str, str, float]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row or row == [""]:
                continue
            if len(row) < _COLUMNS:
                raise ValueError(f"{path}:{line_no}: expected at least {_COLUMNS} columns, got {len(row)}")
            try:
                score = float(row[4])
            except ValueError as exc:
                raise ValueError(f"{path}:{line_no}: score {row[4]!r} is not a number") from exc
            pairs.append((row[5], row[6], score))
    return pairs


def sts_spearman(encode: Callable[[list[str]], np.ndarray], pairs: Sequence[tuple[str, str, float]]) -> float:
    """Spearman correlation (x100) between the cosine of each encoded pair and its gold score.

    `encode` gets all sentence1 followed by all sentence2 in one call and returns one row per text
    (expected L2-normalised; rows are re-normalised here so any encoder works, zero rows give 0).
    """
    if len(pairs) < 2:
        raise ValueError("need at least 2 pairs to compute a Spearman correlation")
    first = [s1 for s1, _, _ in pairs]
    second = [s2 for _, s2, _ in pairs]
    vectors = np.asarray(encode(first + second), dtype=np.float64)
    if vectors.shape[0] != 2 * len(pairs):
        raise ValueError(f"encoder returned {vectors.shape[0]} rows for {2 * len(pairs)} sentences")
    a, b = vectors[: len(pairs)], vectors[len(pairs) :]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosines = np.einsum("ij,ij->i", a, b) / np.where(norms > 0, norms, 1.0)
    gold = np.array([score for _, _, score in pairs], dtype=np.float64)
    return float(spearmanr(cosines, gold).statistic) * 100
