"""The one GeoJSON writer (RFC 7946): exports, the JSON API and the maps all write here.

A frame arrives already in WGS84 longitude/latitude (EPSG:4326): reprojection belongs
to the map layer's one display step (:func:`mapper.geo.to_display`), so this module
checks the CRS and refuses any other instead of reprojecting.

The rules, in one place:

- **coordinates** rounded to :data:`COORD_DECIMALS` (6 decimals of a degree: about
  0.1 m) by ``numpy.round`` (``x * 1e6`` rounded half to even, then ``/ 1e6``; on
  some near-half values this differs from Python's ``round``), vectorised
  (``shapely.transform`` over the whole coordinate array, then ``shapely.to_geojson``);
  a missing or empty geometry is ``null``;
- **properties**: missing values (None, NaN, NaT, pd.NA) become ``null``, non-finite
  numbers too, and, with ``placeholders=True`` (data, as the API and exports write it;
  not display text such as a tooltip's "none"), placeholder text such as "nan" or "";
  numpy scalars become plain numbers; dates and times their ISO 8601 text; anything
  else its text;
- **encoding** by orjson: compact, UTF-8, non-ASCII kept.

Features are encoded once into bytes (:func:`encode_features`, or its parts
:func:`encode_ids`, :func:`encode_geometries`, :func:`encode_properties` for a
cache that rebuilds single rows), and a FeatureCollection is joined from ready features
and its foreign members (attribution, provenance, ``numberMatched``...) by
:func:`collection`. Nothing else in the package splices JSON text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from mapper.errors import MapperError
from mapper.missing import PLACEHOLDERS

#: decimals of a degree kept in coordinates (1e-6 degree is about 0.1 m)
COORD_DECIMALS = 6
#: the media type of a GeoJSON answer (RFC 7946)
MEDIA_TYPE = "application/geo+json"
#: the one CRS GeoJSON is written in (RFC 7946: WGS84 longitude, latitude)
CRS = "EPSG:4326"

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_NULL = b"null"


class GeoJSONError(MapperError, ValueError):
    """A frame that cannot be written as GeoJSON as it is (wrong CRS)."""


# == JSON ================================================================================


def _default(value: object) -> object:
    """What orjson cannot write itself: pandas' missing markers, timestamps, sets..."""
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def dumps(value: object) -> bytes:
    """`value` as compact UTF-8 JSON: non-ASCII kept, NaN and infinities written as
    ``null`` (never the non-JSON ``NaN`` token), numpy scalars and arrays as plain
    numbers and lists, dates and times as ISO 8601 text, anything else as its text."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def dumps_text(value: object) -> str:
    """:func:`dumps` as text, for callers that want a ``str``."""
    return dumps(value).decode()


#: what :func:`dumps_html` writes as ``\\u`` escapes (as Jinja's ``tojson`` does)
_HTML_UNSAFE = ((b"&", b"\\u0026"), (b"<", b"\\u003c"), (b">", b"\\u003e"), (b"'", b"\\u0027"))


def dumps_html(value: object) -> str:
    """:func:`dumps` as text safe inside an HTML ``<script>`` element or attribute:
    ``&``, ``<``, ``>`` and ``'`` written as ``\\u`` escapes (outside strings JSON has
    none of them, so only text changes, and it decodes the same)."""
    text = dumps(value)
    for unsafe, escaped in _HTML_UNSAFE:
        if unsafe in text:
            text = text.replace(unsafe, escaped)
    return text.decode()


def loads(text: bytes | str) -> Any:
    """Parse JSON text (orjson); like json.loads, whatever the text holds."""
    return orjson.loads(text)


# == values ==============================================================================


def json_value(value: object, *, placeholders: bool = False) -> object:
    """One property value as JSON holds it: missing (None, NaN, NaT, pd.NA) and
    non-finite numbers become None, and placeholder text such as "nan" or "" too with
    `placeholders` (:data:`mapper.missing.PLACEHOLDERS`); numpy scalars plain numbers;
    dates and times ISO 8601 text; lists and mappings cleaned item by item; anything
    else its text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        if placeholders and value.strip().lower() in PLACEHOLDERS:
            return None
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "isoformat"):  # dates, times, timestamps
        return value.isoformat()
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(v, placeholders=placeholders) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v, placeholders=placeholders) for k, v in value.items()}
    return str(value)


def column_values(series: pd.Series, *, placeholders: bool = False,
                  escape: bool = False) -> list:
    """The values of one column, cleaned as :func:`json_value` cleans one value, by the
    column's type: numbers and booleans in one pass, other columns value by value.
    ``escape=True`` HTML-escapes text (for map tooltips that insert property values as
    HTML)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values = series.tolist()  # plain Python numbers; NaN and inf written as null
        if dtype.kind == "f":  # ... but as None here, so the values compare as JSON's
            return [v if math.isfinite(v) else None for v in values]
        return values
    values = [json_value(v, placeholders=placeholders) for v in series.tolist()]
    if escape:
        values = [html.escape(v) if isinstance(v, str) else v for v in values]
    return values


def property_records(frame: pd.DataFrame, columns: Sequence[str] | None = None, *,
                     placeholders: bool = False, escape: bool = False) -> list[dict]:
    """Each row of `frame` (its `columns`, every non-geometry column by default) as a
    JSON-ready dict (:func:`column_values`)."""
    names = _columns(frame, columns)
    if not names:
        return [{} for _ in range(len(frame))]
    values = [column_values(frame[c], placeholders=placeholders, escape=escape)
              for c in names]
    keys = [str(c) for c in names]
    return [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]


def _columns(frame: pd.DataFrame, columns: Sequence[str] | None) -> list:
    if columns is not None:
        return list(columns)
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    return [c for c in frame.columns if c != geometry]


# == encoded parts =======================================================================


def check_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, what: str = "frame") -> None:
    """Raise :class:`GeoJSONError` unless `frame` is in EPSG:4326 (GeoJSON's only CRS)."""
    crs = frame.crs
    if crs is None or crs.to_epsg() != 4326:
        shown = "none" if crs is None else (crs.to_string() if hasattr(crs, "to_string")
                                            else str(crs))
        raise GeoJSONError(
            f"{what}: GeoJSON is written in EPSG:4326 (longitude, latitude), but the "
            f"geometry is in {shown}; reproject it first (mapper.geo.to_display)")


def rounded(shapes, decimals: int | None = COORD_DECIMALS) -> np.ndarray:
    """`shapes` (an array of shapely geometries) with every coordinate rounded to
    `decimals` (one numpy call over all coordinates); as they are for ``None``."""
    shapes = np.asarray(shapes, dtype=object)
    if decimals is None:
        return shapes
    return shapely.transform(shapes, lambda xy: np.round(xy, decimals))


def encode_geometries(geometry: gpd.GeoSeries | np.ndarray, *,
                      decimals: int | None = COORD_DECIMALS) -> list[bytes]:
    """Each geometry as GeoJSON bytes, coordinates rounded to `decimals` (``None``: as
    they are, for shapes already rounded); ``null`` when missing or empty. A GeoSeries
    must be in EPSG:4326; a bare array of shapes is taken to be."""
    if isinstance(geometry, gpd.GeoSeries):
        check_crs(geometry, "geometry")
        shapes = np.asarray(geometry.values, dtype=object)
    else:
        shapes = np.asarray(geometry, dtype=object)
    shapes = rounded(shapes, decimals)
    texts = shapely.to_geojson(shapes)
    empty = shapely.is_missing(shapes) | shapely.is_empty(shapes)
    return [_NULL if e else t.encode() for t, e in zip(texts.tolist(), empty.tolist(),
                                                        strict=True)]


def _kept(encoded: bytes) -> bytes:
    """`encoded` in a bytes object of its own size, to keep: orjson's answer holds on to
    its 4 KB work buffer (3.13: a 70-byte id kept 4 KB, London's 48,409 incidents 600 MB
    of a server's memory)."""
    return bytes(memoryview(encoded))


def encode_properties(frame: pd.DataFrame, columns: Sequence[str] | None = None, *,
                      placeholders: bool = False, escape: bool = False) -> list[bytes]:
    """Each row's properties as a JSON object (bytes), cleaned by :func:`column_values`
    (each its own size: layers' caches keep them)."""
    encode = orjson.dumps
    return [_kept(encode(r, option=_OPTIONS)) for r in
            property_records(frame, columns, placeholders=placeholders, escape=escape)]


def encode_ids(values: Iterable) -> list[bytes]:
    """Feature ids as JSON (bytes): numbers stay numbers, text stays text (each its own
    size: layers' caches keep them)."""
    encode = orjson.dumps
    return [_kept(encode(json_value(v, placeholders=True), option=_OPTIONS)) for v in values]


def feature(geometry: bytes, properties: bytes, id: bytes | None = None, *,
            first: Mapping | None = None) -> bytes:
    """One Feature from its encoded parts; `first`: members put before its properties
    (``{"distance_m": 12}``) without taking the properties' text apart."""
    if first:
        lead = dumps(first)
        properties = lead if properties == b"{}" else lead[:-1] + b"," + properties[1:]
    head = b'{"type":"Feature",' if id is None else b'{"type":"Feature","id":' + id + b","
    return head + b'"geometry":' + geometry + b',"properties":' + properties + b"}"


def feature_halves(geometry: bytes, properties: bytes, id: bytes | None = None
                   ) -> tuple[bytes, bytes]:
    """A feature cut open at the start of its properties: ``opened + members + closer``
    (members written as JSON object members, ``"distance_m":12``) is the feature with
    those members first. For answers that add members per request to features made
    once."""
    head = b'{"type":"Feature",' if id is None else b'{"type":"Feature","id":' + id + b","
    opened = head + b'"geometry":' + geometry + b',"properties":{'
    closer = b"}}" if properties == b"{}" else b"," + properties[1:] + b"}"
    return opened, closer


def join_halves(opened: bytes, closer: bytes, members: Mapping) -> bytes:
    """The feature cut by :func:`feature_halves`, with `members` first in its properties."""
    if not members:
        return opened + (b"}}" if closer == b"}}" else closer[1:])
    return opened + dumps(members)[1:-1] + closer


def with_members(encoded: bytes, members: Mapping) -> bytes:
    """An encoded JSON object (a Feature) with `members` added at its end (foreign
    members such as ``links``), without decoding it."""
    if not members:
        return encoded
    tail = dumps(members)
    return encoded[:-1] + (b"" if encoded == b"{}" else b",") + tail[1:]


# the same for many rows at once (a layer's cache, an answer's features): one loop here,
# no call per feature; what the per-request path of /api/nearest costs


def features_of(geometry: Sequence[bytes], properties: Sequence[bytes],
                ids: Sequence[bytes]) -> list[bytes]:
    """:func:`feature` of each row of encoded parts (ids as :func:`encode_ids` gives)."""
    return [b'{"type":"Feature","id":' + i + b',"geometry":' + g + b',"properties":' + p + b"}"
            for i, g, p in zip(ids, geometry, properties, strict=True)]


def halves_of(geometry: Sequence[bytes], properties: Sequence[bytes],
              ids: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """:func:`feature_halves` of each row of encoded parts."""
    return [(b'{"type":"Feature","id":' + i + b',"geometry":' + g + b',"properties":{',
             b"}}" if p == b"{}" else b"," + p[1:] + b"}")
            for i, g, p in zip(ids, geometry, properties, strict=True)]


def join_rows(halves: Sequence[tuple[bytes, bytes]], rows: Iterable[int],
              members: Iterable[Mapping]) -> list[bytes]:
    """:func:`join_halves` of ``halves[row]`` and its `members` (each non-empty, of
    plain values: ints, floats, text, lists and dicts of them), for each row."""
    encode = orjson.dumps
    return [halves[r][0] + encode(m, default=_default)[1:-1] + halves[r][1]
            for r, m in zip(rows, members, strict=True)]


def encode_features(frame: gpd.GeoDataFrame, *, columns: Sequence[str] | None = None,
                    id_column: str | None = None, ids: Iterable | None = None,
                    decimals: int | None = COORD_DECIMALS, placeholders: bool = False,
                    escape: bool = False) -> list[bytes]:
    """Each row of `frame` (EPSG:4326) as a GeoJSON Feature (bytes).

    Parameters
    ----------
    frame : the features, in EPSG:4326 (:class:`GeoJSONError` otherwise)
    columns : the properties, in order (default: every column but the geometry)
    id_column : the column giving each feature's ``id`` (default: no ``id``)
    ids : or the ids themselves, one per row
    decimals : coordinate decimals (None: as they are)
    placeholders : placeholder text ("nan", "", "None"...) written as ``null`` (for
        data; display text, such as a tooltip's "none", is kept as it is by default)
    escape : HTML-escape text properties (map tooltips insert them as HTML)
    """
    check_crs(frame)
    geometry = encode_geometries(frame.geometry, decimals=decimals)
    properties = encode_properties(frame, columns, placeholders=placeholders, escape=escape)
    if id_column is not None:
        ids = frame[id_column].tolist()
    if ids is None:
        return [feature(g, p) for g, p in zip(geometry, properties, strict=True)]
    texts = encode_ids(ids)
    return [feature(g, p, i) for g, p, i in zip(geometry, properties, texts, strict=True)]


# == collections =========================================================================


def collection(features: Iterable[bytes], *members: Mapping | bytes | None,
               lines: bool = False) -> bytes:
    """A FeatureCollection from encoded features, its foreign members (attribution,
    provenance, ``numberMatched``...) first: each of `members` a mapping, or a JSON
    object already encoded (a head made once and reused), written in order; a name
    must not appear in two of them. ``type`` and ``features`` in a mapping are ignored.
    ``lines=True`` writes one feature per line (a file a person may open or compare)."""
    inner = []
    for part in members:
        if part is None:
            continue
        if not isinstance(part, bytes):
            part = dumps({k: v for k, v in part.items() if k not in ("type", "features")})
        if part != b"{}":
            inner.append(part[1:-1])
    opening = b'{"type":"FeatureCollection",' + b"".join(m + b"," for m in inner)
    if lines:
        return opening + b'"features":[\n' + b",\n".join(features) + b"\n]}\n"
    return opening + b'"features":[' + b",".join(features) + b"]}"


def feature_collection(frame: gpd.GeoDataFrame, members: Mapping | None = None, *,
                       lines: bool = False, **options) -> bytes:
    """`frame` (EPSG:4326) as FeatureCollection bytes with `members`; `options` as for
    :func:`encode_features`."""
    return collection(encode_features(frame, **options), members, lines=lines)


def frame_of(records: pd.DataFrame, shapes, *, crs: str = CRS) -> gpd.GeoDataFrame:
    """`records` with `shapes` (already in `crs`) as their geometry, for callers holding
    shapes apart from their table."""
    return gpd.GeoDataFrame(pd.DataFrame(records).reset_index(drop=True),
                            geometry=np.asarray(shapes, dtype=object), crs=crs)
