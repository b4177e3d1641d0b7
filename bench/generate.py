"""Seeded synthetic areas and points in British National Grid (EPSG:27700).

Everything here is a pure function of its arguments and ``seed`` (numpy ``default_rng``),
so two runs, or two machines, benchmark exactly the same data.

Areas
-----
LSOAs are the Voronoi cells of random seed points, clipped to a square box; wards are
the union of groups of adjacent LSOAs (each LSOA joins the nearest of ``n_wards`` ward
seeds, themselves LSOA seeds, so no ward is empty); boroughs are groups of adjacent
wards made the same way. LSOAs therefore nest in wards and wards in boroughs, the cells
tile the box exactly (shared edges, no gaps or overlaps), and a few wards are
multipolygons, as in real boundary files. Each LSOA carries a population.

Points
------
Half uniform over the box, half in gaussian clusters (towns, high streets), all inside the
box. Groups carry a category from :data:`CATEGORIES` with uneven frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

CRS = "EPSG:27700"

#: sizes of the synthetic study areas: (wards, LSOAs, boroughs, box side in metres,
#: box origin); box areas are about those of London (1,570 km²) and England (130,000 km²)
SCALES: dict[str, dict] = {
    "london": {"wards": 680, "lsoas": 4_900, "boroughs": 33, "side": 40_000.0,
               "origin": (510_000.0, 160_000.0)},
    "england": {"wards": 7_000, "lsoas": 33_000, "boroughs": 310, "side": 360_000.0,
                "origin": (150_000.0, 60_000.0)},
}

#: group categories (the project's vocabulary) and how common each is
CATEGORIES = (
    "faith", "community centre", "youth", "older people", "food", "advice", "health",
    "disability", "refugees and migrants", "tenants and residents", "arts and sport",
    "emergency and resilience", "other",
)
CATEGORY_WEIGHTS = np.array([14, 10, 9, 8, 8, 7, 7, 6, 5, 5, 8, 3, 10], dtype=float)


@dataclass(frozen=True)
class Areas:
    """Nested synthetic areas: ``lsoas`` (lsoa_code, ward_code, borough_code, population),
    ``wards`` (ward_code, ward_name, borough_code, borough_name) and ``boroughs``
    (borough_code, borough_name), all EPSG:27700, plus the box they tile."""

    lsoas: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    boroughs: gpd.GeoDataFrame
    box: shapely.Polygon


def _codes(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i:06d}" for i in range(1, n + 1)], dtype=object)


def _group(seeds: np.ndarray, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """Each seed's group: the nearest of `n_groups` seeds picked among them (never empty)."""
    picked = rng.choice(len(seeds), size=n_groups, replace=False)
    _, group = cKDTree(seeds[picked]).query(seeds)
    return group.astype(np.int64)


def _dissolve(shapes: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """The union of the shapes of each group (coverage union: they tile without overlap)."""
    order = np.argsort(group, kind="stable")
    cuts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1, len(group)]
    out = np.empty(n_groups, dtype=object)
    for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
        out[group[order[start]]] = shapely.coverage_union_all(shapes[order[start:stop]])
    return out


def make_areas(scale: str | dict = "london", *, seed: int = 0) -> Areas:
    """London-size or England-size nested LSOAs, wards and boroughs (see module docstring).

    `scale` is a key of :data:`SCALES` or a dict like its values (tiny sizes for tests).
    """
    spec = SCALES[scale] if isinstance(scale, str) else scale
    rng = np.random.default_rng(seed)
    n_lsoa, n_ward, n_borough = spec["lsoas"], spec["wards"], spec["boroughs"]
    x0, y0 = spec["origin"]
    side = spec["side"]
    box = shapely.box(x0, y0, x0 + side, y0 + side)
    seeds = np.column_stack([rng.uniform(x0, x0 + side, n_lsoa),
                             rng.uniform(y0, y0 + side, n_lsoa)])
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box, ordered=True)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), box)

    ward_of_lsoa = _group(seeds, n_ward, rng)
    ward_shapes = _dissolve(cells, ward_of_lsoa, n_ward)
    ward_points = shapely.get_coordinates(shapely.centroid(ward_shapes))
    borough_of_ward = _group(ward_points, n_borough, rng)
    borough_shapes = _dissolve(ward_shapes, borough_of_ward, n_borough)

    lsoa_codes, ward_codes, borough_codes = (
        _codes("E01", n_lsoa), _codes("E05", n_ward), _codes("E09", n_borough))
    borough_names = np.array([f"Borough {i}" for i in range(1, n_borough + 1)], dtype=object)
    boroughs = gpd.GeoDataFrame({"borough_code": borough_codes, "borough_name": borough_names},
                                geometry=borough_shapes, crs=CRS)
    wards = gpd.GeoDataFrame(
        {"ward_code": ward_codes,
         "ward_name": np.array([f"Ward {i}" for i in range(1, n_ward + 1)], dtype=object),
         "borough_code": borough_codes[borough_of_ward],
         "borough_name": borough_names[borough_of_ward]},
        geometry=ward_shapes, crs=CRS)
    lsoas = gpd.GeoDataFrame(
        {"lsoa_code": lsoa_codes,
         "ward_code": ward_codes[ward_of_lsoa],
         "borough_code": borough_codes[borough_of_ward[ward_of_lsoa]],
         "population": rng.integers(1_000, 3_000, n_lsoa).astype(float)},
        geometry=cells, crs=CRS)
    return Areas(lsoas=lsoas, wards=wards, boroughs=boroughs, box=box)


def random_xy(n: int, box: shapely.Polygon, *, seed: int = 0, clustered: float = 0.5,
              clusters: int = 200, sigma_m: float = 600.0) -> np.ndarray:
    """`n` points (an n x 2 array): a `clustered` share in gaussian clusters, the rest
    uniform over `box`; all strictly inside the box."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box.bounds
    n_clustered = int(round(n * clustered))
    uniform = np.column_stack([rng.uniform(x0, x1, n - n_clustered),
                               rng.uniform(y0, y1, n - n_clustered)])
    centres = np.column_stack([rng.uniform(x0, x1, clusters), rng.uniform(y0, y1, clusters)])
    which = rng.integers(0, clusters, n_clustered)
    around = centres[which] + rng.normal(0.0, sigma_m, (n_clustered, 2))
    xy = np.vstack([uniform, around])
    xy = xy[rng.permutation(n)]
    # points a cluster throws outside the box are drawn again, uniformly inside it (never
    # clipped: a clipped point would lie exactly on the box edge)
    out = (xy[:, 0] <= x0) | (xy[:, 0] >= x1) | (xy[:, 1] <= y0) | (xy[:, 1] >= y1)
    xy[out] = np.column_stack([rng.uniform(x0, x1, int(out.sum())),
                               rng.uniform(y0, y1, int(out.sum()))])
    return xy


def points_frame(xy: np.ndarray) -> gpd.GeoDataFrame:
    """A GeoDataFrame of points (EPSG:27700) with a ``point_id`` column."""
    return gpd.GeoDataFrame({"point_id": np.arange(len(xy))},
                            geometry=shapely.points(xy), crs=CRS)


def groups_frame(n: int, box: shapely.Polygon, *, seed: int = 0) -> gpd.GeoDataFrame:
    """`n` VCS groups: ``group_id`` (G0000001...), ``name``, ``category``, geometry."""
    xy = random_xy(n, box, seed=seed)
    rng = np.random.default_rng(seed + 1)
    weights = CATEGORY_WEIGHTS / CATEGORY_WEIGHTS.sum()
    category = np.array(CATEGORIES, dtype=object)[rng.choice(len(CATEGORIES), n, p=weights)]
    ids = np.array([f"G{i:07d}" for i in range(n)], dtype=object)
    return gpd.GeoDataFrame({"group_id": ids, "name": [f"Group {i}" for i in range(n)],
                             "category": category},
                            geometry=shapely.points(xy), crs=CRS)


def population_points(areas: Areas, n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """`n` points where people live (clustered), each with the ward it lies in and an equal
    share of the population: ``population``, ``ward_code``, ``lsoa_code``."""
    xy = random_xy(n, areas.box, seed=seed)
    pts = shapely.points(xy)
    lsoa_pos, _ = _locate(pts, areas.lsoas.geometry.to_numpy())
    keep = lsoa_pos >= 0
    lsoas = areas.lsoas.iloc[lsoa_pos[keep]]
    total = float(areas.lsoas["population"].sum())
    return gpd.GeoDataFrame(
        {"lsoa_code": lsoas["lsoa_code"].to_numpy(), "ward_code": lsoas["ward_code"].to_numpy(),
         "population": np.full(int(keep.sum()), total / max(1, int(keep.sum())))},
        geometry=pts[keep], crs=CRS)


def _locate(points: np.ndarray, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of the (first) shape holding each point, -1 for none."""
    tree = shapely.STRtree(shapes)
    pi, si = tree.query(points, predicate="intersects")
    out = np.full(len(points), -1, dtype=np.int64)
    out[pi[::-1]] = si[::-1]
    return out, pi


def deprivation_table(areas: Areas, *, seed: int = 0) -> pd.DataFrame:
    """IoD-like columns per LSOA (scores, national rank and decile, denominators)."""
    rng = np.random.default_rng(seed)
    n = len(areas.lsoas)
    imd = rng.gamma(2.0, 10.0, n)
    rank = pd.Series(imd).rank(ascending=False, method="first").to_numpy()
    national = 32_844
    rank = np.ceil(rank / n * national).astype(int)
    pop = areas.lsoas["population"].to_numpy()
    return pd.DataFrame({
        "lsoa_code": areas.lsoas["lsoa_code"].to_numpy(),
        "imd_score": imd,
        "income_score": rng.uniform(0, 0.5, n),
        "employment_score": rng.uniform(0, 0.4, n),
        "idaci_score": rng.uniform(0, 0.6, n),
        "idaopi_score": rng.uniform(0, 0.6, n),
        "imd_rank": rank,
        "imd_decile": np.ceil(rank / national * 10).astype(int),
        "pop_total": pop,
        "pop_children_0_15": np.round(pop * 0.2),
        "pop_older_60_plus": np.round(pop * 0.18),
        "pop_working_age": np.round(pop * 0.62),
    })
