"""MHCLG's district-summary measures (IoD2019 File 10 definitions), hand-computed on five
LSOAs, for a borough (whole LSOAs) and two wards (one LSOA shared half and half).

National ranking of 1,000 LSOAs, so an LSOA's national percentile is ceil(rank / 10):

    LSOA  rank  pct  reversed  people  score  income  employment  working age
    A       50    5       951     100     50    0.30        0.20           60
    B      120   12       881     200     40    0.20        0.10          120
    C      300   30       701     300     20    0.10        0.05          200
    D      301   31       700     400     10    0.05        0.02          250
    E      900   90       101   1,000      5    0.01        0.01          600

(reversed = 1,001 - rank: MHCLG gives the most deprived LSOA the highest rank)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mapper.analysis.indicators import combine as combined
from mapper.analysis.need import (
    DEFINITIONS,
    area_need,
    extent_weight,
    local_concentration,
    unavailable_measures,
)
from mapper.maps.classify import classify
from mapper.maps.priority import indicator_unit, legend_html
from mapper.web.neighbourhoods import FIGURES

N = 1000
CODES = list("ABCDE")


def lsoas() -> pd.DataFrame:
    return pd.DataFrame({
        "lsoa_code": CODES,
        "imd_rank": [50, 120, 300, 301, 900],
        "imd_score": [50.0, 40.0, 20.0, 10.0, 5.0],
        "income_score": [0.30, 0.20, 0.10, 0.05, 0.01],
        "employment_score": [0.20, 0.10, 0.05, 0.02, 0.01],
        "pop_total": [100, 200, 300, 400, 1000],
        "pop_working_age": [60, 120, 200, 250, 600],
    })


def borough() -> pd.DataFrame:
    return pd.DataFrame({"lsoa_code": CODES, "borough_code": "E09000099", "weight": 1.0})


def wards() -> pd.DataFrame:
    """W1: A, B and half of C; W2: the other half of C, D and E."""
    return pd.DataFrame({"lsoa_code": ["A", "B", "C", "C", "D", "E"],
                         "ward_code": ["W1", "W1", "W1", "W2", "W2", "W2"],
                         "weight": [1, 1, 0.5, 0.5, 1, 1]})


@pytest.fixture(scope="module")
def district() -> pd.Series:
    return area_need(lsoas(), borough(), by="borough_code", national_lsoas=N).iloc[0]


def test_average_score_is_population_weighted(district):
    assert district["imd_score"] == pytest.approx(
        (100 * 50 + 200 * 40 + 300 * 20 + 400 * 10 + 1000 * 5) / 2000)  # 14.0


def test_average_rank_turns_the_ranks_round(district):
    # higher = more deprived: (100 x 951 + 200 x 881 + 300 x 701 + 400 x 700 + 1000 x 101)
    assert district["imd_avg_rank"] == pytest.approx(862_600 / 2000)  # 431.3


def test_extent_sliding_scale(district):
    weights = extent_weight(lsoas()["imd_rank"], N)
    # 5th percentile: 1; 12th: 0.95 less one step of 0.9 / 19; 30th: 0.05; 31st and 90th: 0
    assert weights.tolist() == pytest.approx([1.0, 0.95 - 0.9 / 19, 0.05, 0.0, 0.0])
    assert extent_weight(pd.Series([110, 101, 100]), N).tolist() == pytest.approx(
        [0.95, 0.95, 1.0])  # 11th percentile (ranks 101-110) is 0.95; the 10th is 1
    assert district["imd_extent"] == pytest.approx(
        (100 * 1 + 200 * (0.95 - 0.9 / 19) + 300 * 0.05) / 2000)


def test_local_concentration_takes_exactly_ten_per_cent(district):
    # 10 % of 2,000 = 200 people: all of A (100 at 951) and 100 of B's 200 (at 881)
    assert district["imd_local_concentration"] == pytest.approx(
        (100 * 951 + 100 * 881) / 200)  # 916


def test_local_concentration_by_itself_with_a_crossing_lsoa():
    # one LSOA of 1,000 people is more than 10 % of 1,500: 150 of its people count
    rank = pd.Series([10, 500])
    people = pd.Series([1000.0, 500.0])
    groups = pd.Series(["x", "x"])
    result = local_concentration(rank, people, groups, pd.Index(["x", "y"]), N)
    assert result["x"] == pytest.approx(991)
    assert np.isnan(result["y"])  # no residents, no figure


def test_share_of_lsoas_in_the_most_deprived_deciles(district):
    # deciles from the ranks: A (50) is in decile 1, B (120) in decile 2; a share of LSOAs
    assert district["imd_most_deprived_10_share"] == pytest.approx(1 / 5)
    assert district["imd_most_deprived_20_share"] == pytest.approx(2 / 5)


def test_income_and_employment_scale_count_people(district):
    assert district["income_scale"] == pytest.approx(30 + 40 + 30 + 20 + 10)  # 130
    assert district["employment_scale"] == pytest.approx(12 + 12 + 10 + 5 + 6)  # 45


def test_ward_measures_use_the_shared_lsoa_parts():
    need = area_need(lsoas(), wards(), national_lsoas=N)
    w1, w2 = need.loc["W1"], need.loc["W2"]
    assert w1["population"] == pytest.approx(450) and w2["population"] == pytest.approx(1550)
    assert w1["imd_avg_rank"] == pytest.approx((100 * 951 + 200 * 881 + 150 * 701) / 450)
    # W1: 10 % = 45 people, all in A; W2: 10 % = 155: C's 150 (701) and 5 of D (700)
    assert w1["imd_local_concentration"] == pytest.approx(951)
    assert w2["imd_local_concentration"] == pytest.approx((150 * 701 + 5 * 700) / 155)
    # shares of LSOAs: W1 holds 2.5 LSOAs, A (decile 1) is one of them
    assert w1["imd_most_deprived_10_share"] == pytest.approx(1 / 2.5)
    assert w2["imd_most_deprived_10_share"] == pytest.approx(0.0)
    assert w1["income_scale"] == pytest.approx(30 + 40 + 15)
    assert w2["income_scale"] == pytest.approx(15 + 20 + 10)
    assert w2["employment_scale"] == pytest.approx(5 + 5 + 6)


def test_measures_without_their_data_are_blank_and_say_why():
    ranks_only = lsoas()[["lsoa_code", "imd_rank", "pop_total"]]
    need = area_need(ranks_only, borough(), by="borough_code", national_lsoas=N)
    assert need["income_scale"].isna().all() and need["imd_score"].isna().all()
    assert need["imd_local_concentration"].iloc[0] == pytest.approx(916)
    missing = unavailable_measures(ranks_only.columns)
    assert missing["income_scale"] == (
        "income scale (people income deprived): the deprivation data has no LSOA Income "
        "scores with the total population denominators (given by IoD File 5 or 7 (scores) "
        "with File 6 or 7 (population denominators))")
    # scores without the working-age denominator: the income scale, not the employment one
    no_working_age = lsoas().drop(columns="pop_working_age")
    assert set(unavailable_measures(no_working_age.columns)) == {"employment_scale"}
    need = area_need(no_working_age, borough(), by="borough_code", national_lsoas=N)
    assert need["income_scale"].iloc[0] == pytest.approx(130)
    assert need["employment_scale"].isna().all()


def test_profile_pages_combine_each_measure_by_its_rule_and_define_it():
    figures = {f.column: f for f in FIGURES}
    for column in ("imd_avg_rank", "imd_extent", "imd_local_concentration",
                   "imd_most_deprived_10_share", "income_scale", "employment_scale"):
        assert figures[column].help.startswith(DEFINITIONS[column])
    two = pd.DataFrame({"population": [450.0, 1550.0], "lsoas": [2.5, 2.5],
                        "imd_most_deprived_10_share": [0.4, 0.0],
                        "imd_local_concentration": [951.0, 700.9677],
                        "income_scale": [85.0, 45.0]})
    assert combined(two, "income_scale", figures["income_scale"].aggregate) == 130
    # a share of LSOAs combines by LSOAs (1 of 5), not by residents
    assert combined(two, "imd_most_deprived_10_share",
                    figures["imd_most_deprived_10_share"].aggregate) == pytest.approx(0.2)
    # local concentration does not combine across wards: shown for one ward only
    assert np.isnan(combined(two, "imd_local_concentration", "none"))
    assert combined(two.iloc[:1], "imd_local_concentration", "none") == 951
    assert np.isnan(combined(two.assign(income_scale=np.nan), "income_scale", "sum"))


def test_index_legend_says_what_a_unit_means():
    values = pd.Series([-1.0, 0.0, 0.5, 2.0, 3.0])
    html = legend_html(classify(values, "quantiles", 3), "unmet_need", "Quantiles")
    assert ("Unit: robust standard deviations from the study area&#x27;s median ward "
            "(0 = the median ward).") in html
    assert indicator_unit("contrib_need") == indicator_unit("unmet_need")
    assert "32,844 = the most deprived in England" in indicator_unit("imd_avg_rank")
    assert indicator_unit("groups_total_per_1000") == "Unit: per 1,000 residents."


def test_groups_of_wards_are_measured_from_their_lsoa_parts_together():
    from mapper.analysis.need import grouped_need

    together = grouped_need(lsoas(), wards(), {"both": ["W1", "W2"], "one": ["W2"]},
                            national_lsoas=N)
    # W1 and W2 together are the whole district: C's two halves meet again
    assert together.loc["both", "imd_local_concentration"] == pytest.approx(916)
    assert together.loc["both", "imd_avg_rank"] == pytest.approx(431.3)
    assert together.loc["one", "imd_local_concentration"] == pytest.approx(
        (150 * 701 + 5 * 700) / 155)
