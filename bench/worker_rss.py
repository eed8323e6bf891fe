"""Resident memory of a worker process once the model is loaded and the demo indexed.

Starts `clustermatch run` (the demo loaded) on its own port and data dir, or looks at a
running one (`--data-dir`: the processes whose CLUSTERMATCH_DATA_DIR it is). Waits until a
posting has gone through the pipeline (the model loaded, the replica built, one message of each
step handled), then reads VmRSS of each dramatiq worker process (the forked child that holds the
encoders and the replica; the parent only supervises) and reports the largest.

    .venv/bin/python bench/worker_rss.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import THEMES, latency_needs  # noqa: E402
from bench.stack import DEFAULT_PORT, BenchStack, register, wait_matched  # noqa: E402

TARGET_MB = 1000


def worker_processes(data_dir: Path) -> dict[int, float]:
    """pid -> VmRSS in MB of the dramatiq worker processes of the stack under data_dir."""
    wanted = f"CLUSTERMATCH_DATA_DIR={data_dir}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"dramatiq" not in cmdline or b"workers.main" not in cmdline:
                continue
            if wanted not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            status = (proc / "status").read_text()
        except OSError:
            continue
        rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        found[int(proc.name)] = rss_kb / 1024
    return found


def run(*, url: str | None, data_dir: Path | None, port: int) -> dict:
    stack = None if url else BenchStack(port=port)
    if stack:
        stack.start()
        data_dir = stack.data_dir
    if data_dir is None:
        raise SystemExit("--url needs the stack's --data-dir")
    base = url or stack.base_url  # type: ignore[union-attr]
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            headers = register(client, base, org_type="company", clusters=sorted({t.area for t in THEMES}))
            response = client.post("/api/v1/postings", json=latency_needs(1, seed=5)[0], headers=headers)
            response.raise_for_status()
            wait_matched(client, base, headers, response.json()["id"])
        processes = worker_processes(Path(data_dir).resolve())
    finally:
        if stack:
            stack.stop()
    if not processes:
        raise RuntimeError(f"no worker process found for {data_dir}")
    rss = max(processes.values())
    return {
        "worker_rss_mb": round(rss, 1),
        "processes": {str(pid): round(mb, 1) for pid, mb in sorted(processes.items())},
        "targets_met": rss <= TARGET_MB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running stack instead of starting one (with --data-dir)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry: the demo is the size")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    result = run(url=args.url, data_dir=args.data_dir, port=args.port)
    print(
        json.dumps(result) if args.json else f"worker RSS with the demo indexed: {result['worker_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
