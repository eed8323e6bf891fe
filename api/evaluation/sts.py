"""STS Benchmark: load sentence pairs and score an encoder by Spearman correlation (x100)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from embeddings.batcher import TextEncoder
from embeddings.lexicon import default_lexicon
from embeddings.representation import to_english
from embeddings.text import detect_language

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


def pivot_encode(encoder: TextEncoder) -> Callable[[list[str]], np.ndarray]:
    """Encode sentences as the matcher does with its first encoder: Italian glossed to English."""

    def encode(texts: list[str]) -> np.ndarray:
        lexicon = default_lexicon()
        return encoder.encode([to_english(t, detect_language(t), lexicon) for t in texts])

    return encode


def sts_report(
    encoder: TextEncoder, second: TextEncoder | None, pairs: Sequence[tuple[str, str, float]]
) -> dict[str, float]:
    """Each encoder on the raw sentences and on what the matcher embeds with it; with a second
    encoder, also both together (the mean of the two cosines, as the score combines them)."""
    name = getattr(encoder, "model_name", "encoder")
    pivot = _once(pivot_encode(encoder))
    report = {f"{name}, raw text": sts_spearman(encoder.encode, pairs)}
    report[f"{name}, English pivot (matcher)"] = sts_spearman(pivot, pairs)
    if second is not None:
        second_name = getattr(second, "model_name", "second")
        multi = _once(second.encode)
        report[f"{second_name}, raw text (matcher)"] = sts_spearman(multi, pairs)

        def both(texts: list[str]) -> np.ndarray:
            return np.hstack([_rows_unit(pivot(texts)), _rows_unit(multi(texts))])

        report["both, mean of the two cosines"] = sts_spearman(both, pairs)
    return report


def _once(encode: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """`encode`, remembering its last answer (the combined score reuses both encoders' rows)."""
    last: dict[tuple[str, ...], np.ndarray] = {}

    def encoded(texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in last:
            last.clear()
            last[key] = encode(texts)
        return last[key]

    return encoded


def _rows_unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def load_stsb_multi_mt(path: str | Path) -> list[tuple[str, str, float]]:
    """Read a stsb-multi-mt CSV split (sentence1, sentence2, score; one language per file)."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return [(row[0], row[1], float(row[2])) for row in csv.reader(handle) if row]


def cross_lingual_pairs(first: str | Path, second: str | Path) -> list[tuple[str, str, float]]:
    """Sentence 1 of each pair from the first file against sentence 2 from the second (the same
    split in two languages, line by line), with the original gold score."""
    a, b = load_stsb_multi_mt(first), load_stsb_multi_mt(second)
    if len(a) != len(b):
        raise ValueError(f"{first} and {second} have {len(a)} and {len(b)} pairs: not the same split")
    return [(s1, t2, score) for (s1, _, score), (_, t2, _) in zip(a, b, strict=True)]


def write_sts(pairs: Sequence[tuple[str, str, float]], path: str | Path) -> None:
    """Write pairs in the STS Benchmark TSV layout that `load_sts` reads."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for n, (s1, s2, score) in enumerate(pairs, start=1):
            clean = [s.replace("\t", " ").replace("\n", " ") for s in (s1, s2)]
            handle.write(f"built\tstsb-multi-mt\tdev\t{n:04d}\t{score:.3f}\t{clean[0]}\t{clean[1]}\n")
