"""Coverage gaps (mapper.analysis.coverage) against brute force, on tiny random layouts.

The covered area is traced from the Delaunay triangulation of the groups rather than
unioned by GEOS, and population points are first sorted by a raster; these properties
check both against the plain answers: the GEOS union of the 64-gon buffers, and every
point's distance to every group. Groups sit on a 100 m lattice as often as not, so
layouts are full of ties: duplicates, three or more in a line, four on a circle, circles
meeting exactly at a point, population points exactly `radius_m` from a group.
"""

from __future__ import annotations

import math

import factories as fx
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from mapper.analysis import coverage
from mapper.analysis.coverage import (
    BUFFER_QUAD_SEGS,
    coverage_gaps,
    uncovered_population,
)

X0, Y0 = 530_000.0, 180_000.0
INNER = math.cos(math.pi / (4 * BUFFER_QUAD_SEGS))  # the 64-gons' inner circle / radius
CODES = [f"E0590000{n}" for n in range(1, 10)]

lattice = st.integers(-5, 35).map(lambda v: v * 100.0)
anywhere = st.floats(-500, 3500, allow_nan=False, allow_infinity=False)
site_xy = st.one_of(st.tuples(lattice, lattice), st.tuples(anywhere, anywhere))
radii = st.one_of(
    st.sampled_from([100.0, 150.0, 200.0, 250.0, 300.0, 500.0, 707.1067811865476, 1000.0]),
    st.floats(20, 1500, allow_nan=False),
)
settings_ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def grid_wards() -> gpd.GeoDataFrame:
    return fx.grid_wards()[["ward_code", "geometry"]]


def sites_array(coords) -> np.ndarray:
    return np.array([(X0 + x, Y0 + y) for x, y in coords], dtype=float).reshape(-1, 2)


def groups_frame(xy: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"group_id": [f"G{i}" for i in range(len(xy))], "category": ["food"] * len(xy)},
        geometry=shapely.points(xy) if len(xy) else [],
        crs="EPSG:27700",
    )


def nearest_distance(points: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Each point's distance to its nearest site, as the module measures it."""
    if len(sites) == 0:
        return np.full(len(points), np.inf)
    dx = points[:, None, 0] - sites[None, :, 0]
    dy = points[:, None, 1] - sites[None, :, 1]
    return np.sqrt(dx * dx + dy * dy).min(axis=1)


def probe_points(sites: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Random points over the layout, plus points near each circle's edge."""
    lo = sites.min(axis=0) - radius * 1.5
    hi = sites.max(axis=0) + radius * 1.5
    spread = rng.uniform(lo, hi, (400, 2))
    angle = rng.uniform(0, 2 * math.pi, (len(sites), 8))
    scale = rng.choice([INNER * 0.999, INNER * 1.0005, 0.9999, 1.0001, 1.001], angle.shape)
    ring = sites[:, None, :] + radius * scale[..., None] * np.stack(
        [np.cos(angle), np.sin(angle)], axis=-1
    )
    return np.vstack([spread, ring.reshape(-1, 2)])


def assert_between_circles(covered, sites: np.ndarray, radius: float, seed: int) -> None:
    """Every point within the 64-gons' inner circle of a site is covered; no point
    farther than the radius from every site is."""
    rng = np.random.default_rng(seed)
    points = probe_points(sites, radius, rng)
    dist = nearest_distance(points, sites)
    inside = shapely.covers(covered, shapely.points(points))
    slack = 1e-7 * radius + 1e-6
    assert inside[dist <= radius * INNER - slack].all()
    assert not inside[dist > radius + slack].any()


def geos_union(sites: np.ndarray, radius: float):
    circles = shapely.buffer(shapely.points(sites), radius, quad_segs=BUFFER_QUAD_SEGS)
    return shapely.union_all(circles)


def band_area(sites: np.ndarray, radius: float) -> float:
    """An upper bound on the area between the circles and their 64-gons' inner circles."""
    return len(sites) * math.pi * radius * radius * (1 - INNER * INNER) + 1e-3


# -- the covered area ----------------------------------------------------------------------


@settings_
@given(coords=st.lists(site_xy, min_size=1, max_size=14), radius=radii, seed=st.integers(0, 99))
def test_covered_area_matches_the_geos_union_of_64gons(coords, radius, seed):
    sites = sites_array(coords)
    parts = coverage._covered_parts(sites, radius)
    assert shapely.is_valid(parts).all()
    assert (shapely.get_type_id(parts) == 3).all()
    union = shapely.union_all(parts)
    # the parts never overlap: their areas add up to their union's
    assert shapely.area(parts).sum() == pytest.approx(union.area, rel=1e-9, abs=1e-3)
    exact = geos_union(sites, radius)
    assert shapely.symmetric_difference(union, exact).area <= band_area(
        np.unique(sites, axis=0), radius
    )
    assert_between_circles(union, sites, radius, seed)


@settings_
@given(coords=st.lists(site_xy, min_size=3, max_size=14), radius=radii)
def test_traced_union_equals_the_dissolved_pieces(coords, radius):
    sites, origin = coverage._local_sites(sites_array(coords))
    runs = coverage._circle_runs(sites, radius)
    if runs is None:  # no sound triangulation: the GEOS union is used instead
        return
    traced = coverage._traced_union(sites, radius, runs, origin)
    try:
        pieces = coverage._dissolved_pieces(sites, radius, runs, origin)
    except shapely.errors.GEOSException:  # allowed: the caller falls back on GEOS
        return
    assert shapely.is_valid(pieces).all()
    if traced is None:  # allowed in degenerate layouts: the caller falls back on pieces
        return
    # a traced part may touch itself where two circles meet at just one vertex (the
    # caller has GEOS mend it); otherwise it is valid
    mended = shapely.make_valid(traced)
    assert np.allclose(shapely.area(mended), shapely.area(traced), rtol=1e-9, atol=1e-6)
    a, b = shapely.union_all(mended), shapely.union_all(pieces)
    assert shapely.symmetric_difference(a, b).area <= 1e-6 * max(1.0, a.area)
    assert len(shapely.get_parts(a)) == len(shapely.get_parts(b))


def test_fallbacks_for_layouts_without_a_triangulation():
    for coords in ([(0, 0)], [(0, 0), (300, 0)], [(0, 0), (300, 0), (600, 0), (900, 0)]):
        sites = sites_array(coords)
        parts = coverage._covered_parts(sites, 200.0)
        exact = geos_union(sites, 200.0)
        assert shapely.symmetric_difference(shapely.union_all(parts), exact).area < 1e-6


def test_a_ring_of_circles_leaves_a_hole_with_an_island_in_it():
    # twelve circles round a centre leave an uncovered ring between them and a circle
    # at the centre: the covered area is one part with a hole, plus the island
    angle = np.arange(12) * 2 * math.pi / 12
    ring = np.column_stack([1000 * np.cos(angle), 1000 * np.sin(angle)])
    sites = sites_array([*map(tuple, ring), (0.0, 0.0)])
    parts = coverage._covered_parts(sites, 300.0)
    assert len(parts) == 2
    assert sorted(len(p.interiors) for p in parts) == [0, 1]
    exact = geos_union(sites, 300.0)
    assert shapely.symmetric_difference(shapely.union_all(parts), exact).area < band_area(
        sites, 300.0
    )
    assert_between_circles(shapely.union_all(parts), sites, 300.0, 0)


# -- gaps per ward -------------------------------------------------------------------------


@settings_
@given(coords=st.lists(site_xy, max_size=14), radius=radii, seed=st.integers(0, 99))
def test_gaps_are_each_ward_minus_the_circles(coords, radius, seed):
    sites = sites_array(coords)
    wards = grid_wards()
    people = gpd.GeoDataFrame(
        {"ward_code": ["E05900001"], "population": [1.0]},
        geometry=[Point(X0 + 1, Y0 + 1)],
        crs="EPSG:27700",
    )
    table, gaps = coverage_gaps(wards, people, groups_frame(sites), radius_m=radius)
    by_code = gaps.set_index("ward_code").geometry
    assert gaps.geometry.is_valid.all()
    exact = geos_union(sites, radius) if len(sites) else shapely.Polygon()
    bound = band_area(sites, radius) if len(sites) else 1e-6
    for code, ward in zip(wards["ward_code"], wards.geometry, strict=True):
        gap = by_code.get(code, shapely.Polygon())
        assert gap.difference(ward).area <= 1e-6  # inside its ward
        brute = ward.difference(exact)
        assert abs(gap.area - brute.area) <= bound
        assert table.loc[code, "uncovered_area_km2"] == pytest.approx(gap.area / 1e6, abs=1e-12)
        if len(sites):
            # points of the ward beyond every circle are in its gap; points well inside
            # a circle are not
            rng = np.random.default_rng(seed)
            x0, y0, x1, y1 = ward.bounds
            xy = np.vstack(
                [rng.uniform((x0, y0), (x1, y1), (150, 2)), probe_points(sites, radius, rng)]
            )
            xy = xy[shapely.contains_xy(ward, xy[:, 0], xy[:, 1])]
            dist = nearest_distance(xy, sites)
            inside = shapely.covers(gap, shapely.points(xy))
            slack = 1e-7 * radius + 1e-6
            assert inside[dist > radius + slack].all()
            assert not shapely.contains(
                gap, shapely.points(xy[dist < radius * INNER - slack])
            ).any()
        else:
            assert gap.equals(ward)


def test_gaps_on_real_like_wards_match_geos():
    # irregular wards (Voronoi cells) and a few hundred clustered groups
    rng = np.random.default_rng(11)
    seeds = rng.uniform(0, 6000, (40, 2)) + [X0, Y0]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=box(X0, Y0, X0 + 6000, Y0 + 6000)
        )
    )
    wards = gpd.GeoDataFrame(
        {"ward_code": [f"W{i:02d}" for i in range(len(cells))]},
        geometry=shapely.intersection(cells, box(X0, Y0, X0 + 6000, Y0 + 6000)),
        crs="EPSG:27700",
    )
    centres = rng.uniform(0, 6000, (6, 2))
    xy = np.vstack(
        [
            rng.uniform(0, 6000, (150, 2)),
            centres[rng.integers(0, 6, 150)] + rng.normal(0, 300, (150, 2)),
        ]
    )
    sites = xy + [X0, Y0]
    people = gpd.GeoDataFrame(
        {"ward_code": ["W00"], "population": [1.0]}, geometry=[Point(*seeds[0])], crs=27700
    )
    for radius in (150.0, 400.0, 800.0, 1600.0):
        table, gaps = coverage_gaps(wards, people, groups_frame(sites), radius_m=radius)
        exact = shapely.difference(wards.geometry.to_numpy(), geos_union(sites, radius))
        ours = table["uncovered_area_km2"].to_numpy() * 1e6
        brute = shapely.area(exact)
        assert np.abs(ours - brute).max() <= band_area(sites, radius) * 0.01 + 1.0
        assert abs(ours.sum() - brute.sum()) <= 1e-4 * wards.area.sum()
        assert gaps.geometry.is_valid.all()


# -- population ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    coords=st.lists(st.tuples(lattice, lattice), min_size=1, max_size=12),
    scale=st.sampled_from([20.0, 40.0, 100.0]),
    radius_kind=st.sampled_from(["exact", "float"]),
    seed=st.integers(0, 999),
)
def test_uncovered_points_match_all_pairs_with_many_points(coords, scale, radius_kind, seed):
    # over a thousand points, so the raster is used: a third exactly on a circle
    rng = np.random.default_rng(seed)
    sites = sites_array(coords)
    triples = [(3, 4, 5), (4, 3, 5), (5, 12, 13), (8, 15, 17), (0, 5, 5), (5, 0, 5), (7, 24, 25)]
    a, b, c = triples[seed % len(triples)]  # whole offsets exactly c * scale from a site
    radius = scale * c if radius_kind == "exact" else float(rng.uniform(50, 1200))
    signs = rng.choice([-1.0, 1.0], (600, 2))
    pick = sites[rng.integers(0, len(sites), 600)]
    on_edge = pick + signs * [a * scale, b * scale] if radius_kind == "exact" else pick
    spread = rng.uniform(sites.min(axis=0) - 1500, sites.max(axis=0) + 1500, (900, 2))
    lattice_pts = np.round(spread / 100) * 100
    xy = np.vstack([on_edge, spread, lattice_pts])
    points = gpd.GeoDataFrame(geometry=shapely.points(xy), crs="EPSG:27700")
    got = uncovered_population(points, groups_frame(sites), radius_m=radius)
    dist = nearest_distance(xy, sites)
    assert got.tolist() == (~(dist <= radius)).tolist()


def test_raster_and_tree_agree_on_a_large_random_layout():
    rng = np.random.default_rng(5)
    sites = rng.uniform(0, 20_000, (300, 2)) + [X0, Y0]
    xy = np.vstack(
        [
            rng.uniform(-1000, 21_000, (20_000, 2)) + [X0, Y0],
            sites[rng.integers(0, 300, 5000)]
            + 600 * np.column_stack([np.cos(t := rng.uniform(0, 2 * math.pi, 5000)), np.sin(t)]),
        ]
    )
    points = gpd.GeoDataFrame(geometry=shapely.points(xy), crs="EPSG:27700")
    for radius in (100.0, 600.0, 2500.0):
        got = uncovered_population(points, groups_frame(sites), radius_m=radius).to_numpy()
        dist = nearest_distance(xy, sites)
        assert (got == ~(dist <= radius)).all()


def test_population_table_against_brute_force():
    rng = np.random.default_rng(9)
    wards = grid_wards()
    xy = rng.uniform(0, 3000, (3000, 2)) + [X0, Y0]
    codes = np.array(CODES + ["E05999999", None], dtype=object)[rng.integers(0, 11, 3000)]
    people = gpd.GeoDataFrame(
        {"ward_code": codes, "population": rng.uniform(0, 10, 3000)},
        geometry=shapely.points(xy),
        crs="EPSG:27700",
    )
    people.loc[people.index[:5], "population"] = np.nan  # counted as nobody
    sites = rng.uniform(0, 3000, (8, 2)) + [X0, Y0]
    table, _ = coverage_gaps(wards, people, groups_frame(sites), radius_m=400)
    far = nearest_distance(xy, sites) > 400
    frame = pd.DataFrame({"ward_code": codes, "p": people["population"].fillna(0.0), "far": far})
    frame = frame[frame["ward_code"].isin(CODES)]
    want = frame.groupby("ward_code")["p"].sum().reindex(CODES).fillna(0.0)
    want_far = frame[frame["far"]].groupby("ward_code")["p"].sum().reindex(CODES).fillna(0.0)
    assert table["population"].to_numpy() == pytest.approx(want.to_numpy())
    assert table["uncovered_population"].to_numpy() == pytest.approx(want_far.to_numpy())


@pytest.mark.parametrize("workers", [1, 2])
def test_threads_give_the_same_answer(monkeypatch, workers):
    rng = np.random.default_rng(3)
    wards = grid_wards()
    xy = rng.uniform(0, 3000, (2000, 2)) + [X0, Y0]
    people = gpd.GeoDataFrame(
        {"ward_code": np.array(CODES)[rng.integers(0, 9, 2000)], "population": 1.0},
        geometry=shapely.points(xy),
        crs="EPSG:27700",
    )
    groups = groups_frame(rng.uniform(0, 3000, (40, 2)) + [X0, Y0])
    monkeypatch.setattr(coverage, "WORKERS", 1)
    want_table, want_gaps = coverage_gaps(wards, people, groups, radius_m=300)
    monkeypatch.setattr(coverage, "WORKERS", workers)
    table, gaps = coverage_gaps(wards, people, groups, radius_m=300)
    pd.testing.assert_frame_equal(table, want_table)
    assert shapely.equals_exact(gaps.geometry.array, want_gaps.geometry.array, tolerance=0).all()
