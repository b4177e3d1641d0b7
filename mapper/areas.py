"""Which LSOA, ward and borough each point lies in (point-in-polygon, EPSG:27700): pure
geometry, in the core layer, so imports, edits and analysis all place points one way.

Rule for points on a boundary: a point on the edge shared by two areas (or on a corner
shared by several) lies in all of them by ``intersects``; it is assigned to the one with
the lowest code, so the answer never depends on row order. Points in no area (in the
Thames between generalised edges, or outside the study area) get no code, and are
counted.
"""

from __future__ import annotations

import math
import operator
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: point column -> (layer, code column in that layer)
AREA_LAYERS = {
    "lsoa_code": ("lsoas", "lsoa_code"),
    "ward_code": ("wards", "ward_code"),
    "borough_code": ("boroughs", "borough_code"),
}


def area_of_points(points: gpd.GeoSeries, areas: gpd.GeoDataFrame, code: str) -> pd.Series:
    """The code of the area each point lies in (lowest code on shared edges), else <NA>.

    Each area polygon is prepared once (a private copy: the caller's geometries are left
    alone) and tested only against the points near it (:func:`_pairs`), with the same
    ``intersects`` predicate throughout: a point on an area's boundary lies in it.
    """
    out = np.full(len(points), pd.NA, dtype=object)
    geoms = np.asarray(points.array, dtype=object)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if valid.any() and not areas.empty:
        pts = geoms if valid.all() else geoms[valid]
        area_pos, point_pos = _pairs(pts, areas.geometry.to_numpy())
        if len(point_pos):
            # lowest code per point, on integer ranks of the sorted codes (vectorised)
            names, rank = np.unique(areas[code].astype(str).to_numpy(), return_inverse=True)
            rank = rank[area_pos]
            none = len(names)
            best = np.full(len(pts), none, dtype=np.int64)
            best[point_pos] = rank
            # points in several areas (on a shared edge or corner) are few: take the
            # minimum of their ranks explicitly, whatever order the pairs came in
            shared = np.bincount(point_pos, minlength=len(pts))[point_pos] > 1
            if shared.any():
                best[point_pos[shared]] = none
                np.minimum.at(best, point_pos[shared], rank[shared])
            found = best < none
            out[np.flatnonzero(valid)[found]] = names[best[found]]
    return pd.Series(out, index=points.index, dtype="object")


#: 2D copies of area arrays, by the id of the caller's array (see :func:`_copy_of`)
_COPIES: dict[int, tuple[weakref.ref, list, np.ndarray]] = {}
#: one placing at a time on the shared copies (each is prepared, used, then unprepared)
_PREPARING = threading.Lock()
#: how many :func:`reusing_copies` blocks are open (copies are kept only inside one)
_REUSING = [0]


@contextmanager
def reusing_copies() -> Iterator[None]:
    """Inside this block, the 2D copy of an area layer is made once and reused by every
    call (a build placing hundreds of incident files in the same areas); outside it, and
    once it ends, each call makes its own and drops it (no memory held)."""
    with _PREPARING:
        _REUSING[0] += 1
    try:
        yield
    finally:
        with _PREPARING:
            _REUSING[0] -= 1
            if not _REUSING[0]:
                _COPIES.clear()


def _copy_of(shapes: np.ndarray) -> np.ndarray:
    """A 2D copy of `shapes` (the caller's geometries are never prepared); inside
    :func:`reusing_copies`, made once per array while the caller holds it: a build
    places every incident file in the same LSOAs, wards and districts, and copying
    England's 33,000 LSOAs took longer than placing a file's points. Only the copy is
    kept: GEOS's prepared indexes are built per call and destroyed after (kept, they
    held gigabytes at England size)."""
    if not _REUSING[0]:
        return shapely.force_2d(shapes)
    key = id(shapes)
    held = _COPIES.get(key)
    if (held is not None and held[0]() is shapes and len(held[1]) == len(shapes)
            and all(map(operator.is_, held[1], shapes))):  # none replaced in place
        return held[2]
    copy = shapely.force_2d(shapes)
    try:
        ref = weakref.ref(shapes, lambda _: _COPIES.pop(key, None))
    except TypeError:  # not weakly referable: a copy for this call only
        return copy
    _COPIES[key] = (ref, shapes.tolist(), copy)
    return copy


#: points per cell of the grid :func:`_pairs` sorts the points into, on average
_POINTS_PER_CELL = 4


def _pairs(points: np.ndarray, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(shape position, point position) of every point that intersects a shape.

    Points (none missing or empty) are sorted into a grid of cells over their bounds;
    each shape's candidates are the points in the cells its bounding box covers, tested
    with ``shapely.intersects_xy`` against a prepared copy of the shape, all pairs at once.
    Anything but points with finite coordinates goes through ``shapely.STRtree`` (the
    tree on the points, each shape prepared once as the query).
    """
    xy = shapely.bounds(points)  # a point's bounds: faster than its coordinates
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    if not ((shapely.get_type_id(points) == 0).all() and np.isfinite(x.sum() + y.sum())):
        return shapely.STRtree(points).query(shapes, predicate="intersects")
    x0, y0, x1, y1 = x.min(), y.min(), x.max(), y.max()
    cells = max(1, int(math.sqrt(len(points) / _POINTS_PER_CELL)))
    width = (x1 - x0) / cells or 1.0
    height = (y1 - y0) / cells or 1.0
    col = np.minimum(((x - x0) / width).astype(np.int64), cells - 1)
    row = np.minimum(((y - y0) / height).astype(np.int64), cells - 1)
    order = np.argsort(row * cells + col, kind="stable")
    start = np.searchsorted((row * cells + col)[order], np.arange(cells * cells + 1))
    # each shape's block of cells: one run of points per row of the block
    box = shapely.bounds(shapes)
    with np.errstate(invalid="ignore"):
        meets = (box[:, 2] >= x0) & (box[:, 0] <= x1) & (box[:, 3] >= y0) & (box[:, 1] <= y1)
    shape_at = np.flatnonzero(meets)
    box = box[meets]
    c0 = np.clip(np.floor((box[:, 0] - x0) / width), 0, cells - 1).astype(np.int64)
    c1 = np.clip(np.floor((box[:, 2] - x0) / width), 0, cells - 1).astype(np.int64)
    r0 = np.clip(np.floor((box[:, 1] - y0) / height), 0, cells - 1).astype(np.int64)
    r1 = np.clip(np.floor((box[:, 3] - y0) / height), 0, cells - 1).astype(np.int64)
    rows = r1 - r0 + 1
    run_shape = np.repeat(shape_at, rows)
    run_row = np.repeat(r0, rows) + np.arange(rows.sum()) - np.repeat(np.cumsum(rows) - rows, rows)
    lo = start[run_row * cells + np.repeat(c0, rows)]
    hi = start[run_row * cells + np.repeat(c1, rows) + 1]
    size = hi - lo
    shape_pos = np.repeat(run_shape, size)
    point_pos = order[np.repeat(lo - np.cumsum(size) + size, size) + np.arange(size.sum())]
    with _PREPARING:
        prepared = _copy_of(shapes)
        shapely.prepare(prepared)
        try:
            hit = shapely.intersects_xy(prepared[shape_pos], x[point_pos], y[point_pos])
        finally:
            shapely.destroy_prepared(prepared)
    return shape_pos[hit], point_pos[hit]


def assign_areas(points: gpd.GeoDataFrame, layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Fill ``lsoa_code``, ``ward_code`` and ``borough_code`` from whichever layers exist."""
    out = points.copy()
    for column, (layer, code) in AREA_LAYERS.items():
        if layer in layers and layers[layer] is not None:
            out[column] = area_of_points(out.geometry, layers[layer], code)
    return out
