"""Context layers: roads, water, rail, buildings and place names from OS OpenData
(OS Open Roads, OS Open Zoomstack), an OpenStreetMap extract, or any GeoPackage,
shapefile, GeoJSON or FlatGeobuf, for drawing under the data (``mapper import-context``).

What a layer or a feature is comes from what its columns hold: OSM tags (``highway``,
``railway``, ``waterway``, ``building``, ``natural=water``, ``place``), OS road
functions and classes ("A Road", "Local Road" ...), OS rail and place-name types. Only
a layer whose columns say nothing (Zoomstack's ``local_buildings`` has none) is taken
from its layer name, and the report says so. ``--kind`` and ``--layer`` override.

Each kept feature has ``class`` (a class of :data:`mapper.context_kinds.MIN_ZOOM`),
``name`` and ``min_zoom``, in EPSG:27700, clipped to the study area (plus a margin) and
lightly simplified.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from mapper.context_kinds import KINDS, LARGE_WATER_ZOOM, MIN_ZOOM, WATER_LARGE_M2, check_kind
from mapper.errors import MapperError
from mapper.geo import CRS_ANALYSIS, infer_crs

#: file endings read (GDAL drivers through pyogrio)
SUFFIXES = (".gpkg", ".shp", ".zip", ".geojson", ".json", ".fgb", ".osm", ".pbf")
#: metres kept around the study area
MARGIN_M = 2_000.0
#: simplification at import, metres (well under what any zoom draws)
SIMPLIFY_M = {"buildings": 0.5, "places": 0.0}
SIMPLIFY_DEFAULT_M = 1.0

OSM_LICENCE = "Open Database License (ODbL) 1.0"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
OS_LICENCE = "Open Government Licence v3.0"
OS_ATTRIBUTION = "Contains OS data © Crown copyright and database right"

#: OSM tag values -> class
OSM_HIGHWAY = {
    "motorway": "motorway", "motorway_link": "motorway", "trunk": "trunk",
    "trunk_link": "trunk", "primary": "primary", "primary_link": "primary",
    "secondary": "secondary", "secondary_link": "secondary", "tertiary": "tertiary",
    "tertiary_link": "tertiary", "unclassified": "minor", "residential": "minor",
    "living_street": "minor", "road": "minor", "service": "service",
    "pedestrian": "service",
}
OSM_RAILWAY = {"rail": "rail", "light_rail": "light_rail", "narrow_gauge": "rail",
               "tram": "tram", "monorail": "light_rail", "preserved": "rail"}
OSM_WATERWAY = {"river": "river", "canal": "canal", "stream": "stream", "drain": "drain",
                "ditch": "drain", "brook": "stream"}
OSM_PLACE = {"city": "city", "town": "town", "suburb": "suburb", "quarter": "suburb",
             "village": "village", "neighbourhood": "neighbourhood", "hamlet": "hamlet",
             "locality": "locality", "borough": "suburb"}
#: OS road vocabularies (Open Roads ``function`` and ``class``; Zoomstack ``type``),
#: matched ignoring case
OS_ROADS = {
    "motorway": "motorway", "a road primary": "trunk", "primary road": "trunk",
    "a road": "primary", "b road": "secondary", "minor road": "tertiary",
    "classified unnumbered": "tertiary", "minor": "tertiary", "local road": "minor",
    "local": "minor", "unclassified": "minor", "not classified": "minor",
    "restricted local access road": "service", "local access road": "service",
    "secondary access road": "service", "restricted": "service",
    "guided busway": "service",
}
#: OS rail types (Zoomstack ``rail.type``; tunnels are not drawn)
OS_RAIL = {"multi track": "rail", "single track": "rail", "narrow gauge": "rail"}
#: OS place-name types (Zoomstack ``names.type``; OS Open Names ``local_type``)
OS_PLACES = {"capital": "city", "city": "city", "town": "town", "village": "village",
             "hamlet": "hamlet", "suburban area": "suburb", "national park": "",
             "other settlement": "hamlet"}
#: name columns, in order of preference
NAME_COLUMNS = ("name", "name1", "name_1", "distname", "roadname", "road_name", "name2")
#: a kind hinted by a layer's name, used only when its columns say nothing
_NAME_HINTS = (("buildings", re.compile(r"build", re.I)),
               ("rail", re.compile(r"rail", re.I)),
               ("water", re.compile(r"water|river|lake|sea", re.I)),
               ("roads", re.compile(r"road|street|highway", re.I)),
               ("places", re.compile(r"name|place|settlement", re.I)))
#: the default class of each kind when a layer is taken whole (hint or --kind)
DEFAULT_CLASS = {"roads": "minor", "rail": "rail", "water": "river",
                 "buildings": "building", "places": "village"}

_GEOMETRY = {"Point": "point", "MultiPoint": "point", "LineString": "line",
             "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}
#: which kinds each geometry may hold
_KINDS_OF = {"point": ("places",), "line": ("roads", "rail", "water"),
             "polygon": ("buildings", "water")}
#: OSM driver attribute filters: read only the tagged features
_OSM_WHERE = {
    "lines": "highway IS NOT NULL OR railway IS NOT NULL OR waterway IS NOT NULL",
    "multipolygons": "building IS NOT NULL OR \"natural\" = 'water'",
    "points": "place IS NOT NULL",
}


@dataclass
class ContextImport:
    """What :func:`read_context` found: a frame per kind (``class``, ``name``,
    ``min_zoom``, geometry in EPSG:27700), what it did, and where each kind came from."""

    frames: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """kind -> class -> features kept."""
        return {kind: {str(k): int(v) for k, v in
                       frame["class"].value_counts().sort_index().items()}
                for kind, frame in self.frames.items()}


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().str.lower()


def _lookup(series: pd.Series, table: dict[str, str]) -> pd.Series:
    return _text(series).map(table).astype(object)


def _name_column(frame: pd.DataFrame) -> str | None:
    lower = {str(c).lower(): c for c in frame.columns}
    for option in NAME_COLUMNS:
        if option in lower:
            return lower[option]
    return None


def _columns(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c).lower(): c for c in frame.columns if c != frame.geometry.name}


def _values(table: dict[str, str]) -> Callable[[pd.Series], pd.Series]:
    return lambda series: _lookup(series, table)


def _one_of(values: set[str], cls: str) -> Callable[[pd.Series], pd.Series]:
    return lambda series: _text(series).map(lambda v: cls if v in values else None)


def _building(series: pd.Series) -> pd.Series:
    return _text(series).map(lambda v: "building" if isinstance(v, str) and v != "no"
                             else None)


#: geometry -> (column, kind, its classes from the column's values, evidence), first
#: match wins: what a feature is, from what its columns hold
RULES: dict[str, list[tuple[str, str, Callable[[pd.Series], pd.Series], str]]] = {
    "line": [
        ("highway", "roads", _values(OSM_HIGHWAY), "OSM highway"),
        ("railway", "rail", _values(OSM_RAILWAY), "OSM railway"),
        ("waterway", "water", _values(OSM_WATERWAY), "OSM waterway"),
        *[(column, "roads", _values(OS_ROADS), f"OS road {column}")
          for column in ("function", "class", "roadfunction", "road_classification", "type")],
        ("type", "rail", _values(OS_RAIL), "OS rail type"),
        ("type", "water", _values({"river": "river", "canal": "canal"}), "water type"),
    ],
    "polygon": [
        ("building", "buildings", _building, "OSM building"),
        ("natural", "water", _one_of({"water"}, "water"), "OSM natural=water"),
        ("waterway", "water", _one_of({"riverbank", "dock"}, "water"), "OSM waterway"),
        ("landuse", "water", _one_of({"reservoir", "basin"}, "water"), "OSM landuse"),
    ],
    "point": [
        ("place", "places", _values(OSM_PLACE), "OSM place"),
        ("type", "places", _values(OS_PLACES), "OS place type"),
        ("local_type", "places", _values(OS_PLACES), "OS place type"),
    ],
}


def classify(frame: gpd.GeoDataFrame, geometry: str) -> tuple[pd.Series, pd.Series, list[str]]:
    """Each feature's kind and class from what its columns hold (None where they say
    nothing; :data:`RULES`), and the evidence used (``OSM highway``, ``OS road
    function`` ...). A place needs a name."""
    columns = _columns(frame)
    kinds = pd.Series(None, index=frame.index, dtype=object)
    classes = pd.Series(None, index=frame.index, dtype=object)
    used: list[str] = []
    name = _name_column(frame)
    named = (frame[name].astype("string").str.strip().fillna("") != ""
             if name else pd.Series(False, index=frame.index))
    for column, kind, values, evidence in RULES[geometry]:
        if column not in columns:
            continue
        found = values(frame[columns[column]])
        if kind == "places":
            found = found.where(named)
        fresh = found.notna() & (found != "") & kinds.isna()
        if fresh.any():
            kinds[fresh] = kind
            classes[fresh] = found[fresh]
            used.append(evidence)
    return kinds, classes, sorted(set(used))


def _default_class(kind: str, geometry: str) -> str:
    return "water" if kind == "water" and geometry == "polygon" else DEFAULT_CLASS[kind]


def _name_hint(layer: str, geometry: str) -> str | None:
    for kind, pattern in _NAME_HINTS:
        if pattern.search(layer) and kind in _KINDS_OF[geometry]:
            return kind
    return None


def _licence(path: Path, driver: str, frames: list[pd.DataFrame]) -> tuple[str, str]:
    """The licence and attribution, from the format (OSM) or the vocabulary (OS)."""
    if driver == "OSM" or any("osm_id" in _columns(f) for f in frames):
        return OSM_LICENCE, OSM_ATTRIBUTION
    return "", ""


def _vintage(path: Path, driver: str) -> str:
    """When the data is from: a GeoPackage's newest ``last_change``, else the file's
    modification date."""
    if driver == "GPKG":
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                row = db.execute("SELECT max(last_change) FROM gpkg_contents").fetchone()
            if row and row[0]:
                return str(row[0])[:10]
        except sqlite3.Error:
            pass
    return "file dated " + datetime.fromtimestamp(path.stat().st_mtime, UTC).date().isoformat()


def _driver(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".osm", ".pbf"):
        return "OSM"
    return {".gpkg": "GPKG", ".fgb": "FlatGeobuf", ".geojson": "GeoJSON",
            ".json": "GeoJSON"}.get(suffix, "ESRI Shapefile")


def _source_bbox(extent: tuple[float, float, float, float], crs) -> tuple | None:
    """`extent` (EPSG:27700) in the layer's CRS, for reading only what is near."""
    if crs is None:
        return None
    try:
        target = CRS.from_user_input(crs)
    except Exception:  # noqa: BLE001 - an odd CRS: read everything
        return None
    if target == CRS.from_user_input(CRS_ANALYSIS):
        return extent
    transformer = Transformer.from_crs(CRS_ANALYSIS, target, always_xy=True)
    return tuple(transformer.transform_bounds(*extent))


def _finish(frame: gpd.GeoDataFrame, kind: str, extent) -> gpd.GeoDataFrame:
    """Clip to `extent`, simplify, drop empties, set ``min_zoom``."""
    geometry = shapely.clip_by_rect(frame.geometry.values, *extent) \
        if kind != "places" else frame.geometry.values
    tolerance = SIMPLIFY_M.get(kind, SIMPLIFY_DEFAULT_M)
    if tolerance:
        geometry = shapely.simplify(geometry, tolerance, preserve_topology=True)
    frame = frame.set_geometry(gpd.GeoSeries(geometry, index=frame.index, crs=CRS_ANALYSIS))
    frame = frame[~frame.geometry.is_empty & frame.geometry.notna()]
    if kind == "places":
        x, y = frame.geometry.x, frame.geometry.y
        frame = frame[(x >= extent[0]) & (x <= extent[2]) & (y >= extent[1]) & (y <= extent[3])]
    zooms = frame["class"].map(MIN_ZOOM[kind]).fillna(max(MIN_ZOOM[kind].values()))
    if kind == "water":
        large = frame.geometry.area >= WATER_LARGE_M2
        zooms = zooms.mask(large, zooms.clip(upper=LARGE_WATER_ZOOM))
    frame = frame.assign(min_zoom=zooms.astype("int32"))
    return frame[["class", "name", "min_zoom", "geometry"]]


def read_context(files: list[str | Path], extent: tuple[float, float, float, float], *,
                 kind: str | None = None, layers: list[str] | None = None,
                 attribution: str | None = None,
                 progress: Callable[[str], None] = lambda message: None) -> ContextImport:
    """Read context layers from `files`, clipped to `extent` (EPSG:27700, west, south,
    east, north; :data:`MARGIN_M` is added).

    Parameters
    ----------
    kind : take every feature of the chosen layers as this kind (its class read from the
        columns where they say, else the kind's default class)
    layers : read only these layers (by name); others are listed as skipped
    attribution : the attribution to show, for files whose licence is not recognised
    progress : called with a line of text per layer read

    Raises MapperError naming the file when a file cannot be read, and when nothing at
    all could be used (with what was skipped and why).
    """
    if kind is not None:
        check_kind(kind)
    west, south, east, north = extent
    clip = (west - MARGIN_M, south - MARGIN_M, east + MARGIN_M, north + MARGIN_M)
    result = ContextImport()
    parts: dict[str, list[gpd.GeoDataFrame]] = {k: [] for k in KINDS}
    wanted = set(layers or [])
    seen_layers: set[str] = set()
    for file in files:
        path = Path(file)
        driver = _driver(path)
        file_kinds: dict[str, int] = {}
        read_frames: list[pd.DataFrame] = []
        for layer, geometry_type in _list_layers(path):
            layer = str(layer)
            seen_layers.add(layer)
            found = _layer_frame(path, layer, str(geometry_type), driver, clip, kind, wanted,
                                 progress)
            if isinstance(found, str):
                result.notes.append(f"{path.name} layer {layer}: skipped ({found})")
                continue
            frame, geometry = found
            read_frames.append(frame)
            sorted_out = _sort_out(frame, geometry, layer, kind)
            if isinstance(sorted_out, str):
                result.notes.append(f"{path.name} layer {layer}: skipped ({sorted_out})")
                continue
            kinds, classes, how = sorted_out
            kept = 0
            for name, piece in _pieces(frame, kinds, classes, clip).items():
                parts[name].append(piece)
                file_kinds[name] = file_kinds.get(name, 0) + len(piece)
                kept += len(piece)
            dropped = len(frame) - int(kinds.notna().sum())
            result.notes.append(
                f"{path.name} layer {layer}: {kept:,} of {len(frame):,} {geometry}s kept "
                f"({how})" + (f"; {dropped:,} of no drawn class left out" if dropped else ""))
        if file_kinds:
            result.sources.append(_source_row(path, driver, read_frames, file_kinds,
                                              attribution, result.notes))
    if wanted - seen_layers:
        missing = ", ".join(sorted(wanted - seen_layers))
        raise MapperError(f"no layer named {missing} in {', '.join(map(str, files))} "
                          f"(layers: {', '.join(sorted(seen_layers)) or 'none'})")
    for name, pieces in parts.items():
        if pieces:
            result.frames[name] = gpd.GeoDataFrame(
                pd.concat(pieces, ignore_index=True), geometry="geometry", crs=CRS_ANALYSIS)
    if not result.frames:
        raise MapperError("no roads, water, rail, buildings or places in or near the study "
                          "area were found:\n  " + "\n  ".join(result.notes))
    return result


def _list_layers(path: Path):
    if not path.is_file():
        raise MapperError(f"{path}: no such file")
    try:
        return pyogrio.list_layers(path)
    except Exception as error:  # noqa: BLE001 - GDAL's own message names the problem
        raise MapperError(f"{path}: cannot be read as a GIS file ({error}); give a "
                          "GeoPackage, shapefile, GeoJSON, FlatGeobuf or .osm/.osm.pbf "
                          "file") from None


def _layer_frame(path: Path, layer: str, geometry_type: str, driver: str, clip: tuple,
                 kind: str | None, wanted: set[str],
                 progress: Callable[[str], None]) -> tuple[gpd.GeoDataFrame, str] | str:
    """The layer's features near `clip`, in EPSG:27700, and its geometry ("line" ...),
    or why it is skipped."""
    geometry = _GEOMETRY.get(geometry_type.replace(" Z", "").replace("3D ", ""))
    if wanted and layer not in wanted:
        return "not in --layer"
    if geometry is None:
        return f"geometry {geometry_type or 'none'}: not points, lines or polygons"
    if kind is not None and kind not in _KINDS_OF[geometry]:
        return f"{geometry}s cannot be {kind}"
    progress(f"reading {path.name} layer {layer} ...")
    try:
        info = pyogrio.read_info(path, layer=layer)
        frame = pyogrio.read_dataframe(path, layer=layer, bbox=_source_bbox(clip, info.get("crs")),
                                       where=_OSM_WHERE.get(layer) if driver == "OSM" else None)
    except Exception as error:  # noqa: BLE001 - report GDAL's words with the file
        raise MapperError(f"{path} layer {layer}: cannot be read ({error})") from None
    if not isinstance(frame, gpd.GeoDataFrame) or not len(frame):
        return "no features in or near the study area"
    if frame.crs is None:
        guess = infer_crs(tuple(float(b) for b in frame.total_bounds))
        if guess is None:
            return ("no coordinate reference system, and its coordinates are neither "
                    "British National Grid nor longitude/latitude")
        frame = frame.set_crs(guess)
    frame = frame.to_crs(CRS_ANALYSIS)
    progress(f"  {len(frame):,} {geometry}s in or near the study area")
    return frame[frame.geometry.notna()], geometry


def _sort_out(frame: gpd.GeoDataFrame, geometry: str, layer: str,
              kind: str | None) -> tuple[pd.Series, pd.Series, str] | str:
    """Each feature's kind and class, and how they were decided; or why the layer is
    skipped."""
    kinds, classes, evidence = classify(frame, geometry)
    how = ", ".join(evidence)
    if kind is not None:
        keep = (kinds.eq(kind) | kinds.isna()).to_numpy()
        classes = classes.where(kinds.eq(kind), _default_class(kind, geometry))
        kinds = pd.Series([kind if k else None for k in keep], index=frame.index,
                          dtype=object)
        return kinds, classes, f"--kind {kind}" + (f" ({how})" if how else "")
    if kinds.notna().any():
        return kinds, classes, how
    hint = _name_hint(layer, geometry)
    if hint is None:
        return (f"{len(frame):,} {geometry}s whose columns hold no road, rail, water, "
                "building or place values; use --kind roads|water|rail|buildings|places "
                f"with --layer {layer} if it is one")
    kinds[:] = hint
    classes[:] = _default_class(hint, geometry)
    return kinds, classes, f"assumed {hint} from the layer's name; override with --kind"


def _pieces(frame: gpd.GeoDataFrame, kinds: pd.Series, classes: pd.Series,
            clip: tuple) -> dict[str, gpd.GeoDataFrame]:
    """kind -> its features of `frame` (``class``, ``name``, ``min_zoom``), clipped."""
    name_column = _name_column(frame)
    names = (frame[name_column].astype("string").str.strip()
             if name_column else pd.Series(pd.NA, index=frame.index, dtype="string"))
    out = {}
    for kind in KINDS:
        mask = kinds.eq(kind).to_numpy()
        if not mask.any():
            continue
        piece = gpd.GeoDataFrame({"class": classes[mask].astype(str).to_numpy(),
                                  "name": names[mask].to_numpy()},
                                 geometry=frame.geometry.values[mask], crs=CRS_ANALYSIS)
        piece = _finish(piece, kind, clip)
        if len(piece):
            out[kind] = piece
    return out


def _source_row(path: Path, driver: str, frames: list[pd.DataFrame], kinds: dict[str, int],
                attribution: str | None, notes: list[str]) -> dict:
    """The provenance of one file: licence and attribution from the format (OSM) or the
    vocabulary (OS), else `attribution`; a note when neither says."""
    licence, credit = _licence(path, driver, frames)
    if not credit and _is_os(frames):
        licence, credit = OS_LICENCE, OS_ATTRIBUTION
    if not credit and not attribution:
        notes.append(f"{path.name}: licence not recognised; give its attribution with "
                     "--attribution TEXT (it is shown on the maps)")
    return {"source_file": path.name,
            "kinds": ", ".join(f"{kind} {kinds[kind]}" for kind in sorted(kinds)),
            "features": sum(kinds.values()), "vintage": _vintage(path, driver),
            "licence": licence, "attribution": attribution or credit}


def _is_os(frames: list[pd.DataFrame]) -> bool:
    """Whether the columns hold OS vocabularies (Open Roads' functions, Zoomstack types)."""
    for frame in frames:
        columns = _columns(frame)
        for column in ("function", "class", "type", "local_type"):
            if column in columns:
                values = set(_text(frame[columns[column]]).dropna().unique()[:50])
                if values & (set(OS_ROADS) | set(OS_RAIL) | set(OS_PLACES)) - {"minor",
                                                                                "local"}:
                    return True
    return False


__all__ = ["MARGIN_M", "OSM_ATTRIBUTION", "OSM_LICENCE", "OS_ATTRIBUTION", "OS_LICENCE",
           "SUFFIXES", "ContextImport", "classify", "read_context"]
