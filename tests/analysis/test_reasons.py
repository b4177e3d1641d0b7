"""Why each CAN was chosen (mapper.analysis.reasons), how stable it is
(mapper.analysis.neighbourhoods: perturbations, can_stability) and what changed since the
previous selection (mapper.analysis.record), on tiny hand-built tables with answers
worked out by hand in the comments."""

from __future__ import annotations

import factories as fx
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from mapper.analysis.neighbourhoods import (
    can_stability,
    perturbations,
    selection_draws,
    stability_label,
    stability_method,
)
from mapper.analysis.reasons import FALLBACK, can_reasons, indicator_table
from mapper.analysis.record import selection, selection_changes
from mapper.maps.selection_svg import selection_svg

# -- reasons ----------------------------------------------------------------------------


def _two_cans() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six wards of 1,000 residents in one borough, Testham. CAN-01 (W1, W2) has no food
    group near anyone and no group at all; CAN-02 (W3, W4) has many burglaries. Income
    deprivation is the same everywhere, so it cannot set either apart."""
    codes = ["W1", "W2", "W3", "W4", "W5", "W6"]
    table = pd.DataFrame({
        "population": 1000.0,
        "can_id": pd.array(["CAN-01", "CAN-01", "CAN-02", "CAN-02", None, None],
                           dtype="string"),
        "borough_code": "E09000099",
        "borough_name": "Testham",
        "income_score": 0.2,
        "groups_total": [0, 0, 1, 1, 2, 2],
        "incidents": [2, 2, 30, 30, 15, 15],
        "incidents_burglary": [2, 2, 30, 30, 15, 15],
        "incidents_per_1000": [2.0, 2.0, 30.0, 30.0, 15.0, 15.0],
    }, index=pd.Index(codes, name="ward_code"))
    # residents with no food group within 800 m: all of W1 and W2, nobody elsewhere
    uncovered = pd.DataFrame({"food": [1000.0, 1000.0, 0, 0, 0, 0]}, index=table.index)
    return table, uncovered


def test_reasons_differ_between_a_food_gap_can_and_an_incident_can():
    table, uncovered = _two_cans()
    reasons = can_reasons(table, uncovered=uncovered, radius_m=800)
    # CAN-01: 0 groups against the study area's 6 per 6,000 = 1.0 per 1,000 (ratio
    # infinite); nobody within 800 m of a food group: 100% against 2,000 of 6,000 = 33%
    # (ratio 3). Both rank it worst of the two CANs (percentile 1); the larger ratio first.
    assert reasons.loc["CAN-01", "reasons"] == (
        "no VCS group in its wards (study area: 1.0 per 1,000 residents); "
        "no food group within 800 m for 100% of residents (study area: 33%)")
    assert reasons.loc["CAN-01", "reason_keys"] == "supply:groups; uncovered:food"
    # CAN-02: 60 burglaries per 2,000 = 30 per 1,000 against Testham's 94 per 6,000 =
    # 15.67: 1.91x (Testham has 34 outside the CAN: enough to compare with). Its groups
    # (1.0 per 1,000) equal the study area's: not a reason. CAN-01's 4 burglaries are
    # below MIN_INCIDENTS (20): not measured for it.
    assert reasons.loc["CAN-02", "reasons"] == (
        "burglary rate 1.9x Testham's (30 per 1,000 residents)")
    assert reasons.loc["CAN-02", "reason_keys"] == "incidents:burglary"


def test_indicator_table_gives_values_references_ratios_and_percentiles():
    table, uncovered = _two_cans()
    long = indicator_table(table, uncovered=uncovered).set_index(["can_id", "key"])
    food = long.loc[("CAN-01", "uncovered:food")]
    assert (food["value"], food["reference"], food["ratio"], food["percentile"]) == \
        pytest.approx((1.0, 1 / 3, 3.0, 1.0))
    burglary = long.loc[("CAN-02", "incidents:burglary")]
    assert (burglary["value"], burglary["reference"]) == pytest.approx((30.0, 94 / 6))
    assert np.isnan(long.loc[("CAN-01", "incidents:burglary"), "value"])
    income = long.loc[("CAN-02", "deprivation:income")]
    assert income["ratio"] == pytest.approx(1.0) and not income["eligible"]


def test_an_incident_type_the_borough_barely_has_is_not_compared():
    # 60 burglaries in CAN-02 but only 10 in the rest of Testham (fewer than 20): its
    # rate there rests on too little to compare with (another force's strays, say)
    table, uncovered = _two_cans()
    table["incidents_burglary"] = [2, 2, 30, 30, 3, 3]
    reasons = can_reasons(table, uncovered=uncovered)
    assert reasons.loc["CAN-02", "reasons"] == FALLBACK
    # 30 in CAN-02 and 40 beyond it, but in only 2 of Testham's 6 wards (under half)
    table["incidents_burglary"] = [0, 0, 30, 0, 40, 0]
    reasons = can_reasons(table, uncovered=uncovered)
    assert reasons.loc["CAN-02", "reasons"] == FALLBACK
    # in 3 of 6 wards (half): compared; 30 / 2,000 against 70 / 6,000 = 1.3x
    table["incidents_burglary"] = [0, 0, 30, 0, 20, 20]
    reasons = can_reasons(table, uncovered=uncovered)
    assert reasons.loc["CAN-02", "reasons"] == (
        "burglary rate 1.3x Testham's (15 per 1,000 residents)")


def test_a_can_worse_than_nothing_is_named_for_its_unmet_need():
    table, uncovered = _two_cans()
    table["incidents_burglary"] = table["incidents_per_1000"] = 3.0
    table["groups_total"] = 1
    reasons = can_reasons(table)  # no coverage data, no incident or supply difference
    assert list(reasons["reasons"]) == [FALLBACK, FALLBACK]
    assert list(reasons["reason_keys"]) == ["", ""]


def _idaci_table() -> pd.DataFrame:
    return pd.DataFrame({
        "population": [1000.0, 3000.0],
        "can_id": pd.array(["CAN-01", None], dtype="string"),
        "idaci_score": [0.4, 0.1],
    }, index=pd.Index(["A", "B"], name="ward_code"))


def test_deprivation_is_placed_nationally_from_the_lsoa_ranks():
    # LSOA (score, national rank) pairs: 0.1 -> 3,000, 0.3 -> 2,000, 0.5 -> 1,000 of
    # 10,000. CAN-01's 0.4 interpolates to rank 1,500 = 15%; the study area's mean
    # (0.4 x 1,000 + 0.1 x 3,000) / 4,000 = 0.175 to 3,000 - 0.375 x 1,000 = 2,625 =
    # 26.25%, said as 27%. Ratio 0.4 / 0.175 = 2.3: a reason.
    deprivation = pd.DataFrame({"idaci_score": [0.1, 0.3, 0.5],
                                "idaci_rank": [3000, 2000, 1000]})
    reasons = can_reasons(_idaci_table(), deprivation=deprivation, national_lsoas=10_000)
    assert reasons.loc["CAN-01", "reasons"] == (
        "income deprivation affecting children in the most deprived 15% nationally "
        "(study area: most deprived 27%)")


def test_deprivation_without_ranks_is_compared_with_the_study_area():
    reasons = can_reasons(_idaci_table())  # scores only (no LSOA ranks): West Yorkshire-like
    assert reasons.loc["CAN-01", "reasons"] == (
        "income deprivation affecting children score 0.40, 2.3x the study area's")


def test_deprivation_of_ranks_only_is_measured_by_average_rank():
    # West Yorkshire-like: national ranks, no scores. Ward A = all of L1 and half of L2:
    # (1,000 x 100 + 5,000 x 50) / 150 = 2,333.3; ward B = half of L2 and all of L3:
    # (5,000 x 50 + 9,000 x 200) / 250 = 8,200 (ranks of 10,000). CAN-01 (A) sits at
    # 23.3%, said as 24%; the study area at (0.2333 x 1,500 + 0.82 x 2,500) / 4,000 =
    # 60%, the least deprived 41%. Ratio 0.6 / 0.233 = 2.6: a reason.
    deprivation = pd.DataFrame({"lsoa_code": ["L1", "L2", "L3"],
                                "income_rank": [1000, 5000, 9000],
                                "pop_total": [100, 100, 200]})
    weights = pd.DataFrame({"lsoa_code": ["L1", "L2", "L2", "L3"],
                            "ward_code": ["A", "A", "B", "B"],
                            "weight": [1.0, 0.5, 0.5, 1.0]})
    table = pd.DataFrame({"population": [1500.0, 2500.0],
                          "can_id": pd.array(["CAN-01", None], dtype="string")},
                         index=pd.Index(["A", "B"], name="ward_code"))
    reasons = can_reasons(table, deprivation=deprivation, lsoa_weights=weights,
                          national_lsoas=10_000)
    assert reasons.loc["CAN-01", "reasons"] == (
        "income deprivation: average rank in the most deprived 24% nationally "
        "(study area: least deprived 41%)")
    assert reasons.loc["CAN-01", "reason_keys"] == "deprivation:income"
    # wards A (L1, rank 6,000) and B (L3, 8,000): CAN-01 at 60% is 1.21x worse than the
    # study area ((0.6 x 1,500 + 0.8 x 2,500) / 4,000 = 72.5%), yet in the least
    # deprived half of England: not named
    deprivation["income_rank"] = [6000, 8000, 8000]
    weights = weights.iloc[[0, 3]]
    reasons = can_reasons(table, deprivation=deprivation, lsoa_weights=weights,
                          national_lsoas=10_000)
    assert reasons.loc["CAN-01", "reasons"] == FALLBACK


def test_reasons_without_any_can_are_empty():
    table, _ = _two_cans()
    table["can_id"] = pd.array([None] * 6, dtype="string")
    assert can_reasons(table).empty


# -- stability --------------------------------------------------------------------------


def test_stability_labels_at_their_bounds():
    assert [stability_label(s) for s in (1.0, 0.8, 0.79, 0.5, 0.49, 0.0, np.nan)] == \
        ["robust", "robust", "moderate", "moderate", "marginal", "marginal", ""]


def test_can_stability_counts_runs_keeping_half_of_its_residents():
    selected = pd.DataFrame(
        {0: [True, True, True, True], 1: [True, True, False, True],
         2: [True, True, False, False], 3: [True, True, False, False]},
        index=pd.Index(["A", "B", "C", "D"], name="ward_code"))
    can_id = pd.Series(["CAN-01", "CAN-01", "CAN-02", "CAN-02", None],
                       index=["A", "B", "C", "D", "E"])
    population = pd.Series([500, 500, 300, 100, 900], index=["A", "B", "C", "D", "E"])
    # CAN-01 is fully selected in all 4 runs; CAN-02 keeps 400/400 in run 0, only D's
    # 100/400 = 25% in run 1 and nothing after: 1 run of 4
    stability = can_stability(selected, can_id, population)
    assert stability.to_dict() == {"CAN-01": 1.0, "CAN-02": 0.25}
    assert [stability_label(s) for s in stability] == ["robust", "marginal"]


def test_wide_perturbations_separate_a_robust_from_a_marginal_can():
    # a ward is selected when wa * a + wb * b >= threshold factor. With spread 1 each
    # weight is U(0, 2) and the factor U(0.5, 1.5). R (a = 5) is selected unless
    # wa < f / 5: P = E[1 - f / 10] = 0.9. M (a = 0.8) needs wa >= 1.25 f:
    # P = E[(2 - 1.25 f) / 2] = 0.375.
    values = pd.DataFrame({"a": [5.0, 0.8], "b": [0.0, 0.0]}, index=["R", "M"])

    def compute(weights, factor):
        score = weights["a"] * values["a"] + weights["b"] * values["b"]
        return score >= factor

    draws = selection_draws(compute, {"a": 1.0, "b": 1.0}, draws=400, spread=1.0, seed=0)
    stability = can_stability(draws, pd.Series(["CAN-R", "CAN-M"], index=["R", "M"]),
                              pd.Series([1000, 1000], index=["R", "M"]))
    assert stability["CAN-R"] == pytest.approx(0.9, abs=0.03)
    assert stability["CAN-M"] == pytest.approx(0.375, abs=0.03)
    assert stability_label(stability["CAN-R"]) == "robust"
    assert stability_label(stability["CAN-M"]) == "marginal"
    again = selection_draws(compute, {"a": 1.0, "b": 1.0}, draws=400, spread=1.0, seed=0)
    pd.testing.assert_frame_equal(draws, again)  # seeded: the same every time


def test_perturbations_move_weights_and_threshold_within_the_spread():
    draws = perturbations({"need": 0.5, "supply": 0.3}, draws=300, spread=0.4, seed=0)
    need = np.array([w["need"] for w, _ in draws])
    factor = np.array([f for _, f in draws])
    assert need.min() >= 0.5 * 0.6 and need.max() <= 0.5 * 1.4
    assert factor.min() >= 0.8 and factor.max() <= 1.2  # half the spread
    assert need.max() - need.min() > 0.3  # it does spread
    with pytest.raises(ValueError, match="spread"):
        perturbations({"need": 1}, draws=1, spread=1.5)


def test_stability_method_says_how_it_was_measured():
    assert stability_method(200, 1.0) == (
        "Stability is the share of 200 re-runs, each with every weight moved at random by "
        "up to 100% either way and the share of wards considered by up to 50%, in which "
        "wards holding at least 50% of the CAN's residents were still selected: robust "
        "from 80%, marginal below 50%.")


# -- what changed -----------------------------------------------------------------------


def test_selection_changes_match_cans_by_shared_wards():
    previous = {"CAN-01": ["A", "B", "C"], "CAN-02": ["D", "E"], "CAN-03": ["F"]}
    current = {"CAN-01": ["A", "B", "C"], "CAN-02": ["E", "G", "D"], "CAN-03": ["H", "I"],
               "CAN-04": ["F"]}
    diff = selection_changes(previous, current)
    assert diff["unchanged"] == 1  # CAN-01
    # CAN-02 keeps D and E (2 of its 3 wards) and gains G; CAN-04 is the old CAN-03
    assert diff["changed"] == [
        {"can_id": "CAN-02", "previous_id": "CAN-02", "added": ["G"], "removed": []},
        {"can_id": "CAN-04", "previous_id": "CAN-03", "added": [], "removed": []}]
    assert diff["new"] == ["CAN-03"] and diff["gone"] == []
    assert diff["wards_in"] == ["G", "H", "I"] and diff["wards_out"] == []


def test_selection_from_a_can_id_column():
    can_id = pd.Series(["CAN-02", None, "CAN-01", "CAN-02"], index=["W4", "W1", "W3", "W2"])
    assert selection(can_id) == {"CAN-01": ["W3"], "CAN-02": ["W2", "W4"]}


# -- the map of the selection -----------------------------------------------------------


def test_selection_svg_draws_every_ward_and_labels_each_can():
    wards = gpd.GeoDataFrame({"ward_code": ["A", "B", "C"]},
                             geometry=fx.grid(1, 3, origin=(0.0, 0.0)).geometry.to_numpy(),
                             crs="EPSG:27700")
    svg = selection_svg(wards, pd.Series(["CAN-01", None, "CAN-01"], index=["A", "B", "C"]),
                        title="Map <test>")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 267"')
    assert svg.count("<path ") == 3
    assert svg.count("<text ") == 1 and ">CAN-01</text>" in svg
    assert "Map &lt;test&gt;" in svg  # escaped
    # ward A spans x 0..1000 m, y 0..1000 m: 800/3000 units per metre, y flipped
    assert 'd="M0.0,266.7L' in svg or 'd="M266.7,266.7L' in svg or "M0.0,0.0L" in svg
