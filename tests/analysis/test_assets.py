"""Asset supply per ward: counts, rates and distances on the 3x3 grid of 1 km wards.

Ward E0590000n (n = 3r + c + 1, column c west to east, row r south to north) covers
easting 530000 + 1000c .. +1000 and northing 180000 + 1000r .. +1000; its centre is
(530500 + 1000c, 180500 + 1000r).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import grid_wards
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from mapper.analysis.assets import (
    count_by,
    lsoa_access,
    nearest_distance,
    per_1000,
    slug,
    supply_table,
    ward_access,
)

W = [f"E0590000{n}" for n in range(1, 10)]


def centre(n: int) -> tuple[float, float]:
    r, c = divmod(n - 1, 3)
    return 530_500.0 + 1000 * c, 180_500.0 + 1000 * r


def register(rows: list[tuple], id_column: str, kind_column: str) -> gpd.GeoDataFrame:
    """rows: (id, ward_code, kind, x, y, duplicate_of)."""
    ids, wards, kinds, xs, ys, dups = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {
            id_column: list(ids),
            kind_column: list(kinds),
            "lsoa_code": pd.NA,
            "ward_code": list(wards),
            "borough_code": pd.NA,
            "duplicate_of": pd.Series(list(dups), dtype="object"),
        },
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs="EPSG:27700",
    )


@pytest.fixture
def groups() -> gpd.GeoDataFrame:
    na = pd.NA
    return register(
        [
            ("g1", W[0], "faith", 530_200, 180_200, na),
            ("g2", W[0], "faith", 530_300, 180_300, na),
            ("g3", W[0], "youth", 530_800, 180_800, na),
            ("g4", W[4], "community centre", 531_400, 181_600, na),
            ("g5", W[4], "community centre", 531_410, 181_600, "g4"),  # likely duplicate
            ("g6", W[4], "faith", 531_500, 181_500, na),
            ("g7", W[8], "food", 532_500, 182_500, na),
            ("g8", W[1], na, 531_500, 180_500, na),  # no category: in the total only
            ("g9", na, "faith", 600_000, 200_000, na),  # outside every ward
            ("g10", "E05999999", "faith", 600_000, 200_000, na),  # unknown ward
        ],
        "group_id",
        "category",
    )


@pytest.fixture
def premises() -> gpd.GeoDataFrame:
    na = pd.NA
    return register(
        [
            ("p1", W[4], "place of worship", 531_500, 181_500, na),
            ("p2", W[4], "place of worship", 531_600, 181_500, na),
            ("p3", W[4], "hall", 531_700, 181_500, na),
            ("p4", W[1], "library", 531_500, 180_500, na),
            ("p5", W[1], "library", 531_500, 180_501, "p4"),
        ],
        "premises_id",
        "type",
    )


@pytest.fixture
def population() -> pd.Series:
    values = dict.fromkeys(W, 1000.0)
    values.update({W[0]: 2000.0, W[4]: 8000.0, W[2]: 0.0, W[6]: np.nan})
    return pd.Series(values, name="population")


def test_slug():
    assert slug("Community centre") == "community_centre"
    assert slug("Arts & sport") == "arts_sport"
    assert slug("refugees and migrants") == "refugees_and_migrants"


def test_count_by_hand_computed(groups):
    counts = count_by(groups, pd.Index(W), column="category", prefix="groups")
    assert list(counts.index) == W
    assert counts.index.name == "ward_code"
    assert list(counts.columns) == [
        "groups_community_centre",
        "groups_faith",
        "groups_food",
        "groups_youth",
        "groups_total",
    ]
    expected_total = [3, 1, 0, 0, 2, 0, 0, 0, 1]
    assert counts["groups_total"].tolist() == expected_total
    assert counts.loc[W[0], ["groups_faith", "groups_youth"]].tolist() == [2, 1]
    # g5 is flagged as a duplicate of g4: counted once
    assert counts.loc[W[4], "groups_community_centre"] == 1
    assert counts.loc[W[1], "groups_total"] == 1  # uncategorised still counted
    assert counts.drop(columns="groups_total").loc[W[1]].sum() == 0
    assert all(dtype == np.int64 for dtype in counts.dtypes)


def test_count_by_duplicates_counted_when_asked(groups):
    counts = count_by(
        groups, pd.Index(W), column="category", prefix="groups", exclude_duplicates=False
    )
    assert counts.loc[W[4], "groups_community_centre"] == 2
    assert counts.loc[W[4], "groups_total"] == 3


def test_count_by_values_give_stable_columns(groups):
    counts = count_by(
        groups, W, column="category", prefix="groups", values=["older people", "faith"]
    )
    assert list(counts.columns)[:2] == ["groups_older_people", "groups_faith"]
    assert counts["groups_older_people"].eq(0).all()


def test_count_by_empty_register_zero_fills(groups):
    counts = count_by(groups.iloc[:0], W, column="category", prefix="groups")
    assert list(counts.columns) == ["groups_total"]
    assert counts["groups_total"].eq(0).all() and list(counts.index) == W


def test_count_by_missing_column_says_what_is_there(groups):
    with pytest.raises(ValueError, match="no column 'type'.*columns present: group_id"):
        count_by(groups, W, column="type", prefix="premises")


def test_wards_index_must_be_unique(groups):
    with pytest.raises(ValueError, match="repeats ward codes: E05900001"):
        count_by(groups, [W[0], W[0]], column="category", prefix="groups")


def test_per_1000_hand_computed_and_zero_population_is_nan(groups, population):
    counts = count_by(groups, W, column="category", prefix="groups")
    rates = per_1000(counts, population)
    assert list(rates.columns) == [f"{c}_per_1000" for c in counts.columns]
    assert rates.loc[W[0], "groups_total_per_1000"] == pytest.approx(1.5)  # 3 / 2,000
    assert rates.loc[W[0], "groups_faith_per_1000"] == pytest.approx(1.0)
    assert rates.loc[W[4], "groups_total_per_1000"] == pytest.approx(0.25)  # 2 / 8,000
    assert rates.loc[W[8], "groups_food_per_1000"] == pytest.approx(1.0)
    assert np.isnan(rates.loc[W[2], "groups_total_per_1000"])  # population 0
    assert np.isnan(rates.loc[W[6], "groups_total_per_1000"])  # population missing
    assert not np.isinf(rates.to_numpy()).any()


def test_per_1000_aligns_population_by_code(groups, population):
    counts = count_by(groups, W, column="category", prefix="groups")
    shuffled = population.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(per_1000(counts, shuffled), per_1000(counts, population))
    missing = per_1000(counts, population.drop(W[0]))
    assert np.isnan(missing.loc[W[0], "groups_total_per_1000"])


def test_supply_table(groups, premises, population):
    table = supply_table(grid_wards(), population, groups, premises)
    assert list(table.index) == W and table.index.name == "ward_code"
    assert table.loc[W[4], "premises_place_of_worship"] == 2
    assert table.loc[W[4], "premises_total"] == 3
    assert table.loc[W[1], "premises_library"] == 1  # p5 duplicates p4
    assert table.loc[W[4], "premises_total_per_1000"] == pytest.approx(3 / 8)
    assert table.loc[W[1], "groups_total_per_1000"] == pytest.approx(1.0)
    assert table.loc[W[4], "groups_faith_per_1000"] == pytest.approx(1 / 8)
    for column in ("groups_total", "premises_total"):
        assert f"{column}_per_1000" in table.columns
    assert np.isnan(table.loc[W[2], "premises_total_per_1000"])


def test_supply_table_vocabulary_columns(groups, premises, population):
    table = supply_table(
        W,
        population,
        groups,
        premises,
        group_categories=["faith", "older people"],
        premises_types=["warm space"],
    )
    assert table["groups_older_people"].eq(0).all()
    assert table["premises_warm_space_per_1000"].isna().sum() == 2  # the two no-people wards
    assert table["premises_warm_space_per_1000"].dropna().eq(0).all()


def test_supply_table_shuffled_rows_same_answer(groups, premises, population):
    expected = supply_table(grid_wards(), population, groups, premises)
    wards = grid_wards().sample(frac=1, random_state=1)
    got = supply_table(
        wards,
        population.sample(frac=1, random_state=2),
        groups.sample(frac=1, random_state=3),
        premises.sample(frac=1, random_state=4),
    )
    assert list(got.index) == list(wards["ward_code"])
    pd.testing.assert_frame_equal(got.loc[expected.index], expected)


# -- distances ------------------------------------------------------------------------

FAITH = centre(5)  # (531500, 181500)
YOUTH = centre(2)  # (531500, 180500), 1 km due south


@pytest.fixture
def amenities() -> gpd.GeoDataFrame:
    na = pd.NA
    return register(
        [
            ("a1", W[4], "faith", *FAITH, na),
            ("a2", W[1], "youth", *YOUTH, na),
            # a duplicate nearer the points must not count
            ("a3", W[4], "youth", 531_500, 181_900, "a2"),
        ],
        "group_id",
        "category",
    )


@pytest.fixture
def points() -> gpd.GeoDataFrame:
    fx, fy = FAITH
    return gpd.GeoDataFrame(
        {
            "population": [100.0, 300.0, 100.0, 0.0],
            "lsoa_code": ["LA", "LA", "LB", "LC"],
            "ward_code": [W[4], W[4], W[4], W[0]],
        },
        geometry=[
            Point(fx, fy - 300),  # faith 300, youth 700
            Point(fx, fy + 400),  # faith 400, youth 1400
            Point(fx + 300, fy + 400),  # faith 500, youth hypot(300, 1400)
            Point(530_500, 180_500),  # nobody lives here
        ],
        crs="EPSG:27700",
        index=["p1", "p2", "p3", "p4"],
    )


def test_nearest_distance_by_hand(points, amenities):
    got = nearest_distance(points, amenities, categories=["faith", "youth", "food"])
    assert list(got.columns) == [
        "distance_faith_m",
        "distance_youth_m",
        "distance_food_m",
        "distance_any_m",
    ]
    assert list(got.index) == ["p1", "p2", "p3", "p4"]
    np.testing.assert_allclose(got["distance_faith_m"][:3], [300, 400, 500])
    np.testing.assert_allclose(got["distance_youth_m"][:3], [700, 1400, math.hypot(300, 1400)])
    np.testing.assert_allclose(got["distance_any_m"][:3], [300, 400, 500])
    assert got.loc["p4", "distance_youth_m"] == pytest.approx(1000)
    # no food anywhere: NaN, never inf
    assert got["distance_food_m"].isna().all()


def test_nearest_distance_duplicates_counted_when_asked(points, amenities):
    got = nearest_distance(points, amenities, exclude_duplicates=False)
    assert got.loc["p2", "distance_youth_m"] == pytest.approx(0)


def test_nearest_distance_no_records_is_nan(points, amenities):
    got = nearest_distance(points, amenities.iloc[:0], categories=["faith"])
    assert got.isna().all().all()
    assert list(got.columns) == ["distance_faith_m", "distance_any_m"]


def test_nearest_distance_crs_mismatch_is_an_error(points, amenities):
    with pytest.raises(ValueError, match="EPSG:4326.*EPSG:27700"):
        nearest_distance(points, amenities.to_crs("EPSG:4326"))


def test_lsoa_access_population_weighted(points, amenities):
    got = lsoa_access(points, amenities, ["LA", "LB", "LC", "LD"], categories=["food"])
    assert got.index.name == "lsoa_code"
    assert list(got.index) == ["LA", "LB", "LC", "LD"]
    # LA: (100 * 300 + 300 * 400) / 400
    assert got.loc["LA", "mean_distance_faith_m"] == pytest.approx(375)
    assert got.loc["LA", "mean_distance_youth_m"] == pytest.approx((100 * 700 + 300 * 1400) / 400)
    assert got.loc["LB", "mean_distance_faith_m"] == pytest.approx(500)
    # LC has no residents and LD no points: NaN
    assert got.loc[["LC", "LD"]].isna().all().all()
    assert got["mean_distance_food_m"].isna().all()


def test_ward_access_every_ward(points, amenities):
    got = ward_access(points, amenities, grid_wards())
    assert list(got.index) == W and got.index.name == "ward_code"
    assert got.loc[W[4], "mean_distance_faith_m"] == pytest.approx(
        (100 * 300 + 300 * 400 + 100 * 500) / 500
    )
    assert got.drop(index=W[4]).isna().all().all()


def test_access_shuffled_rows_same_answer(points, amenities):
    expected = ward_access(points, amenities, W)
    got = ward_access(
        points.sample(frac=1, random_state=5), amenities.sample(frac=1, random_state=6), W[::-1]
    )
    pd.testing.assert_frame_equal(got.loc[W], expected)


# -- property: nearest equals a full scan ---------------------------------------------

coordinate = st.integers(min_value=530_000, max_value=533_000)
category = st.sampled_from(["faith", "youth", "food", None])


@settings(max_examples=60, deadline=None)
@given(
    origins=st.lists(st.tuples(coordinate, coordinate), min_size=0, max_size=25),
    targets=st.lists(st.tuples(coordinate, coordinate, category), min_size=0, max_size=25),
)
def test_nearest_distance_equals_brute_force(origins, targets):
    pts = gpd.GeoDataFrame(
        {"population": [1.0] * len(origins)},
        geometry=[Point(x, y) for x, y in origins],
        crs="EPSG:27700",
    )
    recs = gpd.GeoDataFrame(
        {"category": pd.Series([c for _, _, c in targets], dtype="object")},
        geometry=[Point(x, y) for x, y, _ in targets],
        crs="EPSG:27700",
    )
    got = nearest_distance(pts, recs, categories=["faith", "youth", "food"])
    a = np.array(origins, dtype=float).reshape(-1, 2)
    b = np.array([(x, y) for x, y, _ in targets], dtype=float).reshape(-1, 2)
    labels = np.array([c for _, _, c in targets], dtype=object)
    all_pairs = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    for name, mask in [
        ("faith", labels == "faith"),
        ("youth", labels == "youth"),
        ("food", labels == "food"),
        ("any", np.ones(len(b), dtype=bool)),
    ]:
        expected = all_pairs[:, mask].min(axis=1) if mask.any() else np.full(len(a), np.nan)
        np.testing.assert_allclose(got[f"distance_{name}_m"].to_numpy(), expected)
