"""Coordinate reference systems: the only place that reprojects.

All distances, areas and contiguity are computed in British National Grid (metres);
geometry is converted to WGS84 only for display, by :func:`to_display`.
"""

from __future__ import annotations

import math
import threading

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer

from mapper.errors import MapperError, Problem

CRS_ANALYSIS = "EPSG:27700"
CRS_DISPLAY = "EPSG:4326"

# Envelopes used to recognise coordinates with no declared CRS.
# British National Grid covers Great Britain within these metres.
BNG_BOUNDS = (0.0, 0.0, 700_000.0, 1_300_000.0)
# Longitude/latitude of Great Britain and its waters.
UK_LONLAT_BOUNDS = (-9.0, 49.0, 3.0, 61.0)


def _within(bounds, envelope) -> bool:
    minx, miny, maxx, maxy = bounds
    return (
        minx >= envelope[0] and miny >= envelope[1] and maxx <= envelope[2] and maxy <= envelope[3]
    )


def looks_swapped(bounds) -> bool:
    """True when lon/lat bounds look like latitude and longitude swapped for the UK."""
    minx, miny, maxx, maxy = bounds
    return _within((miny, minx, maxy, maxx), UK_LONLAT_BOUNDS) and not _within(
        bounds, UK_LONLAT_BOUNDS
    )


def infer_crs(bounds) -> str | None:
    """Guess the CRS of coordinates with none declared, only when unambiguous.

    Returns CRS_DISPLAY for UK longitude/latitude, CRS_ANALYSIS for British National
    Grid metres (some coordinate beyond 1,000, which no longitude reaches), else None.
    """
    if not all(math.isfinite(b) for b in bounds):
        return None
    if _within(bounds, UK_LONLAT_BOUNDS):
        return CRS_DISPLAY
    if _within(bounds, BNG_BOUNDS) and max(abs(b) for b in bounds) > 1_000:
        return CRS_ANALYSIS
    return None


def to_analysis(frame: gpd.GeoDataFrame, *, file: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Return `frame` in EPSG:27700, inferring a missing CRS when it is unambiguous.

    Raises MapperError naming the file when the CRS is missing and cannot be inferred.
    Returns the reprojected frame and the warnings raised on the way.
    """
    notes: list[Problem] = []
    bounds = tuple(float(b) for b in frame.total_bounds) if len(frame) else (0, 0, 0, 0)
    geographic = frame.crs is None or CRS.from_user_input(frame.crs).is_geographic
    if geographic and looks_swapped(bounds):
        raise MapperError(
            f"{file}: coordinates span x {bounds[0]:.4g} to {bounds[2]:.4g} and y {bounds[1]:.4g} "
            f"to {bounds[3]:.4g}: latitude and longitude look swapped (x should be the "
            "longitude, about -9 to 3 in the UK; y the latitude, about 49 to 61)"
        )
    if frame.crs is None:
        guess = infer_crs(bounds)
        if guess is None:
            raise MapperError(
                f"{file}: the file declares no coordinate reference system and its coordinates "
                f"(bounds {_fmt_bounds(bounds)}) are neither British National Grid metres nor "
                "UK longitude/latitude; save it with a CRS (for example EPSG:27700) and import "
                "again"
            )
        notes.append(
            Problem(
                file,
                f"no coordinate reference system declared; coordinates look like {guess} "
                f"({'British National Grid' if guess == CRS_ANALYSIS else 'WGS84 lon/lat'}) "
                "and were read as such",
                severity="warning",
            )
        )
        frame = frame.set_crs(guess)
    if CRS.from_user_input(frame.crs) != CRS.from_user_input(CRS_ANALYSIS):
        frame = frame.to_crs(CRS_ANALYSIS)
    return frame, notes


def points_from_xy(x, y, *, crs: str) -> gpd.GeoSeries:
    """Point geometries from coordinate arrays, returned in EPSG:27700."""
    series = gpd.GeoSeries(gpd.points_from_xy(np.asarray(x, float), np.asarray(y, float)), crs=crs)
    return series if crs == CRS_ANALYSIS else series.to_crs(CRS_ANALYSIS)


#: per thread (pyproj transformers are not thread-safe): display lon/lat -> analysis grid
_transformers = threading.local()


def grid_from_lonlat(lon: float, lat: float) -> tuple[float, float]:
    """One WGS84 longitude/latitude as EPSG:27700 metres ``(x, y)``.

    The same transformation as :func:`points_from_xy` (pyproj, x = longitude), without
    building a GeoSeries: a web request locating one point pays microseconds, not the
    milliseconds of a frame. The transformer is made once per thread.
    """
    transformer = getattr(_transformers, "to_grid", None)
    if transformer is None:
        transformer = _transformers.to_grid = Transformer.from_crs(
            CRS_DISPLAY, CRS_ANALYSIS, always_xy=True
        )
    x, y = transformer.transform(float(lon), float(lat))
    return float(x), float(y)


def to_display(frame: gpd.GeoDataFrame | gpd.GeoSeries):
    """Reproject to WGS84 longitude/latitude for maps and GeoJSON output."""
    return frame.to_crs(CRS_DISPLAY)


def _fmt_bounds(bounds) -> str:
    return "(" + ", ".join(f"{b:.6g}" for b in bounds) + ")"
