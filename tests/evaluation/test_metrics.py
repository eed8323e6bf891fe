import copy
import json
import math

import pytest

from api.evaluation.dataset import EvalPosting, load_eval_set
from api.evaluation.metrics import cross_lingual_recall, delivery_metrics, ranking_metrics
from tests.infra import shared_file

DEV_SET = shared_file("eval/matchmaking_dev.json")
LOG2_3 = math.log2(3)


# --- ranking_metrics -------------------------------------------------------------------------


def test_ndcg_recall_mrr_for_a_hand_computed_query():
    # Ranked grades [2, 0, 1]: DCG = 3/log2(2) + 0 + 1/log2(4) = 3.5; ideal [2, 1] = 3 + 1/log2(3).
    result = ranking_metrics({"q": ["a", "b", "c"]}, {"q": {"a": 2, "c": 1}}, k=10)
    assert result["ndcg@10"] == pytest.approx(3.5 / (3 + 1 / LOG2_3))
    assert result["ndcg@10"] == pytest.approx(0.963940, abs=1e-6)
    assert result["recall@10"] == 1.0
    assert result["mrr@10"] == 1.0
    assert result["queries"] == 1


def test_cutoff_and_ideal_dcg_use_all_labels_of_the_query():
    # Labels y=1, z=2, w=2 (w never ranked). Ranking [x, y, z].
    rankings = {"q": ["x", "y", "z"]}
    relevant = {"q": {"y": 1, "z": 2, "w": 2}}

    at2 = ranking_metrics(rankings, relevant, k=2)
    # top 2 grades [0, 1] -> DCG = 1/log2(3); ideal top 2 of [2, 2, 1] -> 3 + 3/log2(3)
    assert at2["ndcg@2"] == pytest.approx((1 / LOG2_3) / (3 + 3 / LOG2_3))
    assert at2["recall@2"] == 0.0
    assert at2["mrr@2"] == 0.0

    at3 = ranking_metrics(rankings, relevant, k=3)
    # grades [0, 1, 2] -> DCG = 1/log2(3) + 3/2; ideal [2, 2, 1] -> 3 + 3/log2(3) + 1/2
    assert at3["ndcg@3"] == pytest.approx((1 / LOG2_3 + 1.5) / (3.5 + 3 / LOG2_3))
    assert at3["ndcg@3"] == pytest.approx(0.395144, abs=1e-6)
    assert at3["recall@3"] == 0.5
    assert at3["mrr@3"] == pytest.approx(1 / 3)
    assert set(at3) == {"ndcg@3", "recall@3", "mrr@3", "queries"}


def test_queries_without_a_grade_2_item_are_skipped_and_the_rest_averaged():
    rankings = {
        "perfect": ["a", "b"],  # ndcg 1, recall 1, mrr 1
        "miss": ["x", "y"],  # its grade-2 item is ranked nowhere: all 0
        "only_partial": ["p"],  # only grade-1 labels: skipped
        "unlabelled": ["u"],  # no labels at all: skipped
    }
    relevant = {"perfect": {"a": 2}, "miss": {"z": 2}, "only_partial": {"p": 1}}
    result = ranking_metrics(rankings, relevant)
    assert result == {"ndcg@10": 0.5, "recall@10": 0.5, "mrr@10": 0.5, "queries": 2}


def test_no_countable_query_gives_zeros():
    assert ranking_metrics({"q": ["a"]}, {"q": {"a": 1}}) == {
        "ndcg@10": 0.0,
        "recall@10": 0.0,
        "mrr@10": 0.0,
        "queries": 0,
    }


def test_duplicate_items_in_a_ranking_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        ranking_metrics({"q": ["a", "a"]}, {"q": {"a": 2}})


# --- cross_lingual_recall --------------------------------------------------------------------


def test_cross_lingual_recall_counts_offers_in_the_top_k():
    rankings = {"n1": ["o1", "o2", "o3"], "n2": ["o4"]}
    pairs = [("n1", "o3"), ("n2", "o5"), ("n1", "o1")]
    assert cross_lingual_recall(rankings, pairs, k=2) == pytest.approx(1 / 3)
    assert cross_lingual_recall(rankings, pairs, k=3) == pytest.approx(2 / 3)
    assert cross_lingual_recall(rankings, [("n9", "o1")], k=3) == 0.0  # need never ranked: a miss
    assert cross_lingual_recall(rankings, [], k=10) == 0.0


# --- delivery_metrics ------------------------------------------------------------------------

GRADES = {("n1", "o1"): 2, ("n1", "o2"): 1, ("n2", "o3"): 2, ("n3", "o4"): 1}
NEEDS = ["n1", "n2", "n3", "n4"]  # n3 (only a grade-1 offer) and n4 (nothing) have no good match


def test_delivery_precision_recall_f1_and_silence():
    delivered = [
        ("n1", "o1"),  # grade 2
        ("n1", "o5"),  # grade 0
        ("n2", "o2"),  # grade 0
        ("n3", "o4"),  # grade 1: tolerated for a no-match need
        ("n4", "o6"),  # grade 0: breaks n4's silence
        ("n1", "o1"),  # repeated pair counts once
    ]
    result = delivery_metrics(delivered, GRADES, NEEDS, threshold=0.42)
    assert result["threshold"] == 0.42
    assert result["delivered"] == 5
    assert result["precision"] == pytest.approx(2 / 5)
    assert result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert result["no_match_silence"] == pytest.approx(1 / 2)


def test_delivering_nothing():
    result = delivery_metrics([], GRADES, NEEDS, threshold=0.9)
    assert result == {
        "threshold": 0.9,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "no_match_silence": 1.0,
        "delivered": 0,
    }


# --- dataset loading (api.evaluation.dataset) ------------------------------------------------


@pytest.mark.skipif(not DEV_SET.exists(), reason=f"development set not present at {DEV_SET}")
def test_load_the_real_development_set():
    eval_set = load_eval_set(DEV_SET)
    assert len(eval_set.postings) == 160
    assert len(eval_set.grades) == 114
    assert len(eval_set.needs) == 48
    assert len(eval_set.offers) == 112
    assert sum(1 for grade in eval_set.grades.values() if grade == 2) == 50
    n001 = next(p for p in eval_set.needs if p.id == "n001")
    assert n001.kind == "need" and n001.lang == "it" and n001.s3_area == "agrifood"
    assert n001.trl == 6  # from trl_min
    assert n001.keywords[:2] == ("pasta fresca", "confezionamento")
    assert next(p for p in eval_set.offers if p.id == "o001").trl == 5  # from trl
    assert eval_set.grade("n001", "o001") == 2
    assert eval_set.grade("n001", "o024") == 1
    assert eval_set.grade("n001", "o002") == 0
    with pytest.raises(AttributeError):
        n001.title = "changed"  # type: ignore[misc]


def _posting(id_, kind, **extra):
    return {
        "id": id_,
        "kind": kind,
        "org_name": "Org",
        "org_type": "company",
        "lang": "it",
        "s3_area": "agrifood",
        "title": "Titolo",
        "description": "Descrizione",
        "keywords": ["a", "b"],
        **extra,
    }


VALID = {
    "name": "tiny",
    "version": 1,
    "postings": [_posting("n1", "need", trl_min=4), _posting("o1", "offer", trl=7), _posting("o2", "offer")],
    "qrels": [{"need": "n1", "offer": "o1", "grade": 2}, {"need": "n1", "offer": "o2", "grade": 1}],
}


def _write(tmp_path, data):
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_load_a_small_valid_file(tmp_path):
    eval_set = load_eval_set(_write(tmp_path, VALID))
    assert eval_set.name == "tiny"
    assert eval_set.needs == (
        EvalPosting("n1", "need", "Org", "company", "it", "agrifood", "Titolo", "Descrizione", ("a", "b"), 4),
    )
    assert [p.trl for p in eval_set.offers] == [7, None]
    assert eval_set.grades == {("n1", "o1"): 2, ("n1", "o2"): 1}
    assert eval_set.grade("n1", "o9") == 0


def _drop_title(data):
    del data["postings"][1]["title"]


def _unknown_kind(data):
    data["postings"][2]["kind"] = "request"


def _unknown_posting(data):
    data["qrels"][1]["offer"] = "o99"


def _grade_3(data):
    data["qrels"][0]["grade"] = 3


def _grade_0(data):
    data["qrels"][0]["grade"] = 0


def _duplicate_id(data):
    data["postings"][2]["id"] = "o1"


def _need_as_offer(data):
    data["qrels"][0]["offer"] = "n1"


def _duplicate_qrel(data):
    data["qrels"][1]["offer"] = "o1"


def _missing_qrels(data):
    del data["qrels"]


def _bad_trl(data):
    data["postings"][0]["trl_min"] = 12


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop_title, "posting 'o1': missing field 'title'"),
        (_unknown_kind, "posting 'o2': unknown kind 'request'"),
        (_unknown_posting, "refers to unknown posting 'o99'"),
        (_grade_3, "grade must be 1 or 2, got 3"),
        (_grade_0, "grade must be 1 or 2, got 0"),
        (_duplicate_id, "duplicate posting id 'o1'"),
        (_need_as_offer, "'n1' is a need, expected a offer"),
        (_duplicate_qrel, "duplicate qrel"),
        (_missing_qrels, "missing top-level field 'qrels'"),
        (_bad_trl, "'trl_min' must be an integer 1..9, got 12"),
    ],
)
def test_malformed_files_are_rejected_with_a_clear_message(tmp_path, mutate, message):
    data = copy.deepcopy(VALID)
    mutate(data)
    with pytest.raises(ValueError) as excinfo:
        load_eval_set(_write(tmp_path, data))
    assert message in str(excinfo.value)
    assert "set.json" in str(excinfo.value)


def test_invalid_json_is_a_value_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_eval_set(path)
