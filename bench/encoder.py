"""The pivot encoder on torch and on ONNX Runtime, side by side in one run, on what the matcher encodes.

The texts are the representation texts (`embeddings.representation.represent`: English head and
~60-word passages) of realistic postings: the labelled set `../shared/eval/matchmaking_dev.json`
when it is there, the demo's postings, the tests' samples, then as many generated postings
(`bench/corpus.py`) as `--texts` asks for. Each posting's texts go to the encoder in one call, as
the pipeline sends them (`--calls batch`: full batches of `--batch-size` instead). Both backends run
with the same intra-op threads, in alternating rounds (this machine is shared: a ratio measured side
by side is the figure that holds), and the best round of each is kept. The second encoder (USE-m v3,
pure numpy, no ONNX path needed) is timed on the raw texts of up to 40 postings too.

    .venv/bin/python bench/encoder.py [--texts 200] [--rounds 2] [--threads 2] [--calls posting|batch] [--json]

With `--json` the last line of stdout is one JSON object:
{"torch_per_s", "onnx_per_s", "speedup", "min_cosine_vs_torch", ...} (texts per second).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.core.encoders import pivot_encoder  # noqa: E402
from api.core.settings import Settings  # noqa: E402
from embeddings.encoder import second_encoder  # noqa: E402
from embeddings.representation import represent  # noqa: E402

EVAL_SET = ROOT.parent / "shared" / "eval" / "matchmaking_dev.json"


def realistic_postings(wanted_texts: int) -> list[dict]:
    """Postings (title, description, keywords) until their representation texts reach the count."""
    found: list[dict] = []
    if EVAL_SET.exists():
        found += json.loads(EVAL_SET.read_text())["postings"]
    found += json.loads((ROOT / "api" / "demo" / "demo_data.json").read_text())["postings"]
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import samples

        found += [v for v in vars(samples).values() if isinstance(v, dict) and "description" in v]
    except ImportError:
        pass
    postings, seen, count = [], set(), 0
    for posting in found:
        key = (posting["title"], posting["description"])
        if key not in seen:
            seen.add(key)
            postings.append(posting)
    if sum(len(_texts(p)) for p in postings) < wanted_texts:
        try:
            from bench.corpus import postings as generated

            postings += generated(max(1, wanted_texts // 3), seed=11)
        except ImportError:
            pass
    out = []
    for posting in postings:
        if count >= wanted_texts:
            break
        out.append(posting)
        count += len(_texts(posting))
    return out


def _texts(posting: dict) -> list[str]:
    return represent(posting["title"], posting["description"], list(posting.get("keywords", []))).texts


def _timed(encoder, calls: list[list[str]], batch_size: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = [encoder.encode(texts, batch_size=batch_size) for texts in calls]
    return time.perf_counter() - start, np.concatenate(vectors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=200, help="representation texts to encode per round")
    parser.add_argument(
        "--calls",
        choices=("posting", "batch"),
        default="posting",
        help="one call per posting's texts (as the pipeline sends them) or full batches of --batch-size",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument(
        "--threads", type=int, default=0, help="intra-op threads (default: the setting, else cores)"
    )
    parser.add_argument("--no-second", action="store_true", help="skip timing the second encoder")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings()
    threads = args.threads or settings.encoder_threads or os.cpu_count() or 1
    settings = settings.model_copy(update={"encoder_threads": threads})

    postings = realistic_postings(args.texts)
    calls = [_texts(p) for p in postings]
    if args.calls == "batch":
        flat = [text for texts in calls for text in texts]
        calls = [flat[i : i + args.batch_size] for i in range(0, len(flat), args.batch_size)]
    raws = [represent(p["title"], p["description"], list(p.get("keywords", []))).raw for p in postings]
    n_texts = sum(len(c) for c in calls)

    import torch

    torch.set_num_threads(threads)
    encoders = {"torch": pivot_encoder(settings, backend="torch")}
    try:
        encoders["onnx"] = pivot_encoder(settings, backend="onnx")
    except Exception as exc:
        print(f"ONNX encoder unavailable: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": f"ONNX encoder unavailable: {exc}"}))
        return 1
    tokens = [len(e.ids) for e in encoders["onnx"]._tokenizer.encode_batch([t for c in calls for t in c])]
    for encoder in encoders.values():
        encoder.encode(calls[0])  # warm-up: first-call allocations, lazy initialisation

    best = {name: float("inf") for name in encoders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(max(1, args.rounds)):
        for name, encoder in encoders.items():
            seconds, vectors[name] = _timed(encoder, calls, args.batch_size)
            best[name] = min(best[name], seconds)
    cosines = (vectors["torch"] * vectors["onnx"]).sum(axis=1)

    result = {
        "torch_per_s": round(n_texts / best["torch"], 2),
        "onnx_per_s": round(n_texts / best["onnx"], 2),
        "speedup": round(best["torch"] / best["onnx"], 3),
        "min_cosine_vs_torch": round(float(cosines.min()), 6),
        "mean_cosine_vs_torch": round(float(cosines.mean()), 7),
        "texts": n_texts,
        "postings": len(postings),
        "calls": args.calls,
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "threads": threads,
        "rounds": max(1, args.rounds),
    }
    second = None if args.no_second else second_encoder(settings.second_encoder)
    if second is not None:
        sample = raws[:40]
        second.encode(sample[:1])
        start = time.perf_counter()
        for raw in sample:
            second.encode([raw])
        result["second_model"] = second.model_name
        result["second_per_s"] = round(len(sample) / (time.perf_counter() - start), 2)

    print(
        f"pivot encoder {settings.embedding_model}: {n_texts} texts of {len(postings)} postings in {len(calls)} calls "
        f"(mean {result['mean_tokens']} word pieces), {threads} threads, best of {result['rounds']} rounds"
    )
    print(f"  torch        {result['torch_per_s']:8.1f} texts/s  {1000 / result['torch_per_s']:6.1f} ms/text")
    print(f"  onnxruntime  {result['onnx_per_s']:8.1f} texts/s  {1000 / result['onnx_per_s']:6.1f} ms/text")
    print(f"  speedup {result['speedup']:.2f}x, min cosine vs torch {result['min_cosine_vs_torch']:.6f}")
    if "second_per_s" in result:
        print(f"  second encoder {result['second_model']} (numpy): {result['second_per_s']:.1f} postings/s")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
