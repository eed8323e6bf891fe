"""Build STS Benchmark files from the stsb-multi-mt dev split: Italian↔English, Italian, English.

    .venv/bin/python bench/sts_cross_lingual.py ../shared/data/stsb-multi-mt /tmp/sts
    .venv/bin/clustermatch eval-sts /tmp/sts/sts-it-en-dev.tsv

Italian↔English pairs the Italian sentence 1 with the English sentence 2 of the same pair (the
dataset's translations keep the pair's gold score).
"""

from __future__ import annotations

import sys
from pathlib import Path

from api.evaluation.sts import cross_lingual_pairs, load_stsb_multi_mt, write_sts


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    it, en = source / "stsb-it-dev.csv", source / "stsb-en-dev.csv"
    files = {
        "sts-it-en-dev.tsv": cross_lingual_pairs(it, en),
        "sts-it-dev.tsv": load_stsb_multi_mt(it),
        "sts-en-dev.tsv": load_stsb_multi_mt(en),
    }
    for name, pairs in files.items():
        write_sts(pairs, out / name)
        print(f"{out / name}: {len(pairs)} pairs")


if __name__ == "__main__":
    main()
