import json

import numpy as np
import pytest

from embeddings.scoring import FEATURES, Calibration, across_languages, default_calibration, trl_fit

CALIBRATION = Calibration(
    weights=tuple(1.0 for _ in FEATURES), bias=-3.0, threshold=0.5, top_k=3, margin=0.2, fitted_on="test"
)


def test_trl_fits_when_offer_is_mature_enough_and_decays_with_the_gap():
    assert trl_fit(5, 6) == 1.0
    assert trl_fit(6, 5) > trl_fit(6, 4) > trl_fit(6, 2) == 0.0
    assert trl_fit(None, 5) == 0.5


def test_across_languages_only_for_italian_with_english():
    assert across_languages("it", "en") and across_languages("en", "it")
    assert not across_languages("it", "it") and not across_languages("mixed", "en")


def test_score_is_a_probability_that_grows_with_every_positive_feature():
    low = np.zeros((1, len(FEATURES)))
    high = low.copy()
    high[0, FEATURES.index("lexical")] = 1.0
    assert 0.0 < CALIBRATION.score(low)[0] < CALIBRATION.score(high)[0] < 1.0


def test_contributions_name_each_feature():
    parts = CALIBRATION.contributions(dict.fromkeys(FEATURES, 0.5))
    assert set(parts) == set(FEATURES) and parts["semantic"] == 0.5


def test_calibration_round_trips_and_refuses_other_features(tmp_path):
    path = tmp_path / "calibration.json"
    CALIBRATION.save(path)
    assert Calibration.load(path) == CALIBRATION
    data = json.loads(path.read_text())
    data["features"] = ["semantic"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="calibrate"):
        Calibration.load(path)


def test_shipped_calibration_matches_the_features():
    shipped = default_calibration()
    assert len(shipped.weights) == len(FEATURES)
    assert 0.0 < shipped.threshold < 1.0 and shipped.top_k >= 1
