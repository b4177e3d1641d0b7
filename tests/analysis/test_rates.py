"""Rates that hold up on small areas (empirical-Bayes smoothing) and the robust, capped
standardisation of the unmet-need index, with the reasons a ward's figures are flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapper.analysis.priority import (
    POPULATION_FLOOR,
    Z_BOUND,
    reliability,
    robust_z,
    standardise,
    unmet_need,
)
from mapper.analysis.rates import MIN_DISTRICT_WARDS, STUDY_AREA, eb_rates

CODES = [f"E0590000{i}" for i in range(1, 7)]


def six_wards() -> pd.DataFrame:
    """Five wards of district A and one ward of district B, residents and counts."""
    return pd.DataFrame({
        "population": [1000.0, 1000.0, 2000.0, 2000.0, 4000.0, 5000.0],
        "incidents": [10.0, 2.0, 8.0, 4.0, 16.0, 10.0],
        "borough_code": ["A"] * 5 + ["B"],
        "borough_name": ["Southfield"] * 5 + ["Northbrook"],
    }, index=pd.Index(CODES, name="ward_code"))


def test_shrinkage_toward_the_district_by_hand():
    """District A (5 wards, n = residents in thousands, y = counts, r = y / n):

    n = 1, 1, 2, 2, 4; y = 10, 2, 8, 4, 16; r = 10, 2, 4, 2, 4
    m  = 40 / 10 = 4
    s2 = (1 x 36 + 1 x 4 + 2 x 0 + 2 x 4 + 4 x 0) / 10 = 4.8
    A  = 4.8 - m / mean(n) = 4.8 - 4 / 2 = 2.8
    C  = 2.8 / (2.8 + 4 / n) = 2.8 / 6.8, 2.8 / 6.8, 2.8 / 4.8, 2.8 / 4.8, 2.8 / 3.8
    eb = 4 + C (r - 4) = 4 + 16.8 / 6.8, 4 - 5.6 / 6.8, 4, 4 - 5.6 / 4.8, 4
       = 6.470588, 3.176471, 4, 2.833333, 4
    """
    wards = six_wards()
    out = eb_rates(wards["incidents"], wards["population"], wards["borough_code"])
    a = out.iloc[:5]
    assert a["rate"].tolist() == pytest.approx([10, 2, 4, 2, 4])
    assert a["prior"].tolist() == pytest.approx([4] * 5)
    assert a["reliability"].tolist() == pytest.approx(
        [2.8 / 6.8, 2.8 / 6.8, 2.8 / 4.8, 2.8 / 4.8, 2.8 / 3.8])
    assert a["rate_eb"].tolist() == pytest.approx(
        [6.470588, 3.176471, 4.0, 2.833333, 4.0], abs=1e-6)
    assert a["prior_area"].tolist() == ["A"] * 5


def test_a_district_too_small_for_a_prior_shrinks_toward_the_study_area():
    """District B has one ward (fewer than MIN_DISTRICT_WARDS): the study area's prior.

    All 6 wards: m = 50 / 15 = 10/3; s2 = (400 + 16 + 2 x 4 + 2 x 16 + 4 x 4 + 5 x 16)
    / 9 / 15 = 552 / 135; A = 552 / 135 - (10/3) / 2.5 = 372 / 135.
    Ward 6 (n = 5, r = 2): m / n = 2/3 = 90 / 135, so C = 372 / 462 = 62 / 77 and
    eb = 10/3 + 62/77 x (2 - 10/3) = 522 / 231 = 2.259740.
    """
    assert MIN_DISTRICT_WARDS > 1
    wards = six_wards()
    out = eb_rates(wards["incidents"], wards["population"], wards["borough_code"])
    ward6 = out.iloc[5]
    assert ward6["prior_area"] == STUDY_AREA
    assert ward6["prior"] == pytest.approx(10 / 3)
    assert ward6["reliability"] == pytest.approx(62 / 77)
    assert ward6["rate_eb"] == pytest.approx(522 / 231)


def test_variation_no_larger_than_chance_gives_every_ward_the_district_rate():
    # n = 1 each, y = 3, 5, 4, 4, 4: m = 4, s2 = 2 / 5 = 0.4 < m / mean(n) = 4, so A = 0
    index = pd.Index(CODES[:5])
    out = eb_rates(pd.Series([3.0, 5, 4, 4, 4], index=index),
                   pd.Series(1000.0, index=index), pd.Series("A", index=index))
    assert out["reliability"].tolist() == [0.0] * 5
    assert out["rate_eb"].tolist() == pytest.approx([4.0] * 5)


def test_unknown_counts_and_empty_wards_are_left_out_and_stay_unknown():
    wards = six_wards()
    counts = wards["incidents"].copy()
    counts.iloc[5] = np.nan  # incident data do not cover district B
    people = wards["population"].copy()
    people.iloc[0] = 0.0  # no residents: no rate
    shuffled = counts.sample(frac=1, random_state=3)
    out = eb_rates(shuffled, people, wards["borough_code"])
    assert out.index.equals(shuffled.index)
    assert np.isnan(out.loc[CODES[0], "rate_eb"]) and np.isnan(out.loc[CODES[5], "rate_eb"])
    assert out.loc[CODES[0], "prior_area"] is None
    # A now has 4 wards with a rate: below MIN_DISTRICT_WARDS, so the study area's prior
    # over those same 4 wards: m = 30 / 9
    assert out.loc[CODES[1], "prior"] == pytest.approx(30 / 9)
    # no counts at all in a prior: the rate is the prior, nothing to shrink
    zero = eb_rates(pd.Series(0.0, index=CODES), wards["population"], wards["borough_code"])
    assert zero["rate_eb"].tolist() == [0.0] * 6 and zero["reliability"].eq(1).all()


# -- robust standardisation -------------------------------------------------------------


def test_robust_z_scores_by_hand_and_the_cap():
    values = pd.Series([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3; absolute deviations 2, 1, 0, 1, 97: MAD 1, robust SD 1.4826
    assert robust_z(values).tolist() == pytest.approx(
        [-2 / 1.4826, -1 / 1.4826, 0.0, 1 / 1.4826, 97 / 1.4826])
    assert standardise(values).tolist() == pytest.approx(
        [-2 / 1.4826, -1 / 1.4826, 0.0, 1 / 1.4826, Z_BOUND])
    assert Z_BOUND == 3.0
    # over half the values at the median (MAD 0): 1.2533 x the mean absolute deviation,
    # (0 + 0 + 0 + 1 + 2) / 5 = 0.6, so robust SD 0.75198
    assert standardise(pd.Series([0.0, 0.0, 0.0, 1.0, 2.0])).tolist() == pytest.approx(
        [0.0, 0.0, 0.0, 1 / (1.2533 * 0.6), 2 / (1.2533 * 0.6)])
    assert standardise(pd.Series([2.0, 2.0, np.nan])).tolist()[:2] == [0.0, 0.0]
    assert np.isnan(standardise(pd.Series([2.0, 5.0, np.nan])).iloc[2])


def test_one_extreme_ward_does_not_flatten_the_others():
    """The City of London's case: one ward with 748 incidents per 1,000 residents beside
    wards of 2-5. A plain z-score gave it 25 and every other ward below 1; the robust
    z-score keeps the others' spread and caps the extreme ward at Z_BOUND."""
    rates = pd.Series([2.0, 3.0, 4.0, 5.0, 3.0, 748.0])
    plain = (rates - rates.mean()) / rates.std(ddof=0)
    assert plain.iloc[:5].abs().max() < 0.5
    robust = standardise(rates)
    assert robust.iloc[5] == Z_BOUND
    # median 3.5, MAD 1 (deviations 1.5, 0.5, 0.5, 1.5, 0.5, 744.5), robust SD 1.4826
    assert robust.iloc[0] == pytest.approx(-1.5 / 1.4826)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(0, 1e6), st.floats(0, 1e4)),
                min_size=1, max_size=25),
       st.tuples(st.floats(0, 10), st.floats(0, 10), st.floats(0, 10)).filter(
           lambda w: sum(w) > 0.01))
def test_no_component_contributes_more_than_its_weight_times_the_bound(rows, weights):
    table = pd.DataFrame(rows, columns=["imd_score", "groups_total_per_1000_eb",
                                        "incidents_per_1000_eb"])
    chosen = dict(zip(["need", "supply", "incidents"], weights, strict=True))
    out = unmet_need(table, chosen)
    total = sum(weights)
    for name, weight in chosen.items():
        assert (out[f"contrib_{name}"].abs() <= weight / total * Z_BOUND + 1e-9).all()
    assert (out["unmet_need"].abs() <= Z_BOUND + 1e-9).all()


# -- which figures to read with care --------------------------------------------------------


def test_reasons_name_the_floor_the_smoothing_and_the_cap():
    wards = six_wards()
    smoothed = eb_rates(wards["incidents"], wards["population"], wards["borough_code"])
    table = wards.assign(incidents_per_1000=smoothed["rate"],
                         incidents_per_1000_eb=smoothed["rate_eb"],
                         imd_score=[20.0, 21, 22, 23, 24, 25])
    table.loc[CODES[5], "population"] = POPULATION_FLOOR - 0.6  # 999.4: shown 999
    flags = reliability(table, smoothed={"incidents_per_1000_eb": smoothed})
    # raw rates 10, 2, 4, 2, 4, 2: median 3, MAD 1, robust SD 1.4826; only ward 1's
    # smoothing (10 to 6.47) moved more than one robust SD
    assert flags["unreliable"].tolist() == [True, False, False, False, False, True]
    said = flags["unreliable_reason"]
    assert said.iloc[0].startswith(
        "A rate from a small count (10 incidents, 1,000 residents): incidents per 1,000 "
        "residents smoothed from 10 to 6.47 toward Southfield's 4. ")
    # smoothed 6.47, 3.18, 4, 2.83, 4, 2.26: median 3.588, MAD 0.583, so ward 1 lies
    # (6.471 - 3.588) / (1.4826 x 0.583) = 3.3 robust SDs above: capped
    # (the usual spread: the robust standard deviation, 1.4826 x MAD)
    assert ("Incidents per 1,000 residents (6.47) is far above the median ward's (3.59): "
            "3.3 times the usual spread between wards, counted as 3 in the index so that "
            "one figure cannot outweigh the others" in said.iloc[0])
    assert said.iloc[0].endswith(
        "outweigh the others (a rate per resident this high can reflect a large daytime "
        "population: offices, shops, stations).")
    assert said.iloc[5] == "Few residents (999, below 1,000): rates per resident are fragile."
    assert said.iloc[1] == ""


def test_a_ward_of_no_known_district_shrinks_toward_the_study_area():
    wards = six_wards()
    district = wards["borough_code"].copy()
    district.iloc[0] = None
    out = eb_rates(wards["incidents"], wards["population"], district)
    assert out.iloc[0]["prior_area"] == STUDY_AREA
    assert out.iloc[0]["prior"] == pytest.approx(10 / 3)
    # A keeps 4 known wards: too few for a prior of its own
    assert out.iloc[1]["prior_area"] == STUDY_AREA
