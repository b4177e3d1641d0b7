"""Point-in-area assignment (mapper.areas) against brute force, on tiny geometry.

The areas are a 3x3 grid of unit squares at (530000, 180000), some split along a diagonal
into two triangles, some merged into multipolygons or given a hole, in random row order
and with random codes; the points sit on a lattice of quarter units, so many lie exactly
on shared edges (straight and diagonal) and on corners shared by up to eight areas.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from mapper.areas import area_of_points, assign_areas

X0, Y0 = 530_000.0, 180_000.0
UNIT = 1_000.0


def brute_force(points: gpd.GeoSeries, areas: gpd.GeoDataFrame, code: str) -> list:
    """Each point against every area: the lowest code among those it intersects."""
    out = []
    for point in points:
        if point is None or point.is_empty:
            out.append(None)
            continue
        hits = sorted(
            str(c)
            for c, g in zip(areas[code], areas.geometry, strict=True)
            if g is not None and g.intersects(point)
        )
        out.append(hits[0] if hits else None)
    return out


def tree_of_areas(points: gpd.GeoSeries, areas: gpd.GeoDataFrame, code: str) -> list:
    """The previous implementation: a tree of the areas queried with the points."""
    valid = ~(points.isna() | points.is_empty).to_numpy()
    out = [None] * len(points)
    point_pos, area_pos = areas.sindex.query(points.array[valid], predicate="intersects")
    codes = areas[code].astype(str).to_numpy()
    positions = np.flatnonzero(valid)
    for p, a in zip(point_pos, area_pos, strict=True):
        i = positions[p]
        out[i] = codes[a] if out[i] is None else min(out[i], codes[a])
    return out


def as_list(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series]


def cell(c: int, r: int) -> Polygon:
    return box(X0 + c * UNIT, Y0 + r * UNIT, X0 + (c + 1) * UNIT, Y0 + (r + 1) * UNIT)


@st.composite
def tiny_areas(draw) -> gpd.GeoDataFrame:
    """A partition of the 3x3 grid (cells, triangles, multipolygons, one with a hole)."""
    shapes: list = []
    for r in range(3):
        for c in range(3):
            square = cell(c, r)
            x0, y0, x1, y1 = square.bounds
            kind = draw(st.sampled_from(["square", "diagonal", "antidiagonal", "holed"]))
            if kind == "diagonal":
                shapes += [
                    Polygon([(x0, y0), (x1, y0), (x1, y1)]),
                    Polygon([(x0, y0), (x1, y1), (x0, y1)]),
                ]
            elif kind == "antidiagonal":
                shapes += [
                    Polygon([(x0, y0), (x1, y0), (x0, y1)]),
                    Polygon([(x1, y0), (x1, y1), (x0, y1)]),
                ]
            elif kind == "holed":  # a square with a square hole, and the hole as an area
                inner = box(x0 + 250, y0 + 250, x1 - 250, y1 - 250)
                shapes += [square.difference(inner), inner]
            else:
                shapes.append(square)
    # merge some pairs into multipolygons (areas that are not contiguous)
    merges = draw(st.integers(0, 3))
    for _ in range(merges):
        if len(shapes) < 2:
            break
        i = draw(st.integers(0, len(shapes) - 1))
        j = draw(st.integers(0, len(shapes) - 2))
        j += j >= i
        a, b = shapes[i], shapes[j]
        parts = [*getattr(a, "geoms", [a]), *getattr(b, "geoms", [b])]
        merged = MultiPolygon(parts) if a.disjoint(b) else a.union(b)
        shapes = [s for k, s in enumerate(shapes) if k not in (i, j)] + [merged]
    codes = draw(
        st.lists(
            st.from_regex(r"E0[0-9]{7}", fullmatch=True),
            min_size=len(shapes),
            max_size=len(shapes),
            unique=True,
        )
    )
    frame = gpd.GeoDataFrame({"ward_code": codes}, geometry=shapes, crs="EPSG:27700")
    order = draw(st.permutations(range(len(frame))))
    return frame.iloc[list(order)]  # row order must not matter


lattice = st.integers(-2, 14).map(lambda v: v * UNIT / 4)  # quarter units: on edges and corners
anywhere = st.floats(-600, 3600, allow_nan=False, allow_infinity=False)


@st.composite
def tiny_points(draw) -> gpd.GeoSeries:
    coords = draw(
        st.lists(
            st.one_of(
                st.tuples(lattice, lattice),  # grid edges and corners
                st.integers(-1, 13).map(lambda v: (v * UNIT / 4, v * UNIT / 4)),  # diagonals
                st.integers(0, 12).map(lambda v: (v * UNIT / 4, UNIT - v * UNIT / 4)),
                st.tuples(anywhere, anywhere),
            ),
            max_size=40,
        )
    )
    geoms: list = [Point(X0 + x, Y0 + y) for x, y in coords]
    for _ in range(draw(st.integers(0, 2))):  # missing and empty points get no code
        geoms.insert(draw(st.integers(0, len(geoms))), draw(st.sampled_from([None, Point()])))
    index = draw(st.sampled_from(["range", "shuffled", "strings"]))
    series = gpd.GeoSeries(geoms, crs="EPSG:27700")
    if index == "shuffled":
        series.index = np.random.default_rng(len(geoms)).permutation(len(geoms)) * 3
    elif index == "strings":
        series.index = [f"p{i}" for i in range(len(geoms))]
    return series


@settings(max_examples=200, deadline=None)
@given(areas=tiny_areas(), points=tiny_points())
def test_matches_brute_force_and_previous_implementation(areas, points):
    got = area_of_points(points, areas, "ward_code")
    assert list(got.index) == list(points.index)
    assert got.dtype == object
    assert as_list(got) == brute_force(points, areas, "ward_code")
    if len(points):
        assert as_list(got) == tree_of_areas(points, areas, "ward_code")


def test_shared_edges_and_corners_go_to_the_lowest_code():
    # cells 0..3 of a 2x2 grid with codes chosen so that the lowest is not the first row
    areas = gpd.GeoDataFrame(
        {"ward_code": ["E4", "E2", "E3", "E1"]},
        geometry=[cell(0, 0), cell(1, 0), cell(0, 1), cell(1, 1)],
        crs="EPSG:27700",
    )
    points = gpd.GeoSeries(
        [
            Point(X0 + UNIT, Y0 + UNIT),  # the corner of all four
            Point(X0 + UNIT, Y0 + 500),  # edge of E4 and E2
            Point(X0 + 500, Y0 + UNIT),  # edge of E4 and E3
            Point(X0, Y0),  # outer corner of E4 only
            Point(X0 + 2 * UNIT, Y0 + 2 * UNIT),  # outer corner of E1 only
            Point(X0 + 2 * UNIT + 1e-6, Y0),  # just outside
        ],
        crs="EPSG:27700",
    )
    got = area_of_points(points, areas, "ward_code")
    assert as_list(got) == ["E1", "E2", "E3", "E4", "E1", None]


def test_nothing_to_assign():
    areas = gpd.GeoDataFrame({"ward_code": ["E1"]}, geometry=[cell(0, 0)], crs="EPSG:27700")
    empty = gpd.GeoSeries([], crs="EPSG:27700")
    assert area_of_points(empty, areas, "ward_code").empty
    points = gpd.GeoSeries([None, Point(), Point(X0 + 1, Y0 + 1)], crs="EPSG:27700")
    assert as_list(area_of_points(points, areas, "ward_code")) == [None, None, "E1"]
    none = area_of_points(points, areas.iloc[:0], "ward_code")
    assert none.isna().all() and list(none.index) == [0, 1, 2]


def test_numeric_codes_compare_as_text():
    # codes are compared as strings (as written to the layers): "10" sorts before "9"
    areas = gpd.GeoDataFrame({"code": [9, 10]}, geometry=[cell(0, 0), cell(1, 0)], crs=27700)
    got = area_of_points(gpd.GeoSeries([Point(X0 + UNIT, Y0 + 1)], crs=27700), areas, "code")
    assert as_list(got) == ["10"]


def test_assign_areas_fills_each_layer_it_has():
    wards = gpd.GeoDataFrame({"ward_code": ["E05000001"]}, geometry=[cell(0, 0)], crs=27700)
    lsoas = gpd.GeoDataFrame(
        {"lsoa_code": ["E01000002", "E01000001"]},
        geometry=[cell(0, 0), shapely.box(X0, Y0, X0 + 500, Y0 + 500)],
        crs=27700,
    )
    points = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]},
        geometry=[Point(X0 + 250, Y0 + 250), Point(X0 + 750, Y0 + 750), Point(X0 - 1, Y0)],
        crs=27700,
    )
    out = assign_areas(points, {"wards": wards, "lsoas": lsoas, "boroughs": None})
    assert as_list(out["ward_code"]) == ["E05000001", "E05000001", None]
    assert as_list(out["lsoa_code"]) == ["E01000001", "E01000002", None]
    assert "borough_code" not in out.columns
    assert "ward_code" not in points.columns  # the input is not changed


@pytest.mark.parametrize("shuffle", [False, True])
def test_many_points_on_real_like_boundaries(shuffle):
    # a few thousand points, a third of them exactly on polygon vertices and edges
    rng = np.random.default_rng(7)
    seeds = rng.uniform(0, 3 * UNIT, (12, 2))
    cells = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=box(-UNIT, -UNIT, 4 * UNIT, 4 * UNIT)
    )
    shapes = shapely.intersection(shapely.get_parts(cells), box(0, 0, 3 * UNIT, 3 * UNIT))
    shapes = shapely.transform(shapes, lambda xy: xy + [X0, Y0])
    areas = gpd.GeoDataFrame(
        {"ward_code": [f"E{v:03d}" for v in rng.permutation(len(shapes))]},
        geometry=shapes,
        crs=27700,
    )
    if shuffle:
        areas = areas.sample(frac=1, random_state=3)
    vertices = shapely.get_coordinates(shapes)
    edges = []
    for ring in shapely.get_exterior_ring(shapes):
        xy = shapely.get_coordinates(ring)
        t = rng.uniform(0, 1, (len(xy) - 1, 1))
        edges.append(xy[:-1] + t * (xy[1:] - xy[:-1]))
    inside = rng.uniform(-100, 3 * UNIT + 100, (2000, 2)) + [X0, Y0]
    xy = np.vstack([vertices, *edges, inside])
    points = gpd.GeoSeries(shapely.points(xy), crs=27700)
    got = area_of_points(points, areas, "ward_code")
    assert as_list(got) == brute_force(points, areas, "ward_code")


def test_other_geometries_and_odd_points_match_brute_force():
    areas = gpd.GeoDataFrame(
        {"ward_code": ["E3", "E1", "E2"]},
        geometry=[cell(0, 0), cell(1, 0), cell(0, 1)],
        crs="EPSG:27700",
    )
    things = gpd.GeoSeries(
        [
            Point(X0 + 500, Y0 + 500),
            shapely.LineString([(X0 + 500, Y0 + 500), (X0 + 1500, Y0 + 500)]),  # two areas
            box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1100),  # three
            Point(X0 + 500, Y0 + 500, 12.0),  # with a z
        ],
        crs="EPSG:27700",
    )
    assert as_list(area_of_points(things, areas, "ward_code")) == brute_force(
        things, areas, "ward_code"
    )
    odd = gpd.GeoSeries([Point(X0 + 500, Y0 + 500), Point(float("nan"), float("nan"))], crs=27700)
    assert as_list(area_of_points(odd, areas, "ward_code")) == ["E3", None]
