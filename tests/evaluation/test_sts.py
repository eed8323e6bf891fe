import numpy as np
import pytest

from api.evaluation.sts import cross_lingual_pairs, load_sts, sts_spearman, write_sts
from tests.infra import shared_file

STS_TEST = shared_file("data/sts/sts-test.csv")


def bag_of_characters(texts: list[str]) -> np.ndarray:
    """Fake encoder: L2-normalised counts of the letters a..z."""
    rows = np.zeros((len(texts), 26))
    for i, text in enumerate(texts):
        for ch in text.lower():
            if "a" <= ch <= "z":
                rows[i, ord(ch) - ord("a")] += 1
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_load_sts_reads_pairs_and_ignores_extra_columns(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text(
        "main-captions\tMSRvid\t2012test\t0001\t5.000\tA cat sits.\tA cat is sitting.\n"
        'main-news\theadlines\t2015\t0002\t0.400\tShe said "no" firmly.\tStocks fell.\tsource-a\tsource-b\n'
        "\n",
        encoding="utf-8",
    )
    assert load_sts(path) == [
        ("A cat sits.", "A cat is sitting.", 5.0),
        ('She said "no" firmly.', "Stocks fell.", 0.4),
    ]


def test_load_sts_rejects_short_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("genre\tfile\t2012\t0001\t3.0\tonly one sentence\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.csv:1: expected at least 7 columns"):
        load_sts(path)


def test_sts_spearman_with_a_bag_of_characters_encoder():
    pairs = [
        ("abc", "abc", 5.0),  # cosine 1
        ("abc", "abd", 3.0),  # cosine 2/3
        ("abc", "ade", 1.0),  # cosine 1/3
        ("abc", "xyz", 0.0),  # cosine 0
    ]
    assert sts_spearman(bag_of_characters, pairs) == pytest.approx(100.0)
    reversed_gold = [(s1, s2, -gold) for s1, s2, gold in pairs]
    assert sts_spearman(bag_of_characters, reversed_gold) == pytest.approx(-100.0)
    # Gold order swaps the middle two: rho = 1 - 6 * (1 + 1) / (4 * 15) = 0.8
    swapped = [pairs[0], (*pairs[1][:2], 1.0), (*pairs[2][:2], 3.0), pairs[3]]
    assert sts_spearman(bag_of_characters, swapped) == pytest.approx(80.0)


def test_sts_spearman_encodes_every_sentence_once_in_one_call():
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return bag_of_characters(texts)

    sts_spearman(encode, [("ab", "ba", 1.0), ("cd", "ef", 0.0)])
    assert calls == [["ab", "cd", "ba", "ef"]]


@pytest.mark.skipif(not STS_TEST.exists(), reason=f"STS Benchmark test split not present at {STS_TEST}")
def test_real_sts_test_split_has_1379_pairs():
    pairs = load_sts(STS_TEST)
    assert len(pairs) == 1379
    assert pairs[0] == ("A girl is styling her hair.", "A girl is brushing her hair.", 2.5)
    assert all(0.0 <= gold <= 5.0 for _, _, gold in pairs)


def test_cross_lingual_pairs_take_sentence_one_from_the_first_language_and_round_trip(tmp_path):
    (tmp_path / "it.csv").write_text('Un gatto siede.,"Un gatto, seduto.",4.5\nPiove.,Il sole splende.,0.5\n')
    (tmp_path / "en.csv").write_text('A cat sits.,"A cat, sitting.",4.5\nIt rains.,The sun shines.,0.5\n')
    pairs = cross_lingual_pairs(tmp_path / "it.csv", tmp_path / "en.csv")
    assert pairs == [("Un gatto siede.", "A cat, sitting.", 4.5), ("Piove.", "The sun shines.", 0.5)]
    write_sts(pairs, tmp_path / "it-en.tsv")
    assert load_sts(tmp_path / "it-en.tsv") == pairs
    (tmp_path / "short.csv").write_text("A cat sits.,A cat.,4.5\n")
    with pytest.raises(ValueError, match="not the same split"):
        cross_lingual_pairs(tmp_path / "it.csv", tmp_path / "short.csv")
