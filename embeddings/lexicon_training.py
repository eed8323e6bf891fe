"""`clustermatch train-lexicon`: learn the Italian-to-English word table from parallel sentences.

IBM Model 1 (expectation-maximisation over word alignments) on English/Italian sentence pairs,
once by Italian surface form and once by Italian stem, so that inflections the corpus never
shows ("sviluppiamo") still find the translation of a form it does show ("sviluppo").
The default corpus is the STS Benchmark in English and its Italian translation
(stsb-multi-mt, ~13k distinct pairs); training takes about a minute on two cores.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from tqdm import tqdm

from embeddings.lexicon import italian_stem
from embeddings.text import words

NULL = "<null>"


def read_parallel_sts(folder: Path) -> list[tuple[str, str]]:
    """Row-aligned stsb-{it,en}-{train,dev}.csv files: both sentences of each row, deduplicated."""
    pairs: set[tuple[str, str]] = set()
    for split in ("train", "dev"):
        with (
            open(folder / f"stsb-it-{split}.csv", newline="", encoding="utf-8") as it_file,
            open(folder / f"stsb-en-{split}.csv", newline="", encoding="utf-8") as en_file,
        ):
            for it_row, en_row in zip(csv.reader(it_file), csv.reader(en_file), strict=True):
                pairs.update({(it_row[0], en_row[0]), (it_row[1], en_row[1])})
    return sorted(pairs)


def ibm_model1(
    pairs: Sequence[tuple[list[str], list[str]]], *, iterations: int, desc: str
) -> dict[str, dict[str, float]]:
    """t(english | italian) after EM; the NULL source word absorbs English function words."""
    table: defaultdict[tuple[str, str], float] = defaultdict(lambda: 1.0)
    for _ in tqdm(range(iterations), desc=desc, unit="iteration"):
        counts: defaultdict[tuple[str, str], float] = defaultdict(float)
        totals: defaultdict[str, float] = defaultdict(float)
        for source, target in pairs:
            source = [*source, NULL]
            for e in target:
                norm = sum(table[(f, e)] for f in source)
                for f in source:
                    share = table[(f, e)] / norm
                    counts[(f, e)] += share
                    totals[f] += share
        table = defaultdict(float, {(f, e): c / totals[f] for (f, e), c in counts.items()})
    result: dict[str, dict[str, float]] = defaultdict(dict)
    for (f, e), p in table.items():
        if f != NULL:
            result[f][e] = p
    return result


def best_translations(
    table: dict[str, dict[str, float]],
    frequency: Counter[str],
    *,
    min_count: int,
    min_prob: float,
    english_stop_words: frozenset[str],
) -> dict[str, list[str]]:
    """Up to two confident content-word translations per Italian entry seen often enough."""
    chosen: dict[str, list[str]] = {}
    for source, targets in table.items():
        if frequency[source] < min_count:
            continue
        ranked = sorted(targets.items(), key=lambda item: (-item[1], item[0]))
        keep = [e for e, p in ranked[:2] if p >= min_prob and e not in english_stop_words]
        if keep:
            chosen[source] = keep
    return chosen


def train_lexicon(
    pairs: Iterable[tuple[str, str]],
    *,
    english_vocabulary: Iterable[str],
    english_stop_words: frozenset[str],
    iterations: int = 6,
    min_count: int = 2,
    min_prob: float = 0.25,
) -> dict:
    tokenised = [(words(it), words(en)) for it, en in pairs]
    by_stem = [([italian_stem(w) for w in it], en) for it, en in tokenised]
    options = {"min_count": min_count, "min_prob": min_prob, "english_stop_words": english_stop_words}
    surface = ibm_model1(tokenised, iterations=iterations, desc="lexicon: words")
    stems = ibm_model1(by_stem, iterations=iterations, desc="lexicon: stems")
    english = set(english_vocabulary) | {w for _, en in tokenised for w in en}
    return {
        "version": 1,
        "method": f"IBM Model 1, {iterations} EM iterations, min_count={min_count}, min_prob={min_prob}",
        "pairs": len(tokenised),
        "words": best_translations(surface, Counter(w for it, _ in tokenised for w in it), **options),
        "stems": best_translations(stems, Counter(w for it, _ in by_stem for w in it), **options),
        "english": sorted(w for w in english if w.isalpha() and len(w) > 3),
    }


def write_lexicon(lexicon: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same training gives a byte-identical file.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(json.dumps(lexicon, ensure_ascii=False, sort_keys=True).encode("utf-8"))
