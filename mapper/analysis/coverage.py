"""Coverage gaps: people and places farther than a short walk from any community group.

A point is *covered* when some matching group lies within ``radius_m`` of it in a straight
line (EPSG:27700 metres; a group exactly ``radius_m`` away covers it), and *uncovered*
otherwise. The default 800 m is about ten minutes' walk. Population is counted from
population points (for example postcode centroids each carrying a share of their LSOA's
residents) by the ``ward_code`` they carry; areas from the ward polygons minus circles of
``radius_m`` around the matching groups, drawn with :data:`BUFFER_QUAD_SEGS` segments per
quarter circle.

Groups without a location (missing or empty geometry) cover nobody and are ignored.
Categories are compared stripped and case-blind; ``category=None`` means any group, and
an empty set of categories matches none (so everyone is uncovered).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from mapper.analysis._tables import check_frame, check_radius, point_xy
from mapper.geo import CRS_ANALYSIS

#: about ten minutes' walk
DEFAULT_RADIUS_M = 800.0
#: segments per quarter circle of a group's buffer: a 64-gon, whose area is 0.16% less
#: than the circle's (the area share is ``sin(2*pi/64) * 64 / (2*pi)``)
BUFFER_QUAD_SEGS = 16
#: columns of the table returned by :func:`coverage_gaps`, in order
TABLE_COLUMNS = [
    "population",
    "uncovered_population",
    "uncovered_share",
    "area_km2",
    "uncovered_area_km2",
    "uncovered_area_share",
]
GAP_COLUMNS = ["ward_code", "uncovered_area_km2", "uncovered_population", "geometry"]
#: relative slack so the tree never drops a group exactly on the radius to float rounding
_TOLERANCE = 1e-9
_M2_PER_KM2 = 1e6


# -- checks ------------------------------------------------------------------------------


def _category_keys(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower()


def _matching_groups(groups: gpd.GeoDataFrame, category) -> gpd.GeoDataFrame:
    """The located groups of the wanted categories (None: any)."""
    check_frame(groups, "groups", [] if category is None else ["category"])
    x, y = point_xy(groups, "groups")
    keep = np.isfinite(x) & np.isfinite(y)
    if category is not None:
        wanted = {category} if isinstance(category, str) else set(category)
        wanted_keys = {str(c).strip().lower() for c in wanted}
        matches = _category_keys(groups["category"]).isin(wanted_keys)
        keep &= matches.to_numpy(dtype=bool, na_value=False)
    return groups[keep]


# -- measures ----------------------------------------------------------------------------


def uncovered_population(
    population_points: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    *,
    radius_m: float,
    category: str | Iterable[str] | None = None,
) -> pd.Series:
    """Whether each population point is farther than `radius_m` from every matching group.

    Parameters
    ----------
    population_points
        Points in EPSG:27700; every row must have a location.
    groups
        Points in EPSG:27700, with ``category`` when `category` is given.
    radius_m
        Covering distance in metres; a group exactly this far away covers the point.
    category
        None for any group; else a category or a set of categories.

    Returns
    -------
    pandas.Series
        ``uncovered``: bool, indexed like `population_points`; all True when no group
        matches.
    """
    check_frame(population_points, "population_points")
    radius = check_radius(radius_m)
    px, py = point_xy(population_points, "population_points")
    unlocated = ~(np.isfinite(px) & np.isfinite(py))
    if unlocated.any():
        raise ValueError(
            f"population_points has {int(unlocated.sum())} rows without a location; first: "
            f"{list(population_points.index[unlocated][:5])}"
        )
    gx, gy = point_xy(_matching_groups(groups, category), "groups")
    beyond = _beyond(np.column_stack([px, py]), np.column_stack([gx, gy]), radius)
    return pd.Series(beyond, index=population_points.index, name="uncovered")


def _beyond(points: np.ndarray, sites: np.ndarray, radius: float) -> np.ndarray:
    """True where the nearest site is farther than `radius` (a KD-tree query, vectorised)."""
    if len(sites) == 0:
        return np.ones(len(points), dtype=bool)
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    bound = radius + _TOLERANCE * max(1.0, radius, float(np.abs(points).max()))
    dist, _ = cKDTree(sites).query(points, k=1, distance_upper_bound=bound)
    return ~(dist <= radius)  # inf (no site within the bound) is beyond


def coverage_gaps(
    wards: gpd.GeoDataFrame,
    population_points: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    category: str | Iterable[str] | None = None,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """People and area of each ward farther than `radius_m` from any matching group.

    Parameters
    ----------
    wards
        Polygons in EPSG:27700 with a unique ``ward_code``.
    population_points
        Points in EPSG:27700 with ``population`` and ``ward_code``; points whose ward is
        not in `wards` (or blank) are left out of the table.
    groups
        Points in EPSG:27700 (with ``category`` when `category` is given).
    radius_m, category
        As for :func:`uncovered_population`.

    Returns
    -------
    table : pandas.DataFrame
        Indexed by ``ward_code`` in the order of `wards`, columns :data:`TABLE_COLUMNS`;
        ``uncovered_share`` is NaN for a ward with no population.
    gaps : geopandas.GeoDataFrame
        One row per ward with some uncovered area (:data:`GAP_COLUMNS`, EPSG:27700): the
        part of the ward beyond `radius_m` of every matching group.
    """
    check_frame(wards, "wards", ["ward_code"])
    check_frame(population_points, "population_points", ["population", "ward_code"])
    _check_unique_codes(wards)
    uncovered = uncovered_population(
        population_points, groups, radius_m=radius_m, category=category
    )
    sites = _matching_groups(groups, category)
    gap_shapes = _gap_shapes(wards.geometry, sites.geometry, check_radius(radius_m))
    table = _coverage_table(wards, population_points, uncovered, gap_shapes)
    return table, _gap_frame(table, gap_shapes)


def _check_unique_codes(wards: gpd.GeoDataFrame) -> None:
    codes = wards["ward_code"]
    repeated = codes[codes.duplicated()].unique()
    if len(repeated) or codes.isna().any():
        raise ValueError(
            f"wards ward_code must be unique and never blank; got repeats "
            f"{list(repeated[:5])} and {int(codes.isna().sum())} blanks"
        )


def _gap_shapes(wards: gpd.GeoSeries, sites: gpd.GeoSeries, radius: float) -> np.ndarray:
    """Each ward minus the circles around the sites that touch it (shapely, per ward)."""
    shapes = wards.to_numpy().copy()
    sites = sites[~(sites.isna() | sites.is_empty)]
    if len(sites) == 0 or radius == 0:
        return shapes
    circles = shapely.buffer(sites.to_numpy(), radius, quad_segs=BUFFER_QUAD_SEGS)
    ward_pos, circle_pos = shapely.STRtree(circles).query(shapes, predicate="intersects")
    for ward, members in pd.Series(circle_pos).groupby(ward_pos):
        covered = shapely.union_all(circles[members.to_numpy()])
        shapes[ward] = shapely.difference(shapes[ward], covered)
    return shapes


def _coverage_table(
    wards: gpd.GeoDataFrame,
    population_points: gpd.GeoDataFrame,
    uncovered: pd.Series,
    gap_shapes: np.ndarray,
) -> pd.DataFrame:
    population = pd.to_numeric(population_points["population"]).to_numpy(dtype=float)
    counts = (
        pd.DataFrame(
            {
                "ward_code": population_points["ward_code"].to_numpy(),
                "population": population,
                "uncovered_population": np.where(uncovered.to_numpy(), population, 0.0),
            }
        )
        .groupby("ward_code")[["population", "uncovered_population"]]
        .sum()
    )
    codes = pd.Index(wards["ward_code"], name="ward_code")
    table = counts.reindex(codes).fillna(0.0)
    table["uncovered_share"] = _share(table["uncovered_population"], table["population"])
    table["area_km2"] = wards.geometry.area.to_numpy() / _M2_PER_KM2
    table["uncovered_area_km2"] = shapely.area(gap_shapes) / _M2_PER_KM2
    table["uncovered_area_share"] = _share(table["uncovered_area_km2"], table["area_km2"])
    return table[TABLE_COLUMNS]


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    """part / whole, NaN where whole is 0 (never a division by zero)."""
    return part / whole.where(whole > 0)


def _gap_frame(table: pd.DataFrame, gap_shapes: np.ndarray) -> gpd.GeoDataFrame:
    gaps = gpd.GeoDataFrame(
        {
            "ward_code": table.index.to_numpy(),
            "uncovered_area_km2": table["uncovered_area_km2"].to_numpy(),
            "uncovered_population": table["uncovered_population"].to_numpy(),
        },
        geometry=gpd.GeoSeries(gap_shapes, crs=CRS_ANALYSIS),
        crs=CRS_ANALYSIS,
    )
    keep = ~(gaps.geometry.isna() | gaps.geometry.is_empty).to_numpy()
    return gaps[keep].reset_index(drop=True)[GAP_COLUMNS]


# -- summaries ---------------------------------------------------------------------------


def coverage_summary(table: pd.DataFrame) -> dict[str, float]:
    """Totals over the wards of a :func:`coverage_gaps` table.

    Returns
    -------
    dict
        ``population``, ``uncovered_population``, ``uncovered_share`` (NaN when nobody
        lives there), ``area_km2``, ``uncovered_area_km2``, ``uncovered_area_share``.
    """
    population = float(table["population"].sum())
    uncovered = float(table["uncovered_population"].sum())
    area = float(table["area_km2"].sum())
    uncovered_area = float(table["uncovered_area_km2"].sum())
    return {
        "population": population,
        "uncovered_population": uncovered,
        "uncovered_share": uncovered / population if population > 0 else math.nan,
        "area_km2": area,
        "uncovered_area_km2": uncovered_area,
        "uncovered_area_share": uncovered_area / area if area > 0 else math.nan,
    }


def rank_gaps(table: pd.DataFrame, need: pd.Series, *, top_share: float = 0.2) -> pd.DataFrame:
    """High-need wards ranked by how many of their people are uncovered.

    Parameters
    ----------
    table
        A :func:`coverage_gaps` table, indexed by ``ward_code``.
    need
        A need measure indexed by ``ward_code``, higher = more need (an IMD score, an
        unmet-need index). Wards without a value are never high-need.
    top_share
        High need = among the ``ceil(top_share * n)`` highest of the n wards of `table`
        with a need value; wards tied with the last of them are included too.

    Returns
    -------
    pandas.DataFrame
        The high-need rows of `table` plus the need column (named as `need`, else
        ``need``) and ``rank`` (1 = most people uncovered), ordered by
        ``uncovered_population`` descending, then ``ward_code``.
    """
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1]; got {top_share!r}")
    name = need.name if need.name is not None else "need"
    values = pd.to_numeric(need.reindex(table.index)).dropna()
    out = table.iloc[:0].assign(**{name: pd.Series(dtype=float)})
    if len(values):
        count = math.ceil(top_share * len(values) - 1e-9)
        threshold = values.nlargest(count).iloc[-1]
        high = values[values >= threshold]
        out = table.loc[high.index].assign(**{name: high})
        out = out.sort_values(["uncovered_population", "ward_code"], ascending=[False, True])
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
