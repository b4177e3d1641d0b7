"""The one postcode module (mapper.postcodes): normalising one value and a column alike,
and finding a postcode's point in the workspace's postcode centroids."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from mapper.errors import MapperError
from mapper.postcodes import (
    example_postcode,
    normalise_postcode,
    normalise_postcodes,
    outward_code,
    postcode_point,
    postcode_table,
    same_postcode,
)

X0, Y0 = 530_000.0, 180_000.0
TYPED = [("sw1a1aa", "SW1A 1AA"), (" SW1A  1AA ", "SW1A 1AA"), ("e16an", "E1 6AN"),
         ("e1 6an", "E1 6AN"), ("LS101AA", "LS10 1AA"), ("XX", None), ("SW1A", None),
         ("nonsense", None), ("", None), (None, None), (float("nan"), None)]


@pytest.mark.parametrize("typed, expected", TYPED)
def test_normalise_postcode(typed, expected):
    assert normalise_postcode(typed) == expected


def test_a_column_normalises_as_each_value_does():
    got = normalise_postcodes(pd.Series([t for t, _ in TYPED], dtype="object"))
    assert [None if pd.isna(v) else v for v in got] == [e for _, e in TYPED]


def test_outward_code_is_the_district():
    assert outward_code("E1 6AN") == "E1"
    assert outward_code(" sw1a 1aa ") == "SW1A"
    assert outward_code("E16AN") == "E16AN"  # no space: not split, left as it is
    assert outward_code(None) is None


def test_same_postcode_ignores_case_and_spaces():
    assert same_postcode("sw1a1aa", "SW1A 1AA")
    assert not same_postcode("SW1A 1AA", "SW1A 1AB")
    assert same_postcode(None, "")


@pytest.fixture
def table() -> pd.DataFrame:
    layer = gpd.GeoDataFrame(
        {"postcode": ["SW1A 1AA", "E1 6AN", "E1 6AN"], "ward_code": ["E05900001"] * 3},
        geometry=[Point(X0 + 290, Y0), Point(X0 - 390, Y0), Point(X0, Y0)],
        crs="EPSG:27700")
    return postcode_table(layer)


def test_postcode_table_keeps_the_first_point_of_a_postcode(table):
    assert table.loc["E1 6AN", "x"] == X0 - 390
    assert list(table.index) == ["SW1A 1AA", "E1 6AN"]


def test_postcode_point_normalises_what_was_typed(table):
    assert postcode_point("sw1a1aa", table) == (X0 + 290, Y0)


def test_an_unknown_postcode_is_a_mapper_error(table):
    with pytest.raises(MapperError, match="postcode 'N1 9GU' is not in the workspace's"):
        postcode_point("n19gu", table)


def test_a_malformed_postcode_is_a_mapper_error_that_says_why(table):
    with pytest.raises(MapperError, match="'XX' is not in .* not shaped like a UK postcode"):
        postcode_point("XX", table)


def test_postcode_point_from_a_postcode_layer():
    layer = gpd.GeoDataFrame(
        {"postcode": ["E1 6AN", "SW1A 1AA"]},
        geometry=[Point(X0, Y0), Point(X0 + 5, Y0 + 6)],
        crs="EPSG:27700",
    )
    assert postcode_point("sw1a 1aa", layer) == (X0 + 5, Y0 + 6)
    with pytest.raises(MapperError, match="'N1 9GU'"):
        postcode_point("N1 9GU", layer)


def test_example_postcode_is_the_one_nearest_the_middle(table):
    assert example_postcode(table) == "SW1A 1AA"  # median x: X0 - 50; nearest is + 290
    assert example_postcode(postcode_table(None)) is None
