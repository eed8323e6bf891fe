"""`make bench`: every benchmark in one run, one table, and var/bench.json.

Each sub-benchmark is a script of bench/ that prints one JSON object as its last stdout line
(`--json`); this runs them one after the other as subprocesses, so one that is missing, fails
or times out shows its error in its row and the others still run (the exit status is then 1).
The four that need the product running share one `clustermatch run` stack (own data dir and
port, embedded Redis and SQLite, the demo loaded, auto-delivery on), in this order: the
worker's memory with the demo indexed, POST -> suggestion on the live stack, bulk ingest, then
API reads on what the ingest left.

    .venv/bin/python bench/run.py                 # the full run (under 15 minutes here)
    .venv/bin/python bench/run.py --quick         # smaller sizes for every script (quick_args)
    .venv/bin/python bench/run.py --only ingest,api_read
    .venv/bin/python bench/run.py --from var/bench.json --markdown   # the README table again
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stack import DEFAULT_PORT, BenchStack, wait_quiet  # noqa: E402

Check = Callable[[dict[str, Any]], bool]


def _get(result: dict[str, Any], *path: str) -> Any:
    for key in path:
        result = result[key]
    return result


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    target: str  # as the table prints it
    met: Check
    shown: tuple[str, ...]  # the figures the table prints (dotted paths into the JSON)
    on_stack: bool = False  # runs against the shared stack (--url/--data-dir)
    args: tuple[str, ...] = ()
    quick_args: tuple[str, ...] = ("--quick",)  # what --quick passes on: smaller sizes
    timeout: float = 600
    extra: dict[str, str] = field(default_factory=dict)


BENCHES: tuple[Bench, ...] = (
    Bench(
        "worker_rss_mb",
        "worker_rss.py",
        "<= 1,000 MB",
        lambda r: r["worker_rss_mb"] <= 1000,
        ("worker_rss_mb",),
        on_stack=True,
        timeout=300,
    ),
    Bench(
        "post_to_suggestion_ms",
        "post_to_suggestion.py",
        "ratio p50 <= 2.0, p95 <= 4; p50 <= 100 ms; n >= 50",
        lambda r: (
            r["latency_over_encode"]["p50"] <= 2.0
            and r["latency_over_encode"]["p95"] <= 4
            and r["p50_ms"] <= 100
            and r["n"] >= 50
        ),
        ("p50_ms", "p95_ms", "n", "encode_one_ms", "latency_over_encode.p50", "latency_over_encode.p95"),
        on_stack=True,
        timeout=600,
    ),
    Bench(
        "ingest",
        "ingest.py",
        "ingest_over_raw >= 0.8 (>= 2,000 postings)",
        lambda r: r["ingest_over_raw"] >= 0.8 and r["postings"] >= 2000,
        ("postings", "seconds", "postings_per_s", "raw_encode_postings_per_s", "ingest_over_raw"),
        on_stack=True,
        timeout=1800,
    ),
    Bench(
        "api_read",
        "api_read.py",
        "0 errors, p95 <= 200 ms, 50 clients",
        lambda r: r["errors"] == 0 and r["p95_ms"] <= 200 and r["clients"] >= 50,
        ("clients", "seconds", "requests", "errors", "p50_ms", "p95_ms"),
        on_stack=True,
        timeout=600,
    ),
    Bench(
        "encoder",
        "encoder.py",
        "speedup >= 1.7, min cosine >= 0.9999",
        lambda r: r["speedup"] >= 1.7 and r["min_cosine_vs_torch"] >= 0.9999,
        ("torch_per_s", "onnx_per_s", "speedup", "min_cosine_vs_torch"),
        quick_args=("--texts", "60", "--rounds", "1"),
        timeout=600,
    ),
    Bench(
        "index_1m",
        "index_1m.py",
        "recall@10 >= 0.95, speedup_vs_exact >= 100, <= 1 GB",
        lambda r: r["recall@10"] >= 0.95 and r["speedup_vs_exact"] >= 100 and r["bytes"] <= 1 << 30,
        ("build_s", "p50_ms", "p95_ms", "recall@10", "bytes", "exact_p50_ms", "speedup_vs_exact"),
        quick_args=("--vectors", "100000", "--queries", "100", "--exact-queries", "10"),
        timeout=900,
    ),
    Bench(
        "match_1m",
        "match_1m.py",
        "p95 <= 50 ms, worker_rss_mb <= 3,000",
        lambda r: r["p95_ms"] <= 50 and r["worker_rss_mb"] <= 3000,
        ("p50_ms", "p95_ms", "worker_rss_mb"),
        quick_args=("--postings", "100000", "--queries", "30"),
        timeout=900,
    ),
)


def last_json_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("printed no JSON object")


def run_one(bench: Bench, *, quick: bool, stack: BenchStack | None, passthrough: list[str]) -> dict[str, Any]:
    """The script's JSON with `_met`, or {"_error": why}."""
    script = ROOT / "bench" / bench.script
    if not script.exists():
        return {"_error": f"bench/{bench.script} is missing"}
    command = [
        sys.executable,
        str(script),
        "--json",
        *bench.args,
        *(bench.quick_args if quick else ()),
        *passthrough,
    ]
    if bench.on_stack and stack is not None:
        command += ["--url", stack.base_url]
        if bench.script in ("ingest.py", "worker_rss.py"):
            command += ["--data-dir", str(stack.data_dir)]
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=bench.timeout)
    except subprocess.TimeoutExpired:
        return {"_error": f"timed out after {bench.timeout:.0f} s"}
    seconds = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return {"_error": f"exit {done.returncode}: {tail[0][:160]}", "_seconds": seconds}
    try:
        result = last_json_line(done.stdout)
    except ValueError as exc:
        return {"_error": str(exc), "_seconds": seconds}
    try:
        result["_met"] = bool(bench.met(result))
    except (KeyError, TypeError) as exc:
        result["_met"] = False
        result["_note"] = f"figure missing: {exc}"
    result["_seconds"] = seconds
    return result


def figures(bench: Bench, result: dict[str, Any]) -> str:
    if "_error" in result:
        return f"ERROR: {result['_error']}"
    parts = []
    for path in bench.shown:
        try:
            value = _get(result, *path.split("."))
        except (KeyError, TypeError):
            continue
        parts.append(f"{path}={value}")
    return ", ".join(parts)


def status(result: dict[str, Any]) -> str:
    if "_error" in result:
        return "error"
    if "_met" not in result:
        return "not run"
    return "yes" if result["_met"] else "NO"


def table(results: dict[str, dict[str, Any]], *, markdown: bool) -> str:
    rows = [
        (bench.name, figures(bench, results[bench.name]), bench.target, status(results[bench.name]))
        for bench in BENCHES
        if bench.name in results
    ]
    header = ("benchmark", "figures", "target", "met")
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths[1] = min(widths[1], 110)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (passed to every script)")
    parser.add_argument("--only", help="comma-separated names: " + ",".join(b.name for b in BENCHES))
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench.json")
    parser.add_argument("--markdown", action="store_true", help="print the table in README form")
    parser.add_argument("--from", dest="from_file", type=Path, help="print the table of an earlier run")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="of the shared stack")
    args = parser.parse_args()

    if args.from_file:
        saved = json.loads(args.from_file.read_text())
        print(table(saved["results"], markdown=args.markdown))
        return 0

    wanted = set(args.only.split(",")) if args.only else {b.name for b in BENCHES}
    unknown = wanted - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    chosen = [b for b in BENCHES if b.name in wanted]
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    stack = None
    if any(b.on_stack for b in chosen):
        stack = BenchStack(port=args.port)
        try:
            stack.start()
        except Exception as exc:  # every stack row shows why; the others still run
            for bench in chosen:
                if bench.on_stack:
                    results[bench.name] = {"_error": f"stack did not start: {exc}"}
            stack.stop()
            stack = None
    try:
        for bench in chosen:
            if bench.name in results:
                continue
            print(f"[bench] {bench.name} ...", file=sys.stderr, flush=True)
            waited = wait_quiet(timeout=120)  # the last row's leftover work (a bulk import's deliveries) done
            results[bench.name] = run_one(bench, quick=args.quick, stack=stack, passthrough=[])
            results[bench.name]["_quiet_after_s"] = waited
            print(f"[bench] {bench.name}: {figures(bench, results[bench.name])}", file=sys.stderr, flush=True)
    finally:
        if stack is not None:
            stack.stop()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "platform": platform.platform()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text())["results"] if args.only and args.out.exists() else {}
    report["results"] = {**previous, **results}  # --only updates its rows of the last run
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report["results"], markdown=args.markdown))
    print(f"\n{report['seconds']} s; written to {args.out}", file=sys.stderr)
    return 1 if any("_error" in r for r in results.values()) else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
