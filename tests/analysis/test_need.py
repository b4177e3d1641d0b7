"""Need from LSOA deprivation: apportionment methods and summary measures, by hand."""

from __future__ import annotations

import factories as fx
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from mapper.analysis import apportion as ap
from mapper.analysis.need import area_need, borough_weights, extent_weight, unavailable_measures
from mapper.analysis.priority import (
    components_for,
    select_candidates,
    supply_condition_applies,
    unmet_need,
)

X0, Y0 = 530_000.0, 180_000.0


def grid_wards() -> gpd.GeoDataFrame:
    return fx.grid_wards()[["ward_code", "geometry"]]


def two_lsoas() -> gpd.GeoDataFrame:
    """A: ward 1 and the west half of ward 2 (1.5 km2); B: the east half of ward 2."""
    return gpd.GeoDataFrame(
        {"lsoa_code": ["E01900001", "E01900002"], "borough_code": ["E09900001"] * 2},
        geometry=[box(X0, Y0, X0 + 1500, Y0 + 1000), box(X0 + 1500, Y0, X0 + 2000, Y0 + 1000)],
        crs=27700)


def postcodes() -> gpd.GeoDataFrame:
    """One postcode in A's ward-1 part, three in its ward-2 part, two in B."""
    pts = [Point(X0 + 500, Y0 + 500), Point(X0 + 1100, Y0 + 500), Point(X0 + 1200, Y0 + 500),
           Point(X0 + 1300, Y0 + 500), Point(X0 + 1700, Y0 + 500), Point(X0 + 1800, Y0 + 500)]
    return gpd.GeoDataFrame({"postcode": [f"ZZ1 1A{c}" for c in "ABDEFG"]}, geometry=pts,
                            crs=27700)


def deprivation() -> pd.DataFrame:
    return pd.DataFrame({
        "lsoa_code": ["E01900001", "E01900002"], "imd_score": [40.0, 10.0],
        "imd_rank": [1_000, 20_000], "imd_decile": [1, 7], "income_score": [0.3, 0.1],
        "idaci_score": [0.4, 0.2], "pop_total": [1_200.0, 800.0],
        "pop_children_0_15": [400.0, 100.0]})


def weights_of(frame) -> dict:
    return {(r.lsoa_code, r.ward_code): round(r.weight, 9) for r in frame.itertuples()}


def test_areal_weights_by_hand():
    got = weights_of(ap.areal_weights(two_lsoas(), grid_wards()))
    assert got == {("E01900001", "E05900001"): round(2 / 3, 9),
                   ("E01900001", "E05900002"): round(1 / 3, 9),
                   ("E01900002", "E05900002"): 1.0}


def test_dasymetric_weights_follow_postcodes():
    points = ap.population_points(two_lsoas(), deprivation().set_index("lsoa_code")["pop_total"],
                                  postcodes())
    assert points.groupby("lsoa_code")["population"].sum().to_dict() == {
        "E01900001": 1200.0, "E01900002": 800.0}
    assert points["population"].tolist()[:4] == [300.0] * 4
    got = weights_of(ap.dasymetric_weights(two_lsoas(), grid_wards(), points))
    assert got == {("E01900001", "E05900001"): 0.25, ("E01900001", "E05900002"): 0.75,
                   ("E01900002", "E05900002"): 1.0}


def test_bestfit_with_areal_fallback_for_unknown_wards():
    lookup = pd.DataFrame({"lsoa_code": ["E01900001", "E01900002"],
                           "ward_code": ["E05900002", "E05999999"]})
    got = ap.bestfit_weights(lookup, two_lsoas(), grid_wards())
    assert weights_of(got) == {("E01900001", "E05900002"): 1.0, ("E01900002", "E05900002"): 1.0}
    assert got.set_index("lsoa_code").loc["E01900002", "method"] == "areal"


def test_an_lsoa_without_postcodes_falls_back_to_area_and_outside_to_nearest():
    lsoas = pd.concat([two_lsoas(), gpd.GeoDataFrame(
        {"lsoa_code": ["E01900003"], "borough_code": ["E09900001"]},
        geometry=[box(X0 + 5000, Y0, X0 + 5100, Y0 + 100)], crs=27700)], ignore_index=True)
    pop = pd.Series([1200.0, 800.0, 50.0], index=lsoas["lsoa_code"])
    points = ap.population_points(lsoas, pop, postcodes().iloc[:4])
    weights = ap.dasymetric_weights(lsoas, grid_wards(), points)
    by = weights.set_index(["lsoa_code", "ward_code"])
    assert by.loc[("E01900002", "E05900002"), "method"] == "areal"  # no postcode of its own
    assert by.loc[("E01900003", "E05900003"), "method"] == "nearest ward"
    assert weights.groupby("lsoa_code")["weight"].sum().round(12).eq(1).all()


def test_area_need_by_hand():
    weights = ap.areal_weights(two_lsoas(), grid_wards())
    need = area_need(deprivation(), weights, national_lsoas=32_844)
    ward1, ward2 = need.loc["E05900001"], need.loc["E05900002"]
    # ward 1: 2/3 of A = 800 people, all at 40
    assert ward1["population"] == pytest.approx(800)
    assert ward1["imd_score"] == pytest.approx(40)
    # ward 2: 1/3 of A (400 people at 40) and all of B (800 at 10)
    assert ward2["population"] == pytest.approx(1200)
    assert ward2["imd_score"] == pytest.approx((400 * 40 + 800 * 10) / 1200)
    # MHCLG's average rank turns the ranks round (32,845 - rank): 31,845 and 12,845
    assert ward2["imd_avg_rank"] == pytest.approx((400 * 31845 + 800 * 12845) / 1200)
    # IDACI is weighted by children: 1/3 x 400 = 133.3 children at 0.4, 100 at 0.2
    assert ward2["idaci_score"] == pytest.approx((400 / 3 * 0.4 + 100 * 0.2) / (400 / 3 + 100))
    # extent: A (rank 1,000: 4th percentile) counts fully, B (61st percentile) not at all
    assert ward2["imd_extent"] == pytest.approx(400 / 1200)
    assert ward2["imd_most_deprived_10_share"] == pytest.approx((1 / 3) / (1 / 3 + 1))
    assert ward2["lsoas"] == pytest.approx(4 / 3)
    assert need["imd_rank_in_area"].to_dict() == {"E05900001": 1, "E05900002": 2}
    assert need["population"].sum() == pytest.approx(deprivation()["pop_total"].sum())


def test_ranks_only_give_the_rank_measures_and_say_the_others_are_unavailable():
    # IoD File 1 (rank, decile) and File 6 (population): no scores
    weights = ap.areal_weights(two_lsoas(), grid_wards())
    file1 = deprivation()[["lsoa_code", "imd_rank", "imd_decile", "pop_total"]]
    need = area_need(file1, weights, national_lsoas=32_844)
    ward2 = need.loc["E05900002"]
    assert ward2["imd_avg_rank"] == pytest.approx((400 * 31845 + 800 * 12845) / 1200)
    assert ward2["imd_extent"] == pytest.approx(400 / 1200)
    assert ward2["imd_most_deprived_10_share"] == pytest.approx(0.25)
    assert need["imd_score"].isna().all() and need["imd_rank_in_area"].isna().all()
    # without deciles, the shares come from the ranks: 1,000 is in decile 1, 20,000 in 7
    ranks = area_need(file1.drop(columns="imd_decile"), weights, national_lsoas=32_844)
    assert ranks["imd_most_deprived_10_share"].tolist() == pytest.approx([1.0, 0.25])
    missing = unavailable_measures(file1.columns)
    assert set(missing) == {"imd_score", "domain_scores", "imd_rank_in_area", "income_scale",
                            "employment_scale"}
    assert missing["imd_score"] == (
        "IMD score (population-weighted average): the deprivation data has no LSOA IMD scores "
        "(given by IoD File 5 (scores) or File 7 (all scores, ranks and deciles))")


def test_scores_only_say_the_rank_measures_are_unavailable():
    scores = deprivation()[["lsoa_code", "imd_score", "income_score", "pop_total"]]
    assert set(unavailable_measures(scores.columns)) == {
        "imd_avg_rank", "imd_extent", "imd_local_concentration", "imd_most_deprived_10_share",
        "imd_most_deprived_20_share", "employment_scale"}
    need = area_need(scores, ap.areal_weights(two_lsoas(), grid_wards()))
    assert need["imd_avg_rank"].isna().all()
    assert need["imd_rank_in_area"].tolist() == [1, 2]


def test_without_denominators_the_given_population_weights_the_averages():
    weights = ap.areal_weights(two_lsoas(), grid_wards())
    ranks = deprivation()[["lsoa_code", "imd_rank"]]
    people = pd.Series([100.0, 300.0], index=["E01900001", "E01900002"])
    need = area_need(ranks, weights, population=people)
    # ward 2: 1/3 of A (33.3 people at rank 1,000) and all of B (300 at 20,000)
    assert need.loc["E05900002", "imd_avg_rank"] == pytest.approx(
        (100 / 3 * 31845 + 300 * 12845) / (100 / 3 + 300))
    assert need["population"].sum() == pytest.approx(400)
    with pytest.raises(ValueError, match="needs a population"):
        area_need(ranks, weights)


def test_need_falls_back_to_the_average_rank():
    # MHCLG's average rank: higher = more deprived
    table = pd.DataFrame({"imd_score": np.nan, "imd_avg_rank": [3000.0, 2000.0, 1000.0],
                          "groups_total_per_1000_eb": 1.0, "incidents_per_1000_eb": 0.0},
                         index=["a", "b", "c"])
    components = components_for(table)
    assert components["need"] == ("imd_avg_rank", 1)
    index = unmet_need(table, {"need": 1.0}, components)
    # robust z: median 2,000, median absolute deviation 1,000, so 1,000 / (1.4826 x 1,000)
    assert index["contrib_need"].round(6).tolist() == pytest.approx(
        [0.674491, 0.0, -0.674491])  # the most deprived (highest average rank) has the most need
    assert components_for(table.assign(imd_score=[3.0, 2.0, 1.0]))["need"] == ("imd_score", 1)


def test_extent_sliding_scale():
    n = 32_844
    ranks = pd.Series([1, int(n * 0.10), int(n * 0.10) + 1, int(n * 0.30), int(n * 0.30) + 10])
    assert extent_weight(ranks, n).round(6).tolist() == [1.0, 1.0, 0.95, 0.05, 0.0]


def test_borough_need_and_zero_population_wards():
    need = area_need(deprivation(), borough_weights(deprivation(), two_lsoas()), by="borough_code")
    assert need.loc["E09900001", "imd_score"] == pytest.approx((1200 * 40 + 800 * 10) / 2000)
    empty = deprivation().assign(pop_total=0.0)
    need = area_need(empty, ap.areal_weights(two_lsoas(), grid_wards()))
    assert need["imd_score"].isna().all() and (need["population"] == 0).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 2900), st.floats(0, 2900), st.floats(0, 5000)),
                min_size=1, max_size=12),
       st.sampled_from(["areal", "dasymetric"]))
def test_population_is_conserved(cells, method):
    wards = grid_wards()
    lsoas = gpd.GeoDataFrame(
        {"lsoa_code": [f"E0190{i:04d}" for i in range(len(cells))]},
        geometry=[box(X0 + x, Y0 + y, X0 + x + 100, Y0 + y + 100) for x, y, _ in cells],
        crs=27700)
    pop = pd.Series([p for _, _, p in cells], index=lsoas["lsoa_code"])
    points = ap.population_points(lsoas, pop, None)
    weights = ap.lsoa_ward_weights(method, lsoas=lsoas, wards=wards, points=points)
    dep = pd.DataFrame({"lsoa_code": lsoas["lsoa_code"], "imd_score": 10.0, "imd_rank": 5,
                        "imd_decile": 1, "pop_total": pop.to_numpy()})
    need = area_need(dep, weights)
    assert need["population"].sum() == pytest.approx(pop.sum(), rel=1e-9, abs=1e-6)
    assert np.isclose(points["population"].sum(), pop.sum())


# -- the unmet-need index ---------------------------------------------------------------------


def test_unmet_need_splits_into_contributions():
    table = pd.DataFrame({"imd_score": [10.0, 20.0, 30.0],
                          "groups_total_per_1000_eb": [3.0, 2.0, 1.0],
                          "incidents_per_1000_eb": [5.0, 5.0, np.nan]},
                         index=pd.Index(["a", "b", "c"], name="ward_code"))
    out = unmet_need(table, {"need": 2, "supply": 1, "incidents": 1})
    # robust z of 10, 20, 30: median 20, MAD 10, so -+10 / 14.826 = -+0.674491
    z = np.array([-0.674491, 0.0, 0.674491])
    assert out["contrib_need"].tolist() == pytest.approx((0.5 * z).tolist(), abs=1e-6)
    # supply reversed: the most groups (a) has the least unmet need
    assert out["contrib_supply"].tolist() == pytest.approx((0.25 * z).tolist(), abs=1e-6)
    assert (out["contrib_incidents"] == 0).all()  # constant where known; missing for c
    assert out["unmet_need"].tolist() == pytest.approx(
        (out["contrib_need"] + out["contrib_supply"]).tolist())
    assert out["incomplete"].tolist() == [False, False, True]
    assert out["unmet_need_rank"].tolist() == [3, 2, 1]


def test_candidates_need_every_condition():
    table = pd.DataFrame({"unmet_need": [3.0, 2.0, 1.0, 0.0, -1.0],
                          "groups_total_per_1000_eb": [0.1, 5.0, 0.2, 0.3, 0.4],
                          # MHCLG average ranks: 32,845 - 1,000 etc. (30,000 is decile 10)
                          "imd_avg_rank": [31845, 30845, 29845, 2845, 28845],
                          "population": [100, 100, 100, 100, 0]},
                         index=list("abcde"))
    chosen = select_candidates(table, top_share=0.6)
    assert chosen[chosen].index.tolist() == ["a", "c"]
    chosen = select_candidates(table, top_share=0.6, supply_below_median=False, max_imd_decile=1)
    assert chosen[chosen].index.tolist() == ["a", "b", "c"]


def test_supply_condition_is_not_applied_when_every_ward_has_the_same_supply():
    # no group register: 0 groups per 1,000 everywhere, so "below the median" would
    # leave no candidate at all; the condition is skipped (and the analysis says so)
    table = pd.DataFrame({"unmet_need": [3.0, 2.0, 1.0, 0.0, -1.0],
                          "groups_total_per_1000_eb": [0.0] * 5,
                          "population": [100] * 5},
                         index=list("abcde"))
    assert not supply_condition_applies(table)
    chosen = select_candidates(table, top_share=0.4)
    assert chosen[chosen].index.tolist() == ["a", "b"]
    table.loc["e", "groups_total_per_1000_eb"] = 1.0
    assert supply_condition_applies(table)
    assert select_candidates(table, top_share=0.4).sum() == 0  # a, b not below median 0
