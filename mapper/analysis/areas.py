"""Which LSOA, ward and borough each point lies in (point-in-polygon, EPSG:27700).

Rule for points on a boundary: a point on the edge shared by two areas (or on a corner
shared by several) lies in all of them by ``intersects``; it is assigned to the one with
the lowest code, so the answer never depends on row order. Points in no area (in the
Thames between generalised edges, or outside the study area) get no code, and are
counted.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

#: point column -> (layer, code column in that layer)
AREA_LAYERS = {
    "lsoa_code": ("lsoas", "lsoa_code"),
    "ward_code": ("wards", "ward_code"),
    "borough_code": ("boroughs", "borough_code"),
}


def area_of_points(points: gpd.GeoSeries, areas: gpd.GeoDataFrame, code: str) -> pd.Series:
    """The code of the area each point lies in (lowest code on shared edges), else <NA>."""
    out = pd.Series(pd.NA, index=points.index, dtype="object")
    valid = ~(points.isna() | points.is_empty).to_numpy()
    if not valid.any() or areas.empty:
        return out
    pts = points.array[valid]
    point_pos, area_pos = areas.sindex.query(pts, predicate="intersects")
    if len(point_pos) == 0:
        return out
    # lowest code per point, on integer ranks of the sorted codes (fast, vectorised)
    names, rank = np.unique(areas[code].astype(str).to_numpy(), return_inverse=True)
    rank = rank[area_pos]
    order = np.lexsort((rank, point_pos))
    point_sorted, rank_sorted = point_pos[order], rank[order]
    first = np.r_[True, point_sorted[1:] != point_sorted[:-1]]
    idx = np.flatnonzero(valid)[point_sorted[first]]
    out.iloc[idx] = names[rank_sorted[first]]
    return out


def assign_areas(points: gpd.GeoDataFrame, layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Fill ``lsoa_code``, ``ward_code`` and ``borough_code`` from whichever layers exist."""
    out = points.copy()
    for column, (layer, code) in AREA_LAYERS.items():
        if layer in layers and layers[layer] is not None:
            out[column] = area_of_points(out.geometry, layers[layer], code)
    return out
