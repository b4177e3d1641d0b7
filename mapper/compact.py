"""Large point registers held compactly: coordinates as two float64 arrays, repetitive text
(months, types, outcomes, area codes, file names) as categoricals, instead of a shapely
point (about 240 bytes) and a Python string (50-150 bytes) per value.

A *compact frame* is a plain :class:`pandas.DataFrame` with the register's columns plus
``x`` and ``y`` (EPSG:27700 metres, NaN where a record has no location), marked in its
``attrs``. The build holds England's incidents this way (about 0.2 GB a million instead
of 2 GB), writes them to the GeoPackage in chunks (:func:`geo_chunks`: shapely points
made a chunk at a time), and hands the analysis the columns it reads as text columns
whose values are shared string objects (:func:`shared`: 8 bytes a row).
"""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pandas.api.types import union_categoricals

#: the marker of a compact frame in ``DataFrame.attrs`` (its value: the CRS)
MARK = "compact_points_crs"
X, Y = "x", "y"
#: a text column becomes a categorical when it has at most this share of distinct values
CATEGORICAL_SHARE = 0.25
#: rows per chunk when a compact frame becomes GeoDataFrames
CHUNK_ROWS = 250_000


def is_compact(frame: object) -> bool:
    """Whether `frame` is a compact frame (see the module docstring)."""
    return isinstance(frame, pd.DataFrame) and MARK in frame.attrs


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or str(values.dtype) in ("string", "str")


def _compact_text(values: pd.Series) -> pd.Series | np.ndarray:
    """A categorical of the values when they repeat enough, else the values as objects
    (missing as None)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    if len(uniques) <= max(1, int(len(values) * CATEGORICAL_SHARE)):
        return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))
    out = values.to_numpy(dtype=object, copy=True)
    out[codes < 0] = None
    return out


#: id columns that are mostly another column with a prefix ("police.uk:" + the Crime ID):
#: held as the prefix (a categorical) where they are, rebuilt when written
DERIVED = {"incident_id": "source_id"}
#: the hidden column holding an id column's prefix
PREFIX = "_prefix_of_"


def _split_ids(ids: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, pd.Categorical]:
    """(the ids that are not their base with a prefix, None elsewhere; the prefixes)."""
    prefixes = np.full(len(ids), None, dtype=object)
    rest = ids.copy()
    for k, (i, b) in enumerate(zip(ids.tolist(), base.tolist(), strict=True)):
        if isinstance(i, str) and isinstance(b, str) and b and i.endswith(b):
            prefixes[k], rest[k] = i[: len(i) - len(b)], None
    return rest, pd.Categorical(prefixes)


def _join_ids(rest: pd.Series, prefixes: pd.Series, base: pd.Series) -> np.ndarray:
    """The ids :func:`_split_ids` split (as objects)."""
    out = _objects(rest)
    where = prefixes.notna().to_numpy()
    if where.any():
        joined = prefixes[where].astype(object) + base[where].astype(object)
        out[where] = joined.to_numpy(dtype=object)
    return out


def compact(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """A compact frame of a point GeoDataFrame (its columns in order, then x, y)."""
    geoms = np.asarray(frame.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    x = np.full(len(frame), np.nan)
    y = np.full(len(frame), np.nan)
    if (~missing).any():
        xy = shapely.get_coordinates(geoms[~missing])
        x[~missing], y[~missing] = xy[:, 0], xy[:, 1]
    columns = {}
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        values = frame[column]
        columns[column] = _compact_text(values) if _is_text(values) else values.to_numpy()
    for column, base in DERIVED.items():
        if isinstance(columns.get(column), np.ndarray) and isinstance(columns.get(base),
                                                                       np.ndarray):
            columns[column], columns[PREFIX + column] = _split_ids(columns[column],
                                                                   columns[base])
    columns[X], columns[Y] = x, y
    out = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
    out.attrs[MARK] = str(frame.crs) if frame.crs is not None else ""
    return out


def concat(frames: list[pd.DataFrame], *, consume: bool = False) -> pd.DataFrame:
    """Compact frames one after the other: categoricals joined on the union of their
    categories (a column categorical in some frames only becomes objects). With
    `consume`, each column is deleted from `frames` once joined, so that the parts and
    the whole are never both held."""
    if len(frames) == 1:
        return frames[0]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    out = {}
    for column in columns:
        parts = [f[column] if column in f else pd.Series(None, index=f.index, dtype=object)
                 for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            out[column] = union_categoricals([p.array for p in parts], ignore_order=True)
        elif any(_is_text(p) or isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            out[column] = np.concatenate([_objects(p) for p in parts])
        else:
            out[column] = pd.concat(parts, ignore_index=True).to_numpy()
        del parts
        if consume:
            for f in frames:
                if column in f:
                    del f[column]
    joined = pd.DataFrame(out, index=pd.RangeIndex(sum(len(f) for f in frames)))
    joined.attrs[MARK] = frames[0].attrs.get(MARK, "")
    return joined


def _objects(values: pd.Series) -> np.ndarray:
    """The values as an object array, None where missing (categories stay shared)."""
    out = values.to_numpy(dtype=object, copy=True)
    out[pd.isna(out)] = None
    return out


def shared(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The `columns` present in a compact frame as an ordinary frame: categoricals become
    object columns whose values are the categories' own string objects (no copies)."""
    out = {c: (pd.Series(_objects(frame[c]), index=frame.index, dtype=object)
               if isinstance(frame[c].dtype, pd.CategoricalDtype) else frame[c])
           for c in columns if c in frame}
    return pd.DataFrame(out, index=frame.index)


def shared_text(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each text column's equal values made one string object (a frame
    read from a file has a string object per cell)."""
    out = frame.copy()
    for column in out.columns:
        if _is_text(out[column]):
            codes, uniques = pd.factorize(out[column].to_numpy(dtype=object))
            values = np.full(len(codes), None, dtype=object)
            if len(uniques):
                values[codes >= 0] = np.asarray(uniques, dtype=object)[codes[codes >= 0]]
            out[column] = pd.Series(values, index=out.index, dtype=object)
    return out


def geo_chunks(frame: pd.DataFrame, rows: int = CHUNK_ROWS) -> Iterator[gpd.GeoDataFrame]:
    """A compact frame as GeoDataFrames of at most `rows` rows (text as objects, missing
    as None, points made for that chunk only)."""
    crs = frame.attrs.get(MARK) or None
    names = [c for c in frame.columns if c not in (X, Y) and not c.startswith(PREFIX)]
    for start in range(0, max(len(frame), 1), rows):
        part = frame.iloc[start:start + rows]
        x, y = part[X].to_numpy(), part[Y].to_numpy()
        points = shapely.points(x, y)
        points[np.isnan(x) | np.isnan(y)] = None
        data = {c: (pd.Series(_objects(part[c]), dtype=object)
                    if isinstance(part[c].dtype, pd.CategoricalDtype)
                    else part[c].reset_index(drop=True)) for c in names}
        for column, base in DERIVED.items():
            if PREFIX + column in part:
                data[column] = pd.Series(_join_ids(part[column], part[PREFIX + column],
                                                   part[base]), dtype=object)
        yield gpd.GeoDataFrame(pd.DataFrame(data, index=pd.RangeIndex(len(part))),
                               geometry=gpd.GeoSeries(points, crs=crs), crs=crs)


__all__ = ["MARK", "compact", "concat", "geo_chunks", "is_compact", "shared", "shared_text"]
