"""`clustermatch eval` reports the funding calls: call->posting nDCG@10 and the consortia proposed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from api.calls.relevance import CALL_FEATURES, CallCalibration
from api.cli import main
from api.core.settings import Settings, override_settings
from api.evaluation.call_set import BUNDLED_CALLS, load_call_set
from api.evaluation.dataset import load_eval_set
from tests.evaluation.test_eval_command import TINY_SET

INSPECTION_CALL = {
    "id": "c1",
    "title": "FESR 2021-2027 – Controllo qualità automatico nella manifattura",
    "text": (
        "Il bando sostiene progetti di imprese manifatturiere con laboratori di ricerca per introdurre "
        "sistemi di visione artificiale e ispezione automatica dei difetti superficiali in linea, con "
        "apprendimento automatico, su pezzi metallici lavorati o pressofusi."
    ),
    "language": "it",
    "programme": "fesr_er",
    "s3_areas": ["mechatronics_automotive"],
    "eligible_types": ["company", "startup", "research_lab", "university_dept", "tech_centre"],
    "trl_min": 4,
    "trl_max": 9,
    "rule": {"min_partners": 2, "min_companies": 1, "min_research": 1},
}
HERITAGE_CALL = {
    "id": "c2",
    "title": "Horizon Europe Cluster 2 – Digital heritage and augmented reality for museums",
    "text": (
        "Research and Innovation Action on 3D digitisation of museum collections and augmented reality "
        "tours for visitors. Consortia: at least three legal entities from three Member States."
    ),
    "language": "en",
    "programme": "horizon_europe",
    "s3_areas": ["culture_creative"],
    "eligible_types": [],
    "rule": {"min_partners": 3, "min_companies": 1, "min_research": 1, "min_countries": 3},
}
WITH_CALLS = {
    **TINY_SET,
    "calls": [INSPECTION_CALL, HERITAGE_CALL],
    "call_qrels": [
        {"call": "c1", "posting": "n1", "grade": 2},
        {"call": "c1", "posting": "o1", "grade": 2},
        {"call": "c2", "posting": "n2", "grade": 2},
        {"call": "c2", "posting": "o3", "grade": 2},
    ],
}


@pytest.fixture
def cli(settings: Settings):  # type: ignore[no-untyped-def]
    override_settings(settings.model_copy(update={"review_auto_deliver_above": None}))
    yield CliRunner()
    override_settings(None)


def test_eval_prints_the_call_figures_and_why_a_call_has_no_consortium(cli, tmp_path):
    dataset = tmp_path / "tiny-calls.json"
    dataset.write_text(json.dumps(WITH_CALLS))
    result = cli.invoke(main, ["eval", str(dataset)])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    header = next(line for line in lines if line.startswith("calls (2 from"))
    ndcg = float(header.split("ndcg@10 ")[1].split(",")[0])
    assert ndcg > 0.9  # each call's two graded postings rank first among five
    consortia = next(line for line in lines if line.startswith("consortia:"))
    # The inspection call gets the company and the vision lab; every proposal meets its rule.
    assert consortia.startswith("consortia: 1 proposed for 1 calls")
    assert "satisfy the call's rule 100.0%" in consortia and "graded ≥ 1 for the call 100.0%" in consortia
    # Only the museum and the heritage lab fit the Horizon call, which asks for three partners.
    assert "no consortium for c2: the call needs 3 partners; 2 eligible organisations fit it" in lines


def test_eval_takes_the_calls_from_a_companion_file_and_skips_the_section_without_any(cli, tmp_path):
    dataset = tmp_path / "tiny.json"
    dataset.write_text(json.dumps(TINY_SET))
    calls = tmp_path / "calls.json"
    calls.write_text(json.dumps({"calls": WITH_CALLS["calls"], "call_qrels": WITH_CALLS["call_qrels"]}))
    # Loading alone is checked here (the full run is the test above); the tiny set has no calls.
    assert [c.id for c in load_call_set(calls, load_eval_set(dataset)).calls] == ["c1", "c2"]
    result = cli.invoke(main, ["eval", str(dataset)])
    assert result.exit_code == 0, result.output
    assert "calls: skipped, no funding calls for this data set (give --calls FILE)" in result.output


def test_a_call_qrel_on_an_unknown_posting_is_refused_with_its_name(cli, tmp_path):
    broken = {**WITH_CALLS, "call_qrels": [{"call": "c1", "posting": "o9", "grade": 2}]}
    dataset = tmp_path / "broken.json"
    dataset.write_text(json.dumps(broken))
    result = cli.invoke(main, ["eval", str(dataset)])
    assert result.exit_code != 0 and "unknown posting 'o9'" in result.output


def test_the_bundled_calls_cover_every_area_with_grades_over_the_dev_postings():
    bundled = json.loads(BUNDLED_CALLS.read_text(encoding="utf-8"))
    assert len(bundled["calls"]) >= 12
    areas = {area for call in bundled["calls"] for area in call["s3_areas"]}
    assert len(areas) == 8
    assert {call["language"] for call in bundled["calls"]} == {"it", "en"}
    assert all(
        any(q["call"] == c["id"] and q["grade"] == 2 for q in bundled["call_qrels"]) for c in bundled["calls"]
    )


def test_the_bundled_call_calibration_has_a_weight_per_feature_and_a_threshold():
    calibration = CallCalibration.load()
    assert len(calibration.weights) == len(CALL_FEATURES) and 0 < calibration.threshold < 1
    assert calibration.fitted_on  # written by `clustermatch calibrate-calls`, not by hand
