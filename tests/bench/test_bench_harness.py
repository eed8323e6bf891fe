"""The benchmark corpus yields distinct, valid postings; `bench/run.py` survives a failing script."""

from __future__ import annotations

import json
import sys

import pytest

from api.postings.schemas import PostingCreate
from bench import run as bench_run
from bench.corpus import THEMES, latency_needs, postings


def test_the_corpus_yields_distinct_valid_postings_over_every_area_and_both_languages():
    generated = postings(600, seed=3)
    assert len(generated) == 600
    assert len({(p["title"], p["description"]) for p in generated}) == 600
    for body in generated:
        PostingCreate.model_validate(body)
    assert {p["s3_area"] for p in generated} == {t.area for t in THEMES} and len(THEMES) >= 8
    assert {p["kind"] for p in generated} == {"need", "offer"}
    assert {p["language"] for p in generated} == {"it", "en"}


def test_the_corpus_is_deterministic_by_seed():
    assert postings(50, seed=9) == postings(50, seed=9)
    assert postings(50, seed=9) != postings(50, seed=10)


def test_latency_needs_are_distinct_needs_taking_the_themes_in_turn():
    needs = latency_needs(len(THEMES) * 2, seed=1)
    assert {n["kind"] for n in needs} == {"need"}
    assert len({n["description"] for n in needs}) == len(needs)
    assert {n["s3_area"] for n in needs} == {t.area for t in THEMES}


def test_run_reports_a_missing_or_failing_script_in_its_row_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    failing = tmp_path / "bench"
    failing.mkdir()
    (failing / "broken.py").write_text("raise SystemExit('broken on purpose')\n")
    (failing / "fine.py").write_text("import json\nprint('noise')\nprint(json.dumps({'value': 3}))\n")
    benches = (
        bench_run.Bench("missing", "nowhere.py", "-", lambda r: True, ("value",)),
        bench_run.Bench("broken", "broken.py", "-", lambda r: True, ("value",)),
        bench_run.Bench("fine", "fine.py", "value >= 2", lambda r: r["value"] >= 2, ("value",)),
    )
    monkeypatch.setattr(bench_run, "BENCHES", benches)
    monkeypatch.setattr(bench_run, "ROOT", tmp_path)
    out = tmp_path / "bench.json"
    monkeypatch.setattr(sys, "argv", ["run.py", "--out", str(out)])
    assert bench_run.main() == 1
    printed = capsys.readouterr().out
    assert "bench/nowhere.py is missing" in printed
    assert "broken on purpose" in printed
    assert "value=3" in printed
    saved = json.loads(out.read_text())["results"]
    assert saved["fine"]["_met"] is True and "_error" in saved["broken"]


@pytest.mark.parametrize("markdown", [True, False])
def test_the_table_of_a_saved_run_prints_again(tmp_path, monkeypatch, capsys, markdown):
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"results": {"worker_rss_mb": {"worker_rss_mb": 700.0, "_met": True}}}))
    monkeypatch.setattr(sys, "argv", ["run.py", "--from", str(out), *(["--markdown"] if markdown else [])])
    assert bench_run.main() == 0
    printed = capsys.readouterr().out
    assert "worker_rss_mb=700.0" in printed and "yes" in printed
    assert printed.startswith("| benchmark") == markdown


def test_the_raw_encoders_wait_for_a_busy_machine_to_go_quiet():
    import subprocess

    from bench.stack import wait_quiet

    # A process that keeps one core busy for 3 s, as a stack finishing an import's deliveries does.
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 3\nwhile time.time() < end: pass"]
    )
    try:
        waited = wait_quiet(timeout=15, interval=0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert waited >= 2.0  # not before the spinner ended (or the timeout, on a machine busy anyway)
