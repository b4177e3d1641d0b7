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
import numpy as np
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


def classify(frame: gpd.GeoDataFrame, geometry: str) -> tuple[pd.Series, pd.Series, list[str]]:
    """Each feature's kind and class from what its columns hold (None where they say
    nothing), and the evidence used (``highway``, OS ``function`` ...)."""
    columns = _columns(frame)
    kinds = pd.Series(None, index=frame.index, dtype=object)
    classes = pd.Series(None, index=frame.index, dtype=object)
    used: list[str] = []

    def take(kind: str, found: pd.Series, evidence: str) -> None:
        fresh = found.notna() & (found != "") & kinds.isna()
        if fresh.any():
            kinds[fresh] = kind
            classes[fresh] = found[fresh]
            used.append(evidence)

    if geometry == "line":
        if "highway" in columns:
            take("roads", _lookup(frame[columns["highway"]], OSM_HIGHWAY), "OSM highway")
        if "railway" in columns:
            take("rail", _lookup(frame[columns["railway"]], OSM_RAILWAY), "OSM railway")
        if "waterway" in columns:
            take("water", _lookup(frame[columns["waterway"]], OSM_WATERWAY), "OSM waterway")
        for column in ("function", "class", "roadfunction", "road_classification", "type"):
            if column in columns:
                take("roads", _lookup(frame[columns[column]], OS_ROADS), f"OS road {column}")
        if "type" in columns:
            take("rail", _lookup(frame[columns["type"]], OS_RAIL), "OS rail type")
            take("water", _lookup(frame[columns["type"]], {"river": "river",
                                                            "canal": "canal"}),
                 "water type")
    elif geometry == "polygon":
        if "building" in columns:
            values = _text(frame[columns["building"]])
            take("buildings", values.where(values.notna() & (values != "no"))
                 .map(lambda v: "building" if isinstance(v, str) else None),
                 "OSM building")
        water = pd.Series(False, index=frame.index)
        if "natural" in columns:
            water |= _text(frame[columns["natural"]]).eq("water").fillna(False)
        if "waterway" in columns:
            water |= _text(frame[columns["waterway"]]).isin(["riverbank", "dock"]).fillna(False)
        if "landuse" in columns:
            water |= _text(frame[columns["landuse"]]).isin(["reservoir", "basin"]).fillna(False)
        take("water", pd.Series(np.where(water, "water", None), index=frame.index,
                                dtype=object), "OSM water")
    elif geometry == "point":
        name = _name_column(frame)
        named = (frame[name].astype("string").str.strip().fillna("") != ""
                 if name else pd.Series(False, index=frame.index))
        for column, table, evidence in (("place", OSM_PLACE, "OSM place"),
                                        ("type", OS_PLACES, "OS place type"),
                                        ("local_type", OS_PLACES, "OS place type")):
            if column in columns:
                found = _lookup(frame[columns[column]], table)
                take("places", found.where(named), evidence)
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
        large = (frame.geometry.area >= WATER_LARGE_M2).to_numpy()
        zooms = zooms.where(~large, np.minimum(zooms, LARGE_WATER_ZOOM))
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
        if not path.is_file():
            raise MapperError(f"{path}: no such file")
        driver = _driver(path)
        try:
            listed = pyogrio.list_layers(path)
        except Exception as error:  # noqa: BLE001 - GDAL's own message names the problem
            raise MapperError(f"{path}: cannot be read as a GIS file ({error}); give a "
                              "GeoPackage, shapefile, GeoJSON, FlatGeobuf or .osm/.osm.pbf "
                              "file") from None
        file_kinds: dict[str, int] = {}
        read_frames: list[pd.DataFrame] = []
        for layer, geometry_type in listed:
            layer = str(layer)
            seen_layers.add(layer)
            geometry = _GEOMETRY.get(str(geometry_type).replace(" Z", "").replace("3D ", ""))
            if wanted and layer not in wanted:
                result.notes.append(f"{path.name} layer {layer}: skipped (not in --layer)")
                continue
            if geometry is None:
                result.notes.append(f"{path.name} layer {layer}: skipped (geometry "
                                    f"{geometry_type or 'none'}: not points, lines or "
                                    "polygons)")
                continue
            if kind is not None and kind not in _KINDS_OF[geometry]:
                result.notes.append(f"{path.name} layer {layer}: skipped ({geometry}s "
                                    f"cannot be {kind})")
                continue
            progress(f"reading {path.name} layer {layer} ...")
            try:
                info = pyogrio.read_info(path, layer=layer)
                bbox = _source_bbox(clip, info.get("crs"))
                frame = pyogrio.read_dataframe(path, layer=layer, bbox=bbox,
                                               where=_OSM_WHERE.get(layer)
                                               if driver == "OSM" else None)
            except Exception as error:  # noqa: BLE001 - report GDAL's words with the file
                raise MapperError(f"{path} layer {layer}: cannot be read ({error})") from None
            if not isinstance(frame, gpd.GeoDataFrame) or not len(frame):
                result.notes.append(f"{path.name} layer {layer}: skipped (no features "
                                    "in or near the study area)")
                continue
            if frame.crs is None:
                guess = infer_crs(tuple(float(b) for b in frame.total_bounds))
                if guess is None:
                    result.notes.append(f"{path.name} layer {layer}: skipped (no coordinate "
                                        "reference system, and its coordinates are neither "
                                        "British National Grid nor longitude/latitude)")
                    continue
                frame = frame.set_crs(guess)
            frame = frame.to_crs(CRS_ANALYSIS)
            frame = frame[frame.geometry.notna()]
            read_frames.append(frame)
            kinds, classes, evidence = classify(frame, geometry)
            how = ", ".join(evidence)
            if kind is not None:
                keep = (kinds.eq(kind) | kinds.isna()).to_numpy()
                classes = classes.where(kinds.eq(kind), _default_class(kind, geometry))
                kinds = pd.Series(np.where(keep, kind, None), index=frame.index, dtype=object)
                how = f"--kind {kind}" + (f" ({how})" if how else "")
            elif kinds.isna().all():
                hint = _name_hint(layer, geometry)
                if hint is None:
                    result.notes.append(
                        f"{path.name} layer {layer}: skipped ({len(frame):,} {geometry}s "
                        "whose columns hold no road, rail, water, building or place "
                        "values; use --kind roads|water|rail|buildings|places with "
                        f"--layer {layer} if it is one)")
                    continue
                kinds[:] = hint
                classes[:] = _default_class(hint, geometry)
                how = f"assumed {hint} from the layer's name; override with --kind"
            name_column = _name_column(frame)
            names = (frame[name_column].astype("string").str.strip()
                     if name_column else pd.Series(pd.NA, index=frame.index, dtype="string"))
            kept = 0
            for found in KINDS:
                mask = kinds.eq(found).to_numpy()
                if not mask.any():
                    continue
                piece = gpd.GeoDataFrame({"class": classes[mask].astype(str).to_numpy(),
                                          "name": names[mask].to_numpy()},
                                         geometry=frame.geometry.values[mask], crs=CRS_ANALYSIS)
                piece = _finish(piece, found, clip)
                if len(piece):
                    parts[found].append(piece)
                    file_kinds[found] = file_kinds.get(found, 0) + len(piece)
                    kept += len(piece)
            dropped = len(frame) - int(kinds.notna().sum())
            result.notes.append(
                f"{path.name} layer {layer}: {kept:,} of {len(frame):,} {geometry}s kept "
                f"({how})" + (f"; {dropped:,} of no drawn class left out" if dropped else ""))
        if file_kinds:
            licence, credit = _licence(path, driver, read_frames)
            if not credit:
                if attribution:
                    credit = attribution
                elif _is_os(read_frames):
                    licence, credit = OS_LICENCE, OS_ATTRIBUTION
                else:
                    result.notes.append(
                        f"{path.name}: licence not recognised; give its attribution with "
                        "--attribution TEXT (it is shown on the maps)")
            result.sources.append({
                "source_file": path.name, "kinds": ", ".join(sorted(file_kinds)),
                "features": sum(file_kinds.values()), "vintage": _vintage(path, driver),
                "licence": licence, "attribution": attribution or credit})
    if wanted - seen_layers:
        missing = ", ".join(sorted(wanted - seen_layers))
        raise MapperError(f"no layer named {missing} in {', '.join(map(str, files))} "
                          f"(layers: {', '.join(sorted(seen_layers)) or 'none'})")
    for found, pieces in parts.items():
        if pieces:
            result.frames[found] = gpd.GeoDataFrame(
                pd.concat(pieces, ignore_index=True), geometry="geometry", crs=CRS_ANALYSIS)
    if not result.frames:
        raise MapperError("no roads, water, rail, buildings or places in or near the study "
                          "area were found:\n  " + "\n  ".join(result.notes))
    return result


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
