"""Coverage gaps (mapper.analysis.coverage) on a 3x3 grid of 1 km wards, worked by hand.

Wards E05900001..E05900009 run west to east, then south to north, from (530000, 180000)::

    7 8 9
    4 5 6
    1 2 3

Two groups, radius 300 m (their circles do not overlap: 707 m apart):

* ``food`` at the centre of ward 5 (531500, 181500): a whole circle inside ward 5;
* ``faith`` at the corner of wards 1, 2, 4 and 5 (531000, 181000): a quarter circle in each.

Population points (ward, x, y, population, nearest distances)::

    ward 1  530850 180850   40  faith 212 m              covered by faith
    ward 1  530100 180100   60  far from both            uncovered
    ward 2  531100 180900   10  faith 141 m, food 721 m  covered by faith
    ward 4  530500 181500   30  faith 707 m              uncovered
    ward 5  531500 181700  100  food 200 m               covered by food
    ward 5  531800 181500   50  food exactly 300 m       covered by food (boundary counts)
    ward 5  531900 181900   25  food 566 m, faith 1273 m uncovered
    ward 5  531100 181100   12  faith 141 m, food 566 m  covered by faith
    ward 6  532500 181500   20  food 1000 m              uncovered
    ward 7  530500 182500   15                           uncovered
    ward 8  531500 182500    5  food 1000 m              uncovered
    ward 9  532500 182500   70                           uncovered
    ward 3  (nobody)
"""

from __future__ import annotations

import math

import factories as fx
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from mapper.analysis.coverage import (
    BUFFER_QUAD_SEGS,
    GAP_COLUMNS,
    TABLE_COLUMNS,
    coverage_gaps,
    coverage_summary,
    rank_gaps,
    uncovered_population,
)

X0, Y0 = 530_000.0, 180_000.0
CODES = [f"E0590000{n}" for n in range(1, 10)]
RADIUS = 300.0
CIRCLE_KM2 = math.pi * (RADIUS / 1000) ** 2
QUARTER_KM2 = CIRCLE_KM2 / 4
POINTS = [
    ("E05900001", 530850, 180850, 40),
    ("E05900001", 530100, 180100, 60),
    ("E05900002", 531100, 180900, 10),
    ("E05900004", 530500, 181500, 30),
    ("E05900005", 531500, 181700, 100),
    ("E05900005", 531800, 181500, 50),
    ("E05900005", 531900, 181900, 25),
    ("E05900005", 531100, 181100, 12),
    ("E05900006", 532500, 181500, 20),
    ("E05900007", 530500, 182500, 15),
    ("E05900008", 531500, 182500, 5),
    ("E05900009", 532500, 182500, 70),
]


def grid_wards() -> gpd.GeoDataFrame:
    return fx.grid_wards()[["ward_code", "geometry"]]


def population_points(rows=POINTS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"ward_code": [r[0] for r in rows], "population": [float(r[3]) for r in rows]},
        geometry=[Point(r[1], r[2]) for r in rows],
        crs="EPSG:27700",
    )


def groups(rows=(("food", 531500, 181500), ("faith", 531000, 181000))) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"group_id": [f"G{i}" for i in range(len(rows))], "category": [r[0] for r in rows]},
        geometry=[Point(r[1], r[2]) for r in rows],
        crs="EPSG:27700",
    )


def by_ward(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.Index(CODES, name="ward_code"), dtype=float)


def close_to_circle(area_km2: float, expected_km2: float) -> bool:
    """Within 0.5% of the exact circle area (the 64-gon buffer is 0.16% short)."""
    return abs(area_km2 - expected_km2) <= 0.005 * expected_km2


# -- uncovered_population ----------------------------------------------------------------


def test_uncovered_points_by_hand():
    result = uncovered_population(population_points(), groups(), radius_m=RADIUS)
    assert result.name == "uncovered"
    assert result.dtype == bool
    expected = [False, True, False, True, False, False, True, False, True, True, True, True]
    assert result.tolist() == expected


def test_uncovered_points_by_category():
    food = uncovered_population(population_points(), groups(), radius_m=RADIUS, category="food")
    assert food.tolist() == [
        True,
        True,
        True,
        True,
        False,
        False,
        True,
        True,
        True,
        True,
        True,
        True,
    ]
    faith = uncovered_population(
        population_points(), groups(), radius_m=RADIUS, category={" Faith "}
    )
    assert faith.tolist() == [
        False,
        True,
        False,
        True,
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        True,
    ]


def test_boundary_distance_is_covered():
    # the ward 5 point at exactly 300 m from the food group is covered; at 299.99 m radius not
    points = population_points([POINTS[5]])
    assert not uncovered_population(points, groups(), radius_m=300.0).iloc[0]
    assert uncovered_population(points, groups(), radius_m=299.99).iloc[0]


def test_index_alignment_with_shuffled_string_index():
    points = population_points()
    points.index = [f"pc{i:02d}" for i in range(len(points))]
    expected = uncovered_population(points, groups(), radius_m=RADIUS)
    shuffled = points.sample(frac=1, random_state=7)
    result = uncovered_population(shuffled, groups(), radius_m=RADIUS)
    assert list(result.index) == list(shuffled.index)
    pd.testing.assert_series_equal(result.sort_index(), expected.sort_index())


def test_no_groups_or_no_matching_groups_leave_everyone_uncovered():
    none = groups(())
    assert uncovered_population(population_points(), none, radius_m=RADIUS).all()
    other = uncovered_population(population_points(), groups(), radius_m=RADIUS, category="youth")
    assert other.all()
    assert uncovered_population(
        population_points(), groups(), radius_m=RADIUS, category=set()
    ).all()


def test_groups_without_location_cover_nobody():
    frame = groups()
    frame.loc[0, "geometry"] = None
    frame.loc[1, "geometry"] = Point()
    assert uncovered_population(population_points(), frame, radius_m=RADIUS).all()


def test_no_population_points():
    result = uncovered_population(population_points([]), groups(), radius_m=RADIUS)
    assert result.empty and result.dtype == bool


# -- coverage_gaps -----------------------------------------------------------------------


def test_coverage_table_by_hand():
    table, _ = coverage_gaps(grid_wards(), population_points(), groups(), radius_m=RADIUS)
    assert list(table.columns) == TABLE_COLUMNS
    assert list(table.index) == CODES and table.index.name == "ward_code"
    pd.testing.assert_series_equal(
        table["population"], by_ward([100, 10, 0, 30, 187, 20, 15, 5, 70]), check_names=False
    )
    pd.testing.assert_series_equal(
        table["uncovered_population"],
        by_ward([60, 0, 0, 30, 25, 20, 15, 5, 70]),
        check_names=False,
    )
    share = table["uncovered_share"]
    assert share["E05900001"] == pytest.approx(0.6)
    assert share["E05900005"] == pytest.approx(25 / 187)
    assert math.isnan(share["E05900003"])  # nobody lives there: NaN, not an error
    assert table["area_km2"].tolist() == pytest.approx([1.0] * 9)


def test_uncovered_area_against_exact_circles():
    table, _ = coverage_gaps(grid_wards(), population_points(), groups(), radius_m=RADIUS)
    covered = table["area_km2"] - table["uncovered_area_km2"]
    for code in ("E05900001", "E05900002", "E05900004"):
        assert close_to_circle(covered[code], QUARTER_KM2)
    assert close_to_circle(covered["E05900005"], CIRCLE_KM2 + QUARTER_KM2)
    for code in ("E05900003", "E05900006", "E05900007", "E05900008", "E05900009"):
        assert table.loc[code, "uncovered_area_km2"] == pytest.approx(1.0)
        assert table.loc[code, "uncovered_area_share"] == pytest.approx(1.0)
    assert table.loc["E05900005", "uncovered_area_share"] == pytest.approx(
        table.loc["E05900005", "uncovered_area_km2"]
    )


def test_buffer_segments_are_documented_and_tight():
    # a 4 * quad_segs-gon inscribed in the circle keeps this share of its area
    share = math.sin(2 * math.pi / (4 * BUFFER_QUAD_SEGS)) * 4 * BUFFER_QUAD_SEGS / (2 * math.pi)
    assert 0.995 < share < 1


def test_gap_geometry_is_ward_minus_circles():
    _, gaps = coverage_gaps(grid_wards(), population_points(), groups(), radius_m=RADIUS)
    assert list(gaps.columns) == GAP_COLUMNS
    assert gaps.crs == "EPSG:27700"
    assert gaps["ward_code"].tolist() == CODES  # no ward is fully covered
    gap5 = gaps.set_index("ward_code").loc["E05900005"]
    assert not gap5.geometry.contains(Point(531500, 181500))  # the food group's circle
    assert not gap5.geometry.contains(Point(531050, 181050))  # the faith quarter circle
    assert gap5.geometry.contains(Point(531900, 181900))
    assert gap5["uncovered_population"] == 25
    assert gap5["uncovered_area_km2"] == pytest.approx(gap5.geometry.area / 1e6)


def test_fully_covered_ward_has_no_gap():
    # 800 m around the centre of ward 5 reaches its corners (707 m): nothing is left
    centre = groups((("food", 531500, 181500),))
    table, gaps = coverage_gaps(grid_wards(), population_points(), centre, radius_m=800)
    assert "E05900005" not in set(gaps["ward_code"])
    assert table.loc["E05900005", "uncovered_area_km2"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["E05900005", "uncovered_population"] == 0
    assert len(gaps) == 8


def test_category_filter_in_table():
    table, _ = coverage_gaps(
        grid_wards(), population_points(), groups(), radius_m=RADIUS, category="food"
    )
    assert table["uncovered_population"].tolist() == [100, 10, 0, 30, 37, 20, 15, 5, 70]
    covered = table["area_km2"] - table["uncovered_area_km2"]
    assert close_to_circle(covered["E05900005"], CIRCLE_KM2)
    assert covered["E05900001"] == pytest.approx(0.0)
    table, _ = coverage_gaps(
        grid_wards(), population_points(), groups(), radius_m=RADIUS, category="faith"
    )
    assert table["uncovered_population"].tolist() == [60, 0, 0, 30, 175, 20, 15, 5, 70]


def test_no_groups_at_all():
    wards = grid_wards()
    table, gaps = coverage_gaps(wards, population_points(), groups(()), radius_m=RADIUS)
    pd.testing.assert_series_equal(
        table["uncovered_population"], table["population"], check_names=False
    )
    assert table["uncovered_area_km2"].tolist() == pytest.approx([1.0] * 9)
    assert gaps.geometry.geom_equals(wards.geometry).all()


def test_population_outside_the_wards_is_left_out():
    rows = POINTS + [("E05999999", 535000, 185000, 1000), (None, 535000, 185000, 1000)]
    table, _ = coverage_gaps(grid_wards(), population_points(rows), groups(), radius_m=RADIUS)
    assert table["population"].sum() == 437


def test_summary():
    table, _ = coverage_gaps(grid_wards(), population_points(), groups(), radius_m=RADIUS)
    summary = coverage_summary(table)
    assert summary["population"] == 437
    assert summary["uncovered_population"] == 225
    assert summary["uncovered_share"] == pytest.approx(225 / 437)
    assert summary["area_km2"] == pytest.approx(9.0)
    assert close_to_circle(9.0 - summary["uncovered_area_km2"], CIRCLE_KM2 * 2)
    assert summary["uncovered_area_share"] == pytest.approx(summary["uncovered_area_km2"] / 9)
    nobody = coverage_summary(table.assign(population=0.0, uncovered_population=0.0))
    assert math.isnan(nobody["uncovered_share"])


def test_shuffled_wards_keep_their_own_rows():
    wards = grid_wards().sample(frac=1, random_state=4)
    table, _ = coverage_gaps(wards, population_points(), groups(), radius_m=RADIUS)
    assert list(table.index) == wards["ward_code"].tolist()
    assert table.loc["E05900009", "uncovered_population"] == 70


def test_multipolygon_ward():
    wards = grid_wards()
    wards.loc[8, "geometry"] = wards.loc[8, "geometry"].union(box(533500, 182000, 534000, 182500))
    table, gaps = coverage_gaps(wards, population_points(), groups(), radius_m=RADIUS)
    assert table.loc["E05900009", "area_km2"] == pytest.approx(1.25)
    assert gaps.set_index("ward_code").loc["E05900009"].geometry.geom_type == "MultiPolygon"


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["wards", "population_points", "groups"])
def test_wrong_crs_names_what_arrived(layer):
    frames = {"wards": grid_wards(), "population_points": population_points(), "groups": groups()}
    frames[layer] = frames[layer].to_crs("EPSG:4326")
    with pytest.raises(ValueError, match=f"{layer} must be in EPSG:27700.*got 'EPSG:4326'"):
        coverage_gaps(frames["wards"], frames["population_points"], frames["groups"])


def test_missing_columns_are_named():
    points = population_points().drop(columns="population")
    with pytest.raises(ValueError, match="no 'population' column; columns are: ward_code"):
        coverage_gaps(grid_wards(), points, groups())
    with pytest.raises(ValueError, match="no 'category' column"):
        uncovered_population(
            population_points(), groups().drop(columns="category"), radius_m=RADIUS, category="food"
        )


def test_argument_errors():
    with pytest.raises(ValueError, match="radius_m"):
        uncovered_population(population_points(), groups(), radius_m=-5)
    unlocated = population_points()
    unlocated.loc[0, "geometry"] = None
    with pytest.raises(ValueError, match="1 rows without a location"):
        uncovered_population(unlocated, groups(), radius_m=RADIUS)
    wards = pd.concat([grid_wards(), grid_wards().iloc[:1]])
    with pytest.raises(ValueError, match="unique"):
        coverage_gaps(wards, population_points(), groups())


# -- rank_gaps ---------------------------------------------------------------------------


@pytest.fixture
def table() -> pd.DataFrame:
    return coverage_gaps(grid_wards(), population_points(), groups(), radius_m=RADIUS)[0]


def test_rank_gaps_high_need_by_uncovered_population(table):
    need = by_ward([9, 1, 8, 2, 9, 3, 4, 5, 10]).rename("imd_score")
    # top third of 9 wards = 3: scores 10, 9, 9; ward 5 ties ward 1 at 9 and comes in too
    ranked = rank_gaps(table, need, top_share=1 / 3)
    assert list(ranked.index) == ["E05900009", "E05900001", "E05900005"]
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert ranked["uncovered_population"].tolist() == [70, 60, 25]
    assert ranked["imd_score"].tolist() == [10, 9, 9]
    assert list(rank_gaps(table, need, top_share=0.1).index) == ["E05900009"]


def test_rank_gaps_ties_by_ward_code_and_missing_need(table):
    need = by_ward([9, 9, 9, 1, 1, 1, 1, 1, np.nan])  # ward 9 has no score
    ranked = rank_gaps(table, need, top_share=0.25)  # ceil(0.25 * 8) = 2, ties included
    assert list(ranked.index) == ["E05900001", "E05900002", "E05900003"]  # 60, then 0 and 0
    assert "need" in ranked.columns


def test_rank_gaps_arguments(table):
    with pytest.raises(ValueError, match="top_share"):
        rank_gaps(table, by_ward([1] * 9), top_share=0)
    empty = rank_gaps(table, pd.Series(dtype=float, name="score"))
    assert empty.empty and {"rank", "score"} <= set(empty.columns)


# -- properties --------------------------------------------------------------------------

hundreds = st.integers(0, 30).map(lambda v: v * 100.0)  # exact distances, boundary ties
coordinate = st.one_of(st.floats(0, 3000, allow_nan=False, allow_infinity=False), hundreds)


@settings(max_examples=100, deadline=None)
@given(
    points=st.lists(st.tuples(coordinate, coordinate), max_size=60),
    sites=st.lists(
        st.tuples(coordinate, coordinate, st.sampled_from(["faith", "food", "youth"])),
        max_size=15,
    ),
    radius=st.one_of(st.floats(0, 1500, allow_nan=False), hundreds),
    category=st.one_of(
        st.none(),
        st.sampled_from(["faith", "food"]),
        st.sets(st.sampled_from(["faith", "food", "youth"])),
    ),
)
def test_uncovered_matches_all_pairs_check(points, sites, radius, category):
    frame = population_points([("E05900001", X0 + x, Y0 + y, 1) for x, y in points])
    site_frame = groups(tuple((c, X0 + x, Y0 + y) for x, y, c in sites))
    result = uncovered_population(frame, site_frame, radius_m=radius, category=category)
    wanted = {category} if isinstance(category, str) else category
    xy = frame.get_coordinates().to_numpy()
    expected = []
    for px, py in xy:
        covered = False
        for (_, _, c), (sx, sy) in zip(sites, site_frame.get_coordinates().to_numpy(), strict=True):
            dx, dy = sx - px, sy - py
            if (wanted is None or c in wanted) and math.sqrt(dx * dx + dy * dy) <= radius:
                covered = True
        expected.append(not covered)
    assert result.tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(
        st.tuples(
            st.floats(0, 2999.99, allow_nan=False),
            st.floats(0, 2999.99, allow_nan=False),
            st.floats(0, 500, allow_nan=False),
        ),
        max_size=80,
    ),
    sites=st.lists(st.tuples(coordinate, coordinate), max_size=6),
    radius=st.floats(0, 1500, allow_nan=False),
)
def test_ward_sums_conserve_population(points, sites, radius):
    rows = [(CODES[int(y // 1000) * 3 + int(x // 1000)], X0 + x, Y0 + y, p) for x, y, p in points]
    frame = population_points(rows)
    site_frame = groups(tuple(("food", X0 + x, Y0 + y) for x, y in sites))
    table, gaps = coverage_gaps(grid_wards(), frame, site_frame, radius_m=radius)
    total = sum(p for _, _, p in points)
    assert table["population"].sum() == pytest.approx(total)
    uncovered = uncovered_population(frame, site_frame, radius_m=radius)
    assert table["uncovered_population"].sum() == pytest.approx(
        frame["population"][uncovered].sum()
    )
    assert (table["uncovered_population"] <= table["population"] + 1e-9).all()
    assert table["uncovered_area_km2"].between(0, 1 + 1e-9).all()
    assert set(gaps["ward_code"]) <= set(CODES)
