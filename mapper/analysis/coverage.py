"""Coverage gaps: people and places farther than a short walk from any community group.

A point is *covered* when some matching group lies within ``radius_m`` of it in a straight
line (EPSG:27700 metres; a group exactly ``radius_m`` away covers it), and *uncovered*
otherwise. The default 800 m is about ten minutes' walk. Population is counted from
population points (for example postcode centroids each carrying a share of their LSOA's
residents) by the ``ward_code`` they carry, each point's distance tested exactly; areas
from the ward polygons minus circles of ``radius_m`` around the matching groups.

Circles are drawn with :data:`BUFFER_QUAD_SEGS` segments per quarter circle (vertices on
the circle, as ``shapely.buffer`` draws them), and where two circles overlap they meet at
the points where the true circles cross. So the covered area holds every point within
``radius_m * cos(pi / 64)`` of a group (0.12% short of the radius: the 64-gons' inner
circle) and no point farther than ``radius_m``: the union of the 64-gon buffers lies
within the same bounds, and the two differ by about 0.002% of the covered area. It is
built without a general polygon union, which would cost more than the rest together:
the Delaunay triangulation of the groups gives, for each pair of neighbouring circles,
the points where they cross outside every other circle, and the boundary of the covered
area is traced from those points along the circles' arcs (:func:`_traced_union`). Each
ward is then clipped once against the covered area around it (:func:`_gap_shapes`).

Groups without a location (missing or empty geometry) cover nobody and are ignored.
Categories are compared stripped and case-blind; ``category=None`` means any group, and
an empty set of categories matches none (so everyone is uncovered).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError, cKDTree

from mapper.analysis._tables import check_frame, check_radius, in_service, point_xy
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
#: threads :func:`coverage_gaps` uses (the GEOS, numpy and scipy calls release the GIL):
#: one counts the people beyond reach while the calling thread builds the covered area,
#: then both clip wards, half each. 1 runs everything in the calling thread.
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
WORKERS = min(2, _CPUS or 1)
#: relative slack so the tree never drops a group exactly on the radius to float rounding
_TOLERANCE = 1e-9
_M2_PER_KM2 = 1e6
#: a raster of cells this many per radius sorts most population points as surely inside
#: or surely outside every circle; only those near a circle's edge are measured exactly
_CELLS_PER_RADIUS = 6
#: covered parts with more vertices are cut into quarters (repeatedly) before wards are
#: clipped against them, so each ward meets only the covered area near it
_TILE_VERTICES = 2048
_EMPTY = shapely.Polygon()


# -- checks ------------------------------------------------------------------------------


def _category_keys(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower()


def _matching_groups(groups: gpd.GeoDataFrame, category) -> gpd.GeoDataFrame:
    """The located, in-service groups of the wanted categories (None: any)."""
    check_frame(groups, "groups", [] if category is None else ["category"])
    x, y = point_xy(groups, "groups")
    keep = np.isfinite(x) & np.isfinite(y) & in_service(groups).to_numpy(dtype=bool)
    if category is not None:
        wanted = {category} if isinstance(category, str) else set(category)
        wanted_keys = {str(c).strip().lower() for c in wanted}
        matches = _category_keys(groups["category"]).isin(wanted_keys)
        keep &= matches.to_numpy(dtype=bool, na_value=False)
    return groups[keep]


def _located_xy(frame: gpd.GeoDataFrame, what: str) -> np.ndarray:
    """The coordinates (2 x n: x, then y) of a frame of points that must all have a
    location."""
    geoms = np.asarray(frame.geometry.array, dtype=object)
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():  # points, none missing
        xy = shapely.bounds(geoms)[:, :2].T.copy()  # a point's bounds: faster than coords
        if np.isfinite(xy.sum()):  # none empty (NaN)
            return xy
    x, y = point_xy(frame, what)
    unlocated = ~(np.isfinite(x) & np.isfinite(y))
    if unlocated.any():
        raise ValueError(
            f"{what} has {int(unlocated.sum())} rows without a location; first: "
            f"{list(frame.index[unlocated][:5])}"
        )
    return np.vstack([x, y])


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
    points = _located_xy(population_points, "population_points")
    gx, gy = point_xy(_matching_groups(groups, category), "groups")
    beyond = _beyond(points, np.column_stack([gx, gy]), radius)
    return pd.Series(beyond, index=population_points.index, name="uncovered")


def uncovered_by_category(
    population_points: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    wards_index,
    *,
    radius_m: float,
) -> pd.DataFrame:
    """Residents with no group of each category within `radius_m`, per ward.

    Parameters
    ----------
    population_points
        Points in EPSG:27700 with ``population`` and ``ward_code``.
    groups
        The groups register (EPSG:27700) with ``category``; only categories held by at
        least one located, in-service group get a column.
    wards_index
        The ward codes of the result.
    radius_m
        Covering distance in metres.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``ward_code`` (every code of `wards_index`), one float column per
        category (its name as written in the register, stripped), sorted by name.
    """
    check_frame(population_points, "population_points", ["population", "ward_code"])
    index = pd.Index(pd.Index(wards_index).astype(str), name="ward_code")
    present = _matching_groups(groups, None) if "category" in groups else groups.iloc[:0]
    names = sorted({str(c).strip() for c in present.get("category", pd.Series(dtype=object))
                    .dropna() if str(c).strip()})
    people = pd.to_numeric(population_points["population"], errors="coerce").fillna(0.0)
    ward = population_points["ward_code"].astype("string")
    out = pd.DataFrame(index=index)
    for name in names:
        beyond = uncovered_population(population_points, groups, radius_m=radius_m,
                                      category=name)
        out[name] = people.where(beyond, 0.0).groupby(ward).sum().reindex(index).fillna(0.0)
    return out


def _beyond(points: np.ndarray, sites: np.ndarray, radius: float) -> np.ndarray:
    """True where the nearest site (rows of `sites`) is farther than `radius` from each
    point (columns of `points`, 2 x n); exact, vectorised.

    A raster of :data:`_CELLS_PER_RADIUS` cells per radius first settles the points in
    cells wholly inside one circle or wholly outside every circle (with a safety margin
    far above float rounding); the nearest site of the rest comes from a KD-tree.
    """
    count = points.shape[1]
    if len(sites) == 0:
        return np.ones(count, dtype=bool)
    if count == 0:
        return np.zeros(0, dtype=bool)
    beyond = np.zeros(count, dtype=bool)
    todo = np.arange(count)
    if radius > 0 and count >= 1000:
        surely_in, touched = _raster_state(points, sites, radius)
        beyond = ~touched
        todo = np.flatnonzero(touched & ~surely_in)
    if len(todo):
        near = np.column_stack([points[0, todo], points[1, todo]])
        bound = radius + _TOLERANCE * max(1.0, radius, float(np.abs(near).max()))
        dist, _ = cKDTree(sites).query(near, k=1, distance_upper_bound=bound)
        beyond[todo] = ~(dist <= radius)  # inf (no site within the bound) is beyond
    return beyond


def _raster_state(
    points: np.ndarray, sites: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per point: surely within `radius` of a site, and maybe within it (when not,
    surely beyond every site).

    Cells of side ``radius / _CELLS_PER_RADIUS`` over the points' bounds (fewer, larger
    cells when there would be more cells than twice the points). For each site and each
    row of cells it reaches, the cells wholly inside its circle (judged at the row's
    farthest edge from the site) and those touching it (at the nearest) are counted
    with a difference array; radii and cell edges carry a margin of 1e-9 of the
    coordinates' size, so rounding can only make a point "not sure".
    """
    px, py = points
    x0, y0, x1, y1 = px.min(), py.min(), px.max(), py.max()
    span = max(x1 - x0, y1 - y0, radius)
    side = max(radius / _CELLS_PER_RADIUS, math.sqrt((x1 - x0 + 1) * (y1 - y0 + 1) / (2 * len(px))))
    # one cell more each way than the points need, so none falls off the far edge
    nx, ny = int((x1 - x0) // side) + 2, int((y1 - y0) // side) + 2
    eps = 1e-9 * max(span, abs(x0), abs(y0), abs(x1), abs(y1))
    near = (
        (sites[:, 0] > x0 - radius - side)
        & (sites[:, 0] < x1 + radius + side)
        & (sites[:, 1] > y0 - radius - side)
        & (sites[:, 1] < y1 + radius + side)
    )
    sx, sy = sites[near, 0:1], sites[near, 1:2]
    reach = int(math.ceil(radius / side)) + 1
    row = np.floor((sy - y0) / side).astype(np.int64) + np.arange(-reach, reach + 1)
    low = y0 + row * side - eps  # each row's band, widened by the margin
    high = y0 + (row + 1) * side + eps
    far = np.maximum(np.abs(low - sy), np.abs(high - sy))
    close = np.where(
        (sy >= low) & (sy <= high), 0.0, np.minimum(np.abs(low - sy), np.abs(high - sy))
    )
    in_rows = (row >= 0) & (row < ny)
    width = nx + 1
    counts = []
    for reach_m, dy, inner in ((radius - eps, far, True), (radius + eps, close, False)):
        ok = in_rows & (dy <= reach_m)
        half = np.sqrt(np.where(ok, reach_m * reach_m - dy * dy, 0.0))
        left = (sx - half - x0) / side
        right = (sx + half - x0) / side
        if inner:  # cells wholly between left and right
            first, stop = np.ceil(left + 1e-9), np.floor(right - 1e-9)
        else:  # cells that left..right touches
            first, stop = np.floor(left - 1e-9), np.floor(right + 1e-9) + 1
        first, stop = np.clip(first, 0, nx), np.clip(stop, 0, nx)
        ok &= stop > first
        at = row[ok] * width
        diff = np.bincount(at + first[ok].astype(np.int64), minlength=ny * width)
        diff -= np.bincount(at + stop[ok].astype(np.int64), minlength=ny * width)
        counts.append(np.cumsum(diff.reshape(ny, width)[:, :nx], axis=1).ravel() > 0)
    cell = ((py - y0) / side).astype(np.int64) * nx + ((px - x0) / side).astype(np.int64)
    return counts[0][cell], counts[1][cell]


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
        part of the ward beyond `radius_m` of every matching group (see the module notes
        on how circles are drawn).
    """
    check_frame(wards, "wards", ["ward_code"])
    check_frame(population_points, "population_points", ["population", "ward_code"])
    _check_unique_codes(wards)
    radius = check_radius(radius_m)
    gx, gy = point_xy(_matching_groups(groups, category), "groups")
    sites = np.column_stack([gx, gy])
    codes = pd.Index(wards["ward_code"], name="ward_code")
    if WORKERS > 1:  # people in one thread, places in this one
        with ThreadPoolExecutor(max_workers=WORKERS - 1) as pool:
            counted = pool.submit(_count_people, population_points, sites, radius, codes)
            gap_shapes = _gap_shapes(wards.geometry, sites, radius, pool)
            people, unreached = counted.result()
    else:
        people, unreached = _count_people(population_points, sites, radius, codes)
        gap_shapes = _gap_shapes(wards.geometry, sites, radius)
    table = _coverage_table(wards, codes, people, unreached, gap_shapes)
    return table, _gap_frame(table, gap_shapes)


def _count_people(
    population_points: gpd.GeoDataFrame, sites: np.ndarray, radius: float, codes: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """The population of each ward of `codes` (by the points' ``ward_code``; other
    points left out; a missing population counts as none) and of it the part farther
    than `radius` from every site."""
    points = _located_xy(population_points, "population_points")
    uncovered = _beyond(points, sites, radius)
    population = pd.to_numeric(population_points["population"]).to_numpy(dtype=float)
    population = np.where(np.isnan(population), 0.0, population)  # as a sum skips NaN
    ward = codes.get_indexer(population_points["ward_code"])  # -1: not one of the wards
    mine = ward >= 0
    people = np.bincount(ward[mine], weights=population[mine], minlength=len(codes))
    beyond = np.where(uncovered, population, 0.0)[mine]
    return people, np.bincount(ward[mine], weights=beyond, minlength=len(codes))


def _check_unique_codes(wards: gpd.GeoDataFrame) -> None:
    codes = wards["ward_code"]
    repeated = codes[codes.duplicated()].unique()
    if len(repeated) or codes.isna().any():
        raise ValueError(
            f"wards ward_code must be unique and never blank; got repeats "
            f"{list(repeated[:5])} and {int(codes.isna().sum())} blanks"
        )


# -- the covered area --------------------------------------------------------------------


def _gap_shapes(
    wards: gpd.GeoSeries,
    sites: np.ndarray,
    radius: float,
    pool: ThreadPoolExecutor | None = None,
) -> np.ndarray:
    """Each ward minus the circles of `radius` around `sites` (an n x 2 array).

    The covered area is built once (:func:`_covered_parts`) and its large parts cut into
    tiles. Each ward meets the tiles over its bounding box, first cut to that box (a
    little widened, see :func:`_tiles`): when they fill the box the ward has nothing
    left; when there are none it is left whole; otherwise it is clipped against them
    with one ``shapely.difference`` (half the wards in `pool`'s thread, if given). The
    tiles are interior-disjoint pieces that may share edges, which GEOS's overlay
    dissolves.
    """
    shapes = wards.to_numpy().copy()
    located = np.flatnonzero(~(shapely.is_missing(shapes) | shapely.is_empty(shapes)))
    if len(sites) == 0 or radius == 0 or not len(located):
        return shapes
    parts = _covered_parts(sites, radius)
    if len(parts) == 0:
        return shapes
    tiles = _tiles(parts, _TILE_VERTICES)
    at, tile = shapely.STRtree(tiles).query(shapes[located])
    box = _padded(shapely.bounds(shapes[located]))
    # tiles inside the box are taken whole; the others are cut to it
    bounds = shapely.bounds(tiles)[tile]
    within = (bounds[:, :2] >= box[at, :2]).all(axis=1) & (bounds[:, 2:] <= box[at, 2:]).all(axis=1)
    cut = np.flatnonzero(~within)
    clipped, which = shapely.get_parts(
        _clip_by_rects(tiles[tile[cut]], box[at[cut]]), return_index=True
    )
    pieces = np.concatenate([tiles[tile[within]], clipped])
    owner = np.concatenate([at[within], at[cut[which]]])
    area = shapely.area(pieces)
    keep = np.flatnonzero((shapely.get_type_id(pieces) == 3) & (area > 0))
    keep = keep[np.argsort(owner[keep], kind="stable")]  # by ward
    pieces, owner, area = pieces[keep], owner[keep], area[keep]
    if len(pieces) == 0:
        return shapes
    # the pieces do not overlap: when their areas add up to the box's, they fill it
    box_area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    full = np.bincount(owner, weights=area, minlength=len(located)) >= box_area * (1 - 1e-9)
    for pos in located[full]:
        shapes[pos] = _EMPTY
    partly = ~full[owner]
    wards_hit, position = np.unique(owner[partly], return_inverse=True)
    if len(wards_hit):
        covers = shapely.multipolygons(pieces[partly], indices=position)
        targets = located[wards_hit]
        shapes[targets] = _run_split(_subtract, shapes[targets], covers, pool)
    return shapes


def _subtract(shapes: np.ndarray, covers: np.ndarray) -> np.ndarray:
    """``shapes - covers`` element-wise; a GEOS error on one pair falls back to
    dissolving that pair's covering pieces first."""
    try:
        return shapely.difference(shapes, covers)
    except shapely.errors.GEOSException:
        out = np.empty(len(shapes), dtype=object)
        for i, (shape, cover) in enumerate(zip(shapes, covers, strict=True)):
            try:
                out[i] = shapely.difference(shape, cover)
            except shapely.errors.GEOSException:
                out[i] = shapely.difference(shape, shapely.union_all(shapely.get_parts(cover)))
        return out


def _run_split(
    func: Callable[[np.ndarray, np.ndarray], np.ndarray],
    a: np.ndarray,
    b: np.ndarray,
    pool: ThreadPoolExecutor | None,
) -> np.ndarray:
    """``func(a, b)`` on two halves at once (the other half in `pool`), or in one go."""
    if pool is None or len(a) < 16:
        return func(a, b)
    half = len(a) // 2
    other: Future = pool.submit(func, a[half:], b[half:])
    first = func(a[:half], b[:half])
    return np.concatenate([first, other.result()])


def _covered_parts(sites: np.ndarray, radius: float) -> np.ndarray:
    """The union of the circles around `sites`, as disjoint polygons.

    Traced from the Delaunay triangulation (:func:`_circle_runs`, :func:`_traced_union`),
    in coordinates from a local origin, the sites rounded to the millimetre (so no two
    are closer than that). Should the tracing find its crossing points inconsistent
    (float rounding in a degenerate layout), the circle pieces are dissolved with
    ``coverage_union_all`` instead (:func:`_dissolved_pieces`); should that fail too, or
    the sites have no sound triangulation (fewer than 3, all in a line), GEOS unions the
    64-gons. A traced part whose boundary touches itself (circles meeting at exactly one
    vertex) is made valid by GEOS.
    """
    local, origin = _local_sites(sites)
    runs = _circle_runs(local, radius) if len(local) >= 3 else None
    parts = None
    if runs is not None:
        parts = _traced_union(local, radius, runs, origin)
        if parts is None:
            try:
                parts = _dissolved_pieces(local, radius, runs, origin)
            except shapely.errors.GEOSException:  # pieces not matching exactly
                parts = None
    if parts is None:
        circles = shapely.buffer(shapely.points(local + origin), radius, quad_segs=BUFFER_QUAD_SEGS)
        parts = shapely.get_parts(shapely.union_all(circles))
    invalid = ~shapely.is_valid(parts)
    if invalid.any():
        mended = shapely.get_parts(shapely.make_valid(parts[invalid]))
        parts = np.concatenate([parts[~invalid], mended[shapely.get_type_id(mended) == 3]])
    return parts[~shapely.is_empty(parts)]


def _local_sites(sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct sites measured from a whole-metre origin, rounded to the millimetre,
    and that origin."""
    if len(sites) == 0:
        return sites.reshape(0, 2), np.zeros(2)
    origin = np.floor(sites.min(axis=0))
    local = np.round(sites - origin, 3)
    local = local[np.lexsort((local[:, 1], local[:, 0]))]
    fresh = np.r_[True, (local[1:] != local[:-1]).any(axis=1)]
    return local[fresh], origin


class _Runs(NamedTuple):
    """Where neighbouring circles meet (see :func:`_circle_runs`)."""

    a: np.ndarray  #: the two sites of each Delaunay edge whose circles share a run
    b: np.ndarray
    start: np.ndarray  #: the run's ends (m x 2), on the bisector of a and b
    end: np.ndarray
    start_crossing: np.ndarray  #: True where that end is a point where the circles cross
    end_crossing: np.ndarray  #: (else it is a Voronoi vertex inside the circles)
    kept: np.ndarray  #: n x 64: each circle vertex outside every other circle


def _circle_runs(sites: np.ndarray, radius: float) -> _Runs | None:
    """Where each circle meets its neighbours, from the Delaunay triangulation of the
    distinct `sites` (None when they have none: fewer than 3, all in a line).

    The part of circle *i* nearer site *i* than any other site is the circle cut by the
    perpendicular bisectors of the Delaunay edges from *i* shorter than ``2 * radius``.
    Two neighbouring parts share a *run* of their bisector: between the points where the
    circles cross, or the Voronoi vertices (triangle circumcentres) inside the circles.
    Those ends are computed once per edge (or triangle), so whatever is built from them
    matches exactly on both sides. A circle vertex (every ``2 pi / 64`` from angle 0, as
    ``shapely.buffer`` draws them) is *kept* when it lies strictly outside the reach of
    every neighbour (the arc within ``acos(d / 2 radius)`` of the direction to a
    neighbour at distance d lies inside that neighbour's circle).
    """
    try:
        tri = Delaunay(sites)
    except (QhullError, ValueError):
        return None
    if len(tri.coplanar):  # a site left out of the triangulation
        return None
    n = len(sites)
    simplex, neighbour = tri.simplices, tri.neighbors
    centre = _circumcentres(sites, simplex)
    reach = ((centre - sites[simplex[:, 0]]) ** 2).sum(axis=1)  # squared circumradius
    if not _is_delaunay(sites, simplex, neighbour, centre, reach):
        return None
    inside = reach <= radius * radius
    # each edge once: triangle t, the vertex k opposite it, the triangle across (or -1)
    t = np.repeat(np.arange(len(simplex)), 3)
    k = np.tile(np.arange(3), len(simplex))
    across = neighbour.ravel()
    once = (across < 0) | (t < across)
    t, k, across = t[once], k[once], across[once]
    a, b, opposite = simplex[t, (k + 1) % 3], simplex[t, (k + 2) % 3], simplex[t, k]
    step = sites[b] - sites[a]
    length = np.hypot(step[:, 0], step[:, 1])
    near = length < 2 * radius
    a, b, opposite, step, length = a[near], b[near], opposite[near], step[near], length[near]
    t, across = t[near], across[near]
    # the bisector as mid + s * normal; the Voronoi edge is s in [low, high]
    mid = (sites[a] + sites[b]) / 2
    normal = np.column_stack([-step[:, 1], step[:, 0]]) / length[:, None]
    half_chord = np.sqrt(radius * radius - length * length / 4)
    s_here = ((centre[t] - mid) * normal).sum(axis=1)
    two = across >= 0
    s_there = np.where(two, ((centre[np.maximum(across, 0)] - mid) * normal).sum(axis=1), 0.0)
    # a hull edge's Voronoi edge is a ray from the circumcentre away from the third site
    away_low = ((sites[opposite] - mid) * normal).sum(axis=1) > 0
    low = np.where(two, np.minimum(s_here, s_there), np.where(away_low, -np.inf, s_here))
    high = np.where(two, np.maximum(s_here, s_there), np.where(away_low, s_here, np.inf))
    low_tri = np.where(two, np.where(s_here <= s_there, t, across), np.where(away_low, -1, t))
    high_tri = np.where(two, np.where(s_here <= s_there, across, t), np.where(away_low, t, -1))
    low_in = (low_tri >= 0) & inside[np.maximum(low_tri, 0)]
    high_in = (high_tri >= 0) & inside[np.maximum(high_tri, 0)]
    # the run: from the Voronoi vertex inside the circles, else the crossing point
    shared = ~((~low_in & (low > 0)) | (~high_in & (high < 0)))
    shared &= np.where(low_in, low, -half_chord) < np.where(high_in, high, half_chord)
    start = np.where(
        low_in[:, None], centre[np.maximum(low_tri, 0)], mid - half_chord[:, None] * normal
    )
    end = np.where(
        high_in[:, None], centre[np.maximum(high_tri, 0)], mid + half_chord[:, None] * normal
    )
    # circle vertices within +-alpha of the direction to a neighbour nearer than 2 radius
    # are inside it: mark those arcs on a difference array over each circle's turn
    segs = 4 * BUFFER_QUAD_SEGS
    turn = 2 * math.pi / segs
    towards = np.arctan2(step[:, 1], step[:, 0])
    alpha = np.arccos(np.clip(length / (2 * radius), -1.0, 1.0))
    owner = np.concatenate([a, b])
    direction = np.concatenate([towards, towards + math.pi])
    alpha = np.concatenate([alpha, alpha])
    first = np.floor((direction - alpha) / turn).astype(np.int64) + 1
    count = np.minimum(np.ceil((direction + alpha) / turn).astype(np.int64) - first, segs)
    cut = count > 0
    owner, first, count = owner[cut], first[cut] % segs, count[cut]
    stop = first + count
    wraps = stop > segs
    row = segs + 1
    on = np.concatenate([owner * row + first, owner[wraps] * row])
    off = np.concatenate(
        [owner * row + np.minimum(stop, segs), owner[wraps] * row + stop[wraps] - segs]
    )
    removed = np.bincount(on, minlength=n * row) - np.bincount(off, minlength=n * row)
    kept = np.cumsum(removed.reshape(n, row)[:, :segs], axis=1) == 0
    return _Runs(
        a[shared], b[shared], start[shared], end[shared], ~low_in[shared], ~high_in[shared], kept
    )


def _is_delaunay(
    sites: np.ndarray,
    simplex: np.ndarray,
    neighbour: np.ndarray,
    centre: np.ndarray,
    reach: np.ndarray,
) -> bool:
    """Whether no triangle's circumcircle holds the far vertex of a triangle next to it
    (beyond a rounding margin): Qhull can be a rounding error off in a near-degenerate
    layout, and the runs assume a true Delaunay triangulation."""
    t, k = np.nonzero(neighbour >= 0)
    across = neighbour[t, k]
    far = simplex[across, np.argmax(neighbour[across] == t[:, None], axis=1)]
    gap = ((centre[t] - sites[far]) ** 2).sum(axis=1) - reach[t]
    return bool((gap >= -1e-9 * reach[t] - 1e-6).all())


def _circle_vertices(sites: np.ndarray, radius: float, kept: np.ndarray):
    """The kept circle vertices: their site, angle, sort key (site, angle) and x, y."""
    turn = 2 * math.pi / kept.shape[1]
    site, k = np.nonzero(kept)
    angle = k * turn
    xy = sites[site] + radius * np.column_stack([np.cos(angle), np.sin(angle)])
    return site, angle, site * 8.0 + angle, xy


def _angles(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The direction of each point from its centre, in [0, 2 pi]."""
    angle = np.arctan2(points[:, 1] - centres[:, 1], points[:, 0] - centres[:, 0])
    return np.where(angle < 0, angle + 2 * math.pi, angle)


def _traced_union(
    sites: np.ndarray, radius: float, runs: _Runs, origin: np.ndarray
) -> np.ndarray | None:
    """The union of the circles as polygons, traced from the circles' crossing points.

    The union's boundary is made of *arcs*: runs of kept vertices of one circle between
    two crossing points (run ends that are not Voronoi vertices). Going round a circle
    anticlockwise, a crossing point either starts an arc on it (the boundary arrives
    from the other circle) or ends one: the start of a run (from site a's side) ends an
    arc on a and starts one on b, its end the reverse. Each crossing point starts exactly
    one arc, so an arc is named by it, and the arc's successor is the crossing point that
    ends it. Following successors gives rings, anticlockwise around the covered parts
    and clockwise around the uncovered holes in them; each hole goes into the smallest
    part around it. Circles no other circle reaches are whole 64-gons. Returns None when
    the crossing points on some circle do not alternate start/end (rounding in a
    degenerate layout), for the caller to fall back on.
    """
    n = len(runs.kept)
    m_start, m_end = np.flatnonzero(runs.start_crossing), np.flatnonzero(runs.end_crossing)
    point = np.concatenate([runs.start[m_start], runs.end[m_end]])
    # crossing point c: the circle it starts an arc on, and the one it ends an arc on
    begins = np.concatenate([runs.b[m_start], runs.a[m_end]])
    ends = np.concatenate([runs.a[m_start], runs.b[m_end]])
    cut = np.zeros(n, dtype=bool)
    cut[begins] = cut[ends] = True
    rings = []
    if len(point):
        traced = _trace_arcs(sites, radius, runs.kept, cut, point, begins, ends, origin)
        if traced is None:
            return None
        rings.append(traced)
    whole = ~cut & runs.kept.all(axis=1)  # circles no other circle reaches
    if whole.any():
        w_site, _, _, w_xy = _circle_vertices(sites[whole], radius, runs.kept[whole])
        rings.append(shapely.linearrings(w_xy + origin, indices=w_site))
    if not rings:
        return np.empty(0, dtype=object)
    return _rings_to_polygons(np.concatenate(rings))


def _trace_arcs(
    sites: np.ndarray,
    radius: float,
    kept: np.ndarray,
    cut: np.ndarray,
    point: np.ndarray,
    begins: np.ndarray,
    ends: np.ndarray,
    origin: np.ndarray,
) -> np.ndarray | None:
    """The rings through the crossing points `point` (see :func:`_traced_union`)."""
    count = len(point)
    # every crossing point twice, on each of its circles, in anticlockwise order
    circle = np.concatenate([begins, ends])
    angle = _angles(np.concatenate([point, point]), sites[circle])
    is_start = np.arange(2 * count) < count
    key = circle * 8.0 + angle
    order = np.lexsort((is_start, key))  # at a tie, the end before the start
    circle, key, is_start = circle[order], key[order], is_start[order]
    ident = np.concatenate([np.arange(count), np.arange(count)])[order]
    # on each circle the points must alternate start, end, ... (round the circle); the
    # point after a start (wrapping round) is the end of its arc
    first = np.r_[True, circle[1:] != circle[:-1]]
    block = np.cumsum(first) - 1
    block_start = np.flatnonzero(first)
    at = np.arange(len(circle)) - block_start[block]
    size = np.bincount(block)[block]
    nxt = np.arange(len(circle)) + 1
    wrap = (at + 1) == size
    nxt[wrap] = block_start[block[wrap]]
    if (size % 2).any() or (is_start == is_start[nxt]).any():
        return None
    arc_start = np.flatnonzero(is_start)
    arc = ident[arc_start]  # arcs are named by their starting crossing point
    successor = np.empty(count, dtype=np.int64)
    successor[arc] = ident[nxt[arc_start]]
    start_key = np.empty(count)
    start_key[arc] = key[arc_start]
    end_key = np.empty(count)
    end_key[arc] = key[nxt[arc_start]]
    end_key = np.where(end_key < start_key, end_key + 2 * math.pi, end_key)  # past angle 0
    # each kept vertex of a cut circle: on the arc of the last start at or before it on
    # its circle, or, before the first, on the circle's last arc (wrapping past angle 0)
    v_site, _, v_key, v_xy = _circle_vertices(sites, radius, kept & cut[:, None])
    s_circle, s_key = circle[arc_start], key[arc_start]
    last = np.full(len(kept), -1, dtype=np.int64)
    last[s_circle] = np.arange(len(s_circle))
    where = np.searchsorted(s_key, v_key, side="right") - 1
    behind = (where < 0) | (s_circle[np.maximum(where, 0)] != v_site)
    on = arc[np.where(behind, last[v_site], where)]
    turn = np.where(behind, v_key + 2 * math.pi, v_key)
    inside = (turn > start_key[on]) & (turn < end_key[on])  # else a stray (rounding)
    on, turn, v_xy = on[inside], turn[inside], v_xy[inside]
    # rings: the cycles of successor; each arc gives its crossing point, then its vertices
    ring, rank = _cycles(successor)
    item_ring = np.concatenate([ring, ring[on]])
    item_rank = np.concatenate([rank, rank[on]])
    item_turn = np.concatenate([np.full(count, -1.0), turn])
    order = np.lexsort((item_turn, item_rank, item_ring))
    item_xy = np.concatenate([point, v_xy])
    return shapely.linearrings(item_xy[order] + origin, indices=item_ring[order])


def _cycles(successor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a permutation given by `successor`: each element's cycle, numbered 0, 1, ...
    in the order of their lowest elements, and its place in the cycle counted from that
    lowest element (pointer doubling: about log2(n) vectorised rounds)."""
    n = len(successor)
    rounds = max(1, int(n).bit_length())
    head, jump = np.arange(n), successor.copy()
    for _ in range(rounds):  # the lowest element within 2^k steps
        head = np.minimum(head, head[jump])
        jump = jump[jump]
    # steps to the head going forward (the head stops there: 0 steps, pointing at itself)
    is_head = head == np.arange(n)
    dist = np.where(is_head, 0, 1)
    link = np.where(is_head, np.arange(n), successor)
    for _ in range(rounds):
        dist = dist + dist[link]
        link = link[link]
    length = np.bincount(head, minlength=n)[head]
    _, cycle = np.unique(head, return_inverse=True)
    return cycle, (length - dist) % length


def _rings_to_polygons(rings: np.ndarray) -> np.ndarray | None:
    """Polygons from traced rings: anticlockwise ones are shells, clockwise ones holes,
    each hole in the smallest shell containing it (None if some hole is in none)."""
    rings = rings[shapely.area(shapely.polygons(rings)) > 0]  # none collapsed to a line
    ccw = shapely.is_ccw(rings)
    shells, holes = rings[ccw], rings[~ccw]
    shell_shapes = shapely.polygons(shells)
    owner = np.zeros(0, dtype=np.int64)
    if len(holes):
        found_shell, found_hole = shapely.STRtree(shapely.polygons(holes)).query(
            shell_shapes, predicate="contains"
        )
        if not len(found_hole):
            return None
        order = np.lexsort((shapely.area(shell_shapes)[found_shell], found_hole))
        found_shell, found_hole = found_shell[order], found_hole[order]
        smallest = np.r_[True, found_hole[1:] != found_hole[:-1]]
        owner = np.full(len(holes), -1, dtype=np.int64)
        owner[found_hole[smallest]] = found_shell[smallest]
        if (owner < 0).any():
            return None
    polygon = np.concatenate([np.arange(len(shells)), owner])
    is_hole = np.r_[np.zeros(len(shells), dtype=bool), np.ones(len(holes), dtype=bool)]
    order = np.lexsort((is_hole, polygon))
    return shapely.polygons(np.concatenate([shells, holes])[order], indices=polygon[order])


def _dissolved_pieces(
    sites: np.ndarray, radius: float, runs: _Runs, origin: np.ndarray
) -> np.ndarray:
    """The union of the circles as the pieces of :func:`_circle_runs`, dissolved.

    Piece *i* is the part of circle *i* nearer site *i* than any other site: its kept
    vertices and the ends of its runs, in angle order round the site (the piece is
    convex and holds its site). Neighbouring pieces share run ends exactly, so each
    cluster of pieces joined by runs is dissolved with ``coverage_union_all``. Pieces with
    fewer than three distinct vertices (slivers under a 64th of a turn) are dropped.
    """
    n = len(sites)
    v_site, _, v_key, v_xy = _circle_vertices(sites, radius, runs.kept)
    e_site = np.concatenate([runs.a, runs.a, runs.b, runs.b])
    e_xy = np.concatenate([runs.start, runs.end, runs.start, runs.end])
    e_key = e_site * 8.0 + _angles(e_xy, sites[e_site])
    order = np.argsort(e_key, kind="stable")
    e_key, e_xy, e_site = e_key[order], e_xy[order], e_site[order]
    # merge the two key-sorted lists
    total = len(v_key) + len(e_key)
    v_at = np.arange(len(v_key)) + np.searchsorted(e_key, v_key, side="left")
    e_at = np.arange(len(e_key)) + np.searchsorted(v_key, e_key, side="right")
    xy = np.empty((total, 2))
    site = np.empty(total, dtype=np.int64)
    xy[v_at], site[v_at] = v_xy, v_site
    xy[e_at], site[e_at] = e_xy, e_site
    repeat = np.zeros(total, dtype=bool)  # a Voronoi vertex met from two edges
    repeat[1:] = (site[1:] == site[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
    xy, site = xy[~repeat], site[~repeat]
    enough = np.bincount(site, minlength=n) >= 3
    keep = enough[site]
    _, ring = np.unique(site[keep], return_inverse=True)
    pieces = shapely.polygons(shapely.linearrings(xy[keep] + origin, indices=ring))
    graph = coo_matrix((np.ones(len(runs.a)), (runs.a, runs.b)), shape=(n, n))
    cluster = connected_components(graph, directed=False)[1][enough]
    size = np.bincount(cluster)
    alone = size[cluster] == 1
    out = [pieces[alone]]
    if not alone.all():
        rest = np.flatnonzero(~alone)
        _, group = np.unique(cluster[rest], return_inverse=True)
        order = np.argsort(group, kind="stable")
        count = np.bincount(group)
        slot = np.arange(len(group)) - np.repeat(np.cumsum(count) - count, count)
        table = np.full((len(count), int(count.max())), None, dtype=object)
        table[group[order], slot] = pieces[rest[order]]
        out.append(shapely.get_parts(shapely.coverage_union_all(table, axis=1)))
    return np.concatenate(out)


def _circumcentres(points: np.ndarray, simplex: np.ndarray) -> np.ndarray:
    """The circumcentre of each triangle (rows of `simplex` index `points`)."""
    a = points[simplex[:, 0]]
    b = points[simplex[:, 1]] - a
    c = points[simplex[:, 2]] - a
    bb, cc = (b * b).sum(axis=1), (c * c).sum(axis=1)
    det = 2.0 * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.column_stack([c[:, 1] * bb - b[:, 1] * cc, b[:, 0] * cc - c[:, 0] * bb])
        return a + offset / det[:, None]


def _tiles(parts: np.ndarray, max_vertices: int) -> np.ndarray:
    """`parts` with those over `max_vertices` cut in four, repeatedly; the pieces of a
    part share their cut edges.

    The cuts run a little off the middle of the part's bounds (:func:`_clip_by_rects` is
    fast but can go wrong where an edge runs exactly along the cut or a vertex lies on a
    corner, which odd fractions avoid), and a part whose four pieces do not add up to
    its area is cut by GEOS's overlay instead.
    """
    done = [parts[:0]]
    todo = parts
    while len(todo):
        big = shapely.get_num_coordinates(todo) > max_vertices
        done.append(todo[~big])
        todo = todo[big]
        if not len(todo):
            break
        x0, y0, x1, y1 = shapely.bounds(todo).T
        xm, ym = x0 + (x1 - x0) * 0.5137, y0 + (y1 - y0) * 0.4871
        rects = [(x0, y0, xm, ym), (xm, y0, x1, ym), (x0, ym, xm, y1), (xm, ym, x1, y1)]
        quarters = np.stack([_clip_by_rects(todo, np.column_stack(r)) for r in rects])
        whole = shapely.area(todo)
        wrong = ~np.isclose(shapely.area(quarters).sum(axis=0), whole, rtol=1e-9, atol=1e-6)
        for i in np.flatnonzero(wrong):
            boxes = [shapely.box(*rect) for rect in np.array(rects)[:, :, i]]
            quarters[:, i] = shapely.intersection(todo[i], boxes)
        cut = shapely.get_parts(quarters.ravel())
        todo = cut[(shapely.get_type_id(cut) == 3) & (shapely.area(cut) > 0)]
    return np.concatenate(done)


def _clip_by_rects(geoms: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """``shapely.clip_by_rect`` of each geometry by its own rectangle (rows of `rects`:
    xmin, ymin, xmax, ymax). The public function takes one rectangle; its ufunc
    broadcasts, and a loop stands in should it ever be missing."""
    ufunc = getattr(getattr(shapely, "lib", None), "clip_by_rect", None)
    if ufunc is not None:
        return ufunc(geoms, *np.asarray(rects, dtype=float).T)
    return np.array(
        [shapely.clip_by_rect(g, *rect) for g, rect in zip(geoms, rects, strict=True)],
        dtype=object,
    )


def _padded(bounds: np.ndarray) -> np.ndarray:
    """Bounding boxes widened a little, by odd amounts (see :func:`_tiles`)."""
    size = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    pad = (size * 1e-3 + 0.0173)[:, None] * np.array([-1.0, -1.1, 1.2, 1.3])
    return bounds + pad


def _coverage_table(
    wards: gpd.GeoDataFrame,
    codes: pd.Index,
    people: np.ndarray,
    unreached: np.ndarray,
    gap_shapes: np.ndarray,
) -> pd.DataFrame:
    area = shapely.area(wards.geometry.to_numpy()) / _M2_PER_KM2
    gap_area = shapely.area(gap_shapes) / _M2_PER_KM2
    columns = {
        "population": people,
        "uncovered_population": unreached,
        "uncovered_share": _share(unreached, people),
        "area_km2": area,
        "uncovered_area_km2": gap_area,
        "uncovered_area_share": _share(gap_area, area),
    }
    return pd.DataFrame(columns, index=codes)[TABLE_COLUMNS]


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, NaN where whole is 0 (never a division by zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole > 0, part / np.where(whole > 0, whole, 1.0), np.nan)


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
