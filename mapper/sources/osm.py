"""Community premises from OpenStreetMap extracts.

Two layouts, both recognised from their columns and values (never the file name):

* a flat table of points, like the London fixture ``osm_id, poi_type, lon, lat``, or an
  Overpass CSV export (``@id, @type, @lat, @lon, amenity, name ...``);
* GeoJSON / GeoPackage / Shapefile extracts as exported by Overpass turbo, osmium or
  ogr2ogr: one feature per OSM element, its tags as properties (``amenity``, ``religion``,
  ``name``, ``addr:*``, ``wheelchair`` ...) and its id as ``@id`` ("node/123"), ``osm_id``
  (with ``osm_type`` when present; ogr2ogr's ``osm_way_id`` for closed ways, its other
  tags read from ``other_tags``) or ``id``; nodes as Points, ways and relations as
  Polygons or MultiPolygons.

Only elements whose ``amenity`` (or ``poi_type``) maps to a premises type through
``mapper/mappings/categories.csv`` are premises; ``social_facility=food_bank`` makes a
food bank. Every other row (restaurants, pubs, shops ...) is *left out*: counted per type
in one warning and in ``Imported.extra["not_premises"]``, not listed row by row. So

    accepted + rejected + not_premises = rows_read

where accepted = ``len(imported.frame)``, rejected = ``len(imported.rejected)`` (one
problem per row: invalid rows (the whole file with ``Context.strict``), lines, duplicates,
points outside the study area) and not_premises = ``imported.extra["not_premises"]``.
Rows that are not premises are not validated: a pub with broken coordinates does not
stop the import of the file's places of worship.

Areas (ways, relations) are placed at a representative point inside them
(``shapely.point_on_surface``, computed in EPSG:27700); lines (unclosed ways) are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper import geo, registers
from mapper.errors import Problem
from mapper.postcodes import normalise_postcodes
from mapper.sources import organisations
from mapper.sources.base import Context, Detection, Imported, year_in_name
from mapper.sources.files import Peek, read_table, read_vector, table_row
from mapper.sources.points import Located, locate, settle
from mapper.sources.status import osm_lifecycle

SOURCE = "OpenStreetMap"
LICENCE = "Open Database Licence 1.0 (ODbL)"
ATTRIBUTION = "© OpenStreetMap contributors"
CAVEAT = "OpenStreetMap coverage varies; treat as a seed, not a register"
REGISTER = "premises"

#: canonical role -> column names it may have (lower-case), most specific first
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("@id", "osm_id", "id"),
    "way_id": ("osm_way_id",),
    "element": ("@type", "osm_type"),
    "amenity": ("amenity",),
    # a feature that was an amenity (closed: see mapper/sources/status.py) is still listed
    "former_amenity": ("disused:amenity", "was:amenity", "abandoned:amenity"),
    "poi_type": ("poi_type",),
    "social_facility": ("social_facility",),
    "lat": ("lat", "@lat", "latitude"),
    "lon": ("lon", "@lon", "lng", "long", "longitude"),
    "name": ("name",),
    "religion": ("religion",),
    "housename": ("addr:housename",),
    "housenumber": ("addr:housenumber",),
    "street": ("addr:street",),
    "place": ("addr:place",),
    "city": ("addr:city",),
    "postcode": ("addr:postcode",),
    "wheelchair": ("wheelchair",),
}
#: the tag columns that say what a feature is, in order of precedence
TYPE_FIELDS = ("amenity", "poi_type")
#: the first rows' ids must look like OSM ids more often than this for the file to be OSM
#: (a majority, so that a few broken ids are reported as such rather than the file skipped)
ID_SHARE = 0.5
#: a bare ``id`` column names OSM ids only in vector exports (GDAL's reading of
#: Overpass's feature ids); in a table it is too generic to say "OpenStreetMap"
TABLE_ID_COLUMNS = ("@id", "osm_id")
#: how many types of left-out rows the warning names
SHOWN_TYPES = 8

_ELEMENTS = {
    "n": "node",
    "w": "way",
    "r": "relation",
    "node": "node",
    "way": "way",
    "relation": "relation",
}
_ID_PATTERN = re.compile(r"^(?:(?P<word>node|way|relation)/|(?P<letter>[nwra]))?(?P<num>-?\d+)$")
_SMALL_WORDS = {"of", "the", "and", "in", "de", "la"}
_WHEELCHAIR = {"yes": True, "designated": True, "no": False}


# -- detection ------------------------------------------------------------------------


def find_columns(columns: list[str]) -> dict[str, str]:
    """Canonical role -> the file's column, for the roles present (names matched case-blind)."""
    lower = {str(c).strip().lower(): c for c in columns}
    found = {}
    for role, names in COLUMN_NAMES.items():
        hit = next((lower[n] for n in names if n in lower), None)
        if hit is not None:
            found[role] = hit
    if "id" not in found and "way_id" in found:  # an ogr2ogr file of areas only
        found["id"] = found["way_id"]
    return found


def detect(peek: Peek) -> Detection | None:
    """An OpenStreetMap extract: an OSM id column and an ``amenity`` or ``poi_type`` column
    (tables also need latitude and longitude)."""
    cols = find_columns(peek.columns)
    if "id" not in cols or not any(f in cols for f in TYPE_FIELDS):
        return None
    if peek.format == "table" and not (
        "lat" in cols and "lon" in cols and cols["id"].strip().lower() in TABLE_ID_COLUMNS
    ):
        return None
    ids = _ids(peek.head, cols)
    given = ids[ids != ""]
    if given.empty or given.str.match(_ID_PATTERN).mean() <= ID_SHARE:
        return None
    vintage, how = _vintage(peek.path)
    field = cols.get("amenity") or cols["poi_type"]
    layout = (
        f"table of points ({cols['id']}, {field}, {cols['lat']}, {cols['lon']})"
        if peek.format == "table"
        else f"features with tags ({cols['id']}, {field})"
    )
    return Detection(
        kind=REGISTER,
        vintage=vintage,
        detail=f"OpenStreetMap {layout}: community premises (vintage {how})",
        rows=peek.rows,
        reader=read,
        columns=cols,
        extra={"layout": peek.format},
    )


def _vintage(path: Path) -> tuple[str, str]:
    """Overpass turbo's export timestamp, else a year in the file name, else unknown."""
    if path.suffix.lower() in (".geojson", ".json"):
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace")
        stamp = re.search(r'"timestamp"\s*:\s*"(\d{4})-(\d\d)', head)
        if stamp:
            vintage = f"{stamp[1]}-{stamp[2]}"
            return vintage, f"{vintage} from the export's timestamp"
    year = year_in_name(path)
    if year:
        return year, f"{year} read from the file name"
    return "unknown", "unknown"


# -- reading --------------------------------------------------------------------------


def read(path: Path, detection: Detection, context: Context) -> Imported:
    """Read an OSM extract into the canonical premises register (EPSG:27700).

    Returns an :class:`Imported` whose ``frame`` holds the premises, ``rejected`` one
    problem per premises row not imported, and ``extra["not_premises"]`` the count of rows
    of other types: accepted + rejected + not_premises = rows_read. Raises
    DataValidationError listing every invalid premises row with ``context.strict``.
    """
    file = path.name
    cols = detection.columns
    table = detection.extra.get("layout") == "table"
    row_label = "row" if table else "feature"
    raw = read_table(path)[0] if table else read_vector(path)
    raw, cols = _hstore_tags(raw, cols)
    types = premises_types(raw, cols)
    wanted = (types != "").to_numpy()
    warnings = [
        _left_out_note(raw, cols, ~wanted, file=file, noun="points" if table else "features")
    ]
    positions = np.flatnonzero(wanted)
    premises = raw.iloc[positions].reset_index(drop=True)
    types = types.iloc[positions].reset_index(drop=True)
    rows = _row_numbers(positions, table=table)

    elements, numbers, id_problems = osm_ids(
        premises, cols, file=file, rows=rows, row_label=row_label
    )
    if table:
        located = locate(
            premises, file=file, context=context, lat=cols["lat"], lon=cols["lon"], rows=rows
        )
        polygons, left_out = np.zeros(len(premises), dtype=bool), []
    else:
        located, polygons, notes, left_out = _locate_features(premises, file=file, rows=rows)
        warnings += notes
        if "way_id" in cols:  # ogr2ogr: a bare osm_id is a node's (point) or relation's (area)
            bare = (elements == "osm").to_numpy()
            elements[bare] = np.where(polygons[bare], "relation", "node")
    rejected: list[Problem] = []
    _merge_id_problems(located, id_problems, (numbers == "").to_numpy(), left_out, rejected)
    keep, notes = settle(located, file=file, context=context, rejected=rejected, rows=rows)
    warnings += notes
    rejected = [replace(p, row_label=row_label) for p in rejected]
    keep, notes = _drop_duplicates(
        keep, elements, numbers, file=file, rows=rows, row_label=row_label, rejected=rejected
    )
    warnings += notes
    frame, notes = _canonical(
        premises,
        cols,
        types,
        elements,
        numbers,
        keep,
        file=file,
        rows=rows,
        located=located,
        polygons=polygons,
        points_are_nodes=not table,
    )
    warnings += notes + [
        _polygon_note(int(polygons[keep].sum()), file=file),
        Problem(file, CAVEAT, severity="warning"),
    ]
    return Imported(
        kind=REGISTER,
        frame=frame,
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=len(raw),
        licence=LICENCE,
        attribution=ATTRIBUTION,
        warnings=[w for w in warnings if w is not None],
        extra={
            "not_premises": int((~wanted).sum()),
            # how the pipeline's "accepted + rejected = input" line names them
            "left_out_reason": "of other types, not community premises",
        },
        rejected=sorted(rejected, key=lambda p: p.row or 0),
    )


def _row_numbers(positions: np.ndarray, *, table: bool) -> Callable[[int], int]:
    """Row number in the file (spreadsheet row, or 1-based feature) of a premises row."""
    if table:
        return lambda pos: table_row(int(positions[pos]))
    return lambda pos: int(positions[pos]) + 1


def _polygon_note(count: int, *, file: str) -> Problem | None:
    if not count:
        return None
    many = count != 1
    return Problem(
        file,
        f"{count:,} polygon feature{'s' if many else ''} (buildings, sites) "
        f"placed at a representative point inside {'them' if many else 'it'}",
        severity="warning",
    )


def premises_types(table: pd.DataFrame, cols: dict[str, str]) -> pd.Series:
    """Premises type of every row from its OSM tags; '' for rows that are not premises.

    ``amenity`` wins over ``poi_type``; ``social_facility`` (e.g. food_bank) decides when
    ``amenity`` is ``social_facility`` or names no premises type.
    """
    out = pd.Series("", index=table.index, dtype=object)
    for field in TYPE_FIELDS:
        if field in cols:
            mapped = registers.map_categories(
                table[cols[field]], source="osm", field=field, register=REGISTER
            )
            out = out.where(out != "", mapped)
    if "former_amenity" in cols:  # closed premises stay in the register, marked
        former = registers.map_categories(
            table[cols["former_amenity"]], source="osm", field="amenity", register=REGISTER
        )
        out = out.where(out != "", former)
    if "social_facility" in cols:
        facility = registers.map_categories(
            table[cols["social_facility"]], source="osm", field="social_facility", register=REGISTER
        )
        amenity = _text(table, cols.get("amenity")).str.lower()
        use = (facility != "") & ((out == "") | (amenity == "social_facility"))
        out = out.where(~use, facility)
    return out


def osm_ids(
    table: pd.DataFrame,
    cols: dict[str, str],
    *,
    file: str,
    rows: Callable[[int], int] = table_row,
    row_label: str = "row",
) -> tuple[pd.Series, pd.Series, list[Problem]]:
    """(element "node"/"way"/"relation"/"osm", id number as text, problems) for each row.

    Understands "node/123" (Overpass), "n123"/"w123"/"r123" and osmium's area ids "a246"
    (an even number: way 123; odd: relation), and plain numbers, whose element comes from
    an ``@type``/``osm_type`` column when there is one, else is "osm" (unknown).
    """
    column = cols["id"]
    text = _ids(table, cols)
    parts = text.str.extract(_ID_PATTERN)
    elements = (
        parts["word"]
        .fillna(parts["letter"])
        .fillna("")
        .map(lambda v: _ELEMENTS.get(v, v))
        .astype(object)
    )
    numbers = parts["num"].fillna("").astype(object)
    area = (elements == "a").to_numpy()
    if area.any():
        n = numbers[area].astype("int64")
        elements[area] = np.where(n % 2 == 0, "way", "relation")
        numbers[area] = (n // 2).astype(str).to_numpy()
    bare = (elements == "") & (numbers != "")
    if "element" in cols:
        given = _text(table, cols["element"]).str.lower().map(lambda v: _ELEMENTS.get(v, ""))
        elements = elements.where(~bare | (given == ""), given)
        bare = bare & (given == "")
    elements = elements.where(~bare, "osm")
    problems = []
    for pos in np.flatnonzero((text == "").to_numpy()):
        problems.append(
            Problem(file, "missing OpenStreetMap id", rows(pos), column, row_label=row_label)
        )
    for pos in np.flatnonzero(((numbers == "") & (text != "")).to_numpy()):
        problems.append(
            Problem(
                file,
                "not an OpenStreetMap id (expected e.g. node/123, way/456 or 123)",
                rows(pos),
                column,
                text.iloc[pos],
                row_label=row_label,
            )
        )
    return elements, numbers, problems


#: roles that ogr2ogr may leave inside its ``other_tags`` column ('"key"=>"value",...')
HSTORE_ROLES = ("social_facility", "religion", "wheelchair", "postcode", "street",
                "housenumber", "city", "former_amenity")


def _hstore_tags(raw: pd.DataFrame, cols: dict[str, str]) -> tuple[pd.DataFrame, dict]:
    """Tags kept in ogr2ogr's ``other_tags`` text, as columns when the file has none."""
    if "other_tags" not in raw.columns:
        return raw, cols
    tags = raw["other_tags"].astype("string").fillna("")
    raw, cols = raw.copy(), dict(cols)
    for role in HSTORE_ROLES:
        if role in cols:
            continue
        key = re.escape(COLUMN_NAMES[role][0])
        values = tags.str.extract(f'"{key}"=>"((?:[^"\\\\]|\\\\.)*)"', expand=False)
        if values.notna().any():
            column = f"other_tags:{COLUMN_NAMES[role][0]}"
            raw[column] = values.fillna("")
            cols[role] = column
    return raw, cols


def _ids(table: pd.DataFrame, cols: dict[str, str]) -> pd.Series:
    """The id column as text; ogr2ogr's OSM driver leaves ``osm_id`` blank for areas and
    puts their way's id in ``osm_way_id``, read here as "way/<id>"."""
    text = _id_text(table[cols["id"]])
    if cols["id"] == cols.get("way_id"):
        return text.where(text == "", "way/" + text)
    if "way_id" in cols:
        way = _id_text(table[cols["way_id"]])
        text = text.where((text != "") | (way == ""), "way/" + way)
    return text


def _id_text(values: pd.Series) -> pd.Series:
    """Ids as text; whole numbers read as floats by GDAL lose their '.0'."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        whole = numbers.notna() & np.isfinite(numbers) & (numbers % 1 == 0)
        out = numbers.astype(str).where(numbers.notna(), "").astype(object)
        out[whole] = numbers[whole].astype("int64").astype(str)
        return out.astype(object)
    return values.astype("string").str.strip().fillna("").astype(object)


def _text(table: pd.DataFrame, column: str | None) -> pd.Series:
    """A column as stripped text with '' for blanks; all '' when the column is absent."""
    if column is None:
        return pd.Series("", index=table.index, dtype=object)
    return table[column].astype("string").str.strip().fillna("").astype(object)


def _left_out_note(
    raw: pd.DataFrame, cols: dict[str, str], mask: np.ndarray, *, file: str, noun: str
) -> Problem | None:
    """One warning counting the rows of other types, by type, most common first."""
    count = int(mask.sum())
    if not count:
        return None
    label = pd.Series("", index=raw.index, dtype=object)
    for field in TYPE_FIELDS:
        label = label.where(label != "", _text(raw, cols.get(field)))
    counts = label[mask].replace("", "(no type)").value_counts()
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    shown = ", ".join(f"{kind} {n:,}" for kind, n in counts.iloc[:SHOWN_TYPES].items())
    more = len(counts) - SHOWN_TYPES
    if more > 0:
        shown += f" and {more:,} more type{'s' if more != 1 else ''}"
    return Problem(
        file,
        f"{count:,} {noun if count != 1 else noun[:-1]} of other types left out, "
        f"not community premises ({shown})",
        severity="warning",
    )


# -- where each feature is ------------------------------------------------------------


def _locate_features(
    premises: gpd.GeoDataFrame, *, file: str, rows: Callable[[int], int]
) -> tuple[Located, np.ndarray, list[Problem], list[Problem]]:
    """Place vector features: nodes as they are, areas at a representative point.

    Returns the Located rows (EPSG:27700), the mask of areas, warnings, and the rows left
    out by rule (lines and other shapes, severity "rejected").
    """
    n = len(premises)
    geoms = np.asarray(premises.geometry.array, dtype=object)
    kinds = np.asarray(shapely.get_type_id(geoms))
    missing = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    nonfinite = np.zeros(n, dtype=bool)
    nonfinite[owner[~np.isfinite(coords).all(axis=1)]] = True
    polygon = np.isin(kinds, [3, 6]) & ~missing & ~nonfinite
    usable = ((kinds == 0) & ~missing & ~nonfinite) | polygon
    problems = [
        Problem(file, "no geometry; expected a point or an area", rows(p), row_label="feature")
        for p in np.flatnonzero(missing)
    ]
    problems += [
        Problem(file, "coordinates include NaN or infinity", rows(p), row_label="feature")
        for p in np.flatnonzero(nonfinite & ~missing)
    ]
    left_out = [
        _shape_rejection(geoms[p], file=file, row=rows(p))
        for p in np.flatnonzero(~usable & ~missing & ~nonfinite)
    ]
    placed = np.full(n, None, dtype=object)
    notes: list[Problem] = []
    if usable.any():
        frame = gpd.GeoDataFrame(geometry=premises.geometry[usable], crs=premises.crs)
        frame, notes = geo.to_analysis(frame, file=file)
        shapes = np.asarray(frame.geometry.array, dtype=object)
        placed[usable] = _inside_points(shapes, polygon[usable])
        # an area-sized polygon is an area, not premises (mapper/sources/organisations.py)
        big = np.zeros(n, dtype=bool)
        big[np.flatnonzero(usable)] = organisations.area_sized(shapes)
        left_out += [organisations.area_sized_problem(file, rows(p), shapes[i])
                     for i, p in enumerate(np.flatnonzero(usable)) if big[p]]
        placed[big] = None
        usable &= ~big
        polygon &= ~big
    x, y = shapely.get_x(placed), shapely.get_y(placed)
    outside = usable & ~(
        np.isfinite(x)
        & np.isfinite(y)
        & (x >= 0)
        & (x <= geo.BNG_BOUNDS[2])
        & (y >= 0)
        & (y <= geo.BNG_BOUNDS[3])
    )
    problems += [
        Problem(
            file,
            "outside Great Britain (British National Grid 0..700000, "
            "0..1300000 after reprojection); is the coordinate reference system "
            "declared correctly?",
            rows(p),
            row_label="feature",
        )
        for p in np.flatnonzero(outside)
    ]
    placed[outside] = None
    how = pd.Series(np.where(usable & ~outside, "OpenStreetMap geometry", ""), dtype=object)
    geometry = gpd.GeoSeries(placed, index=premises.index, crs=geo.CRS_ANALYSIS)
    return Located(geometry, how, problems), polygon, notes, left_out


def _inside_points(geoms: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Points as they are; areas (repaired when invalid) at a point inside them."""
    out = geoms.copy()
    if polygon.any():
        areas = geoms[polygon]
        invalid = ~np.asarray(shapely.is_valid(areas))
        areas[invalid] = shapely.make_valid(areas[invalid])
        out[polygon] = shapely.point_on_surface(areas)
    return out


def _shape_rejection(geom, *, file: str, row: int) -> Problem:
    kind = geom.geom_type
    if kind in ("LineString", "MultiLineString", "LinearRing"):
        reason = (
            f"a {kind}: an OpenStreetMap line (an unclosed way) has no inside to place "
            "premises at; expected a point or an area"
        )
    else:
        reason = f"a {kind}; expected a point (node) or an area (way or relation)"
    return Problem(file, reason, row, severity="rejected", row_label="feature")


def _merge_id_problems(
    located: Located,
    id_problems: list[Problem],
    bad_id: np.ndarray,
    left_out: list[Problem],
    rejected: list[Problem],
) -> None:
    """One problem per row: a bad id first, then where the row is; lines left out by rule.

    Rows with a bad id lose their location, so ``settle`` cannot keep them.
    """
    problems, seen = [], set()
    for problem in id_problems + located.problems:
        if problem.row not in seen:
            seen.add(problem.row)
            problems.append(problem)
    located.problems = sorted(problems, key=lambda p: p.row or 0)
    rejected.extend(p for p in left_out if p.row not in seen)
    if bad_id.any():
        located.geometry[bad_id] = None


def _drop_duplicates(
    keep: np.ndarray,
    elements: pd.Series,
    numbers: pd.Series,
    *,
    file: str,
    rows: Callable[[int], int],
    row_label: str,
    rejected: list[Problem],
) -> tuple[np.ndarray, list[Problem]]:
    """Keep the first of rows sharing an OSM id; reject the others with that reason."""
    idx = np.flatnonzero(keep)
    ids = (elements.iloc[idx] + "/" + numbers.iloc[idx]).reset_index(drop=True)
    later = ids.duplicated(keep="first").to_numpy()
    if not later.any():
        return keep, []
    first = {key: int(idx[pos]) for pos, key in reversed(list(enumerate(ids)))}
    for pos in np.flatnonzero(later):
        key = ids.iloc[pos]
        shown = key.removeprefix("osm/")
        rejected.append(
            Problem(
                file,
                f"the same OpenStreetMap id ({shown}) as {row_label} "
                f"{rows(first[key])}; only the first is kept",
                rows(idx[pos]),
                severity="rejected",
                row_label=row_label,
            )
        )
    keep = keep.copy()
    keep[idx[later]] = False
    count = int(later.sum())
    return keep, [
        Problem(
            file,
            f"{count:,} {row_label}{'s' if count != 1 else ''} repeating an "
            "OpenStreetMap id left out",
            severity="warning",
        )
    ]


# -- the register ---------------------------------------------------------------------


def _canonical(
    premises: pd.DataFrame,
    cols: dict[str, str],
    types: pd.Series,
    elements: pd.Series,
    numbers: pd.Series,
    keep: np.ndarray,
    *,
    file: str,
    rows: Callable[[int], int],
    located: Located,
    polygons: np.ndarray,
    points_are_nodes: bool,
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """The canonical premises frame of the kept rows, and warnings about their values."""
    idx = np.flatnonzero(keep)
    tags = premises.iloc[idx].reset_index(drop=True)
    kind = types.iloc[idx].reset_index(drop=True)
    element = elements.iloc[idx].reset_index(drop=True)
    number = numbers.iloc[idx].reset_index(drop=True)
    known = element != "osm"
    postcode, notes = _postcodes(tags, cols.get("postcode"), file=file)
    frame = pd.DataFrame(
        {
            "premises_id": "osm:" + element + "/" + number,
            "name": _names(tags, cols.get("name"), kind, element, number),
            "type": kind,
            "religion": nice_labels(_text(tags, cols.get("religion"))),
            "address": _address(tags, cols),
            "postcode": postcode,
            "step_free": step_free(_text(tags, cols.get("wheelchair"))),
            **dict(zip(("status", "status_source"), osm_lifecycle(tags), strict=True)),
            "source": SOURCE,
            "source_id": number.where(~known, element + "/" + number),
            "source_file": file,
            "source_row": pd.array([rows(p) for p in idx], dtype="Int64"),
            "location_source": _location_source(element, polygons[idx], points_are_nodes),
        }
    )
    geometry = located.geometry.iloc[idx].array
    return registers.conform(frame, REGISTER, geometry), notes


def _names(tags, column, kind, element, number) -> pd.Series:
    """The OSM name, else e.g. "Place of worship (unnamed, OSM node 12345)"."""
    name = _text(tags, column)
    label = number.where(element == "osm", element + " " + number)
    fallback = kind.str[:1].str.upper() + kind.str[1:] + " (unnamed, OSM " + label + ")"
    return name.where(name != "", fallback).astype(object)


def nice_labels(values: pd.Series) -> pd.Series:
    """OSM tag values for people: "christian" -> "Christian", "church_of_england" ->
    "Church of England", "christian;jewish" -> "Christian; Jewish"; '' -> <NA>."""
    lookup = {v: _nice_label(v) for v in values.unique() if v}
    return pd.Series([lookup.get(v, pd.NA) for v in values], index=values.index, dtype=object)


def _nice_label(value: str) -> str:
    parts = []
    for part in value.replace("_", " ").split(";"):
        words = part.split()
        parts.append(
            " ".join(
                w.lower() if i and w.lower() in _SMALL_WORDS else w[:1].upper() + w[1:]
                for i, w in enumerate(words)
            )
        )
    return "; ".join(p for p in parts if p)


def _address(tags: pd.DataFrame, cols: dict[str, str]) -> pd.Series:
    """Address from the addr:* tags ("Hall, 12 High Street, London"); <NA> when none."""
    street = _text(tags, cols.get("housenumber")) + " " + _text(tags, cols.get("street"))
    parts = [
        _text(tags, cols.get("housename")),
        street.str.strip(),
        _text(tags, cols.get("place")),
        _text(tags, cols.get("city")),
    ]
    joined = [", ".join(p for p in row if p) for row in zip(*parts, strict=True)]
    return pd.Series(joined, index=tags.index, dtype=object).replace("", pd.NA)


def _postcodes(
    tags: pd.DataFrame, column: str | None, *, file: str
) -> tuple[pd.Series, list[Problem]]:
    """addr:postcode normalised ("SW1A 1AA"); values that are not postcodes left blank."""
    text = _text(tags, column)
    norm = normalise_postcodes(text)
    bad = (text != "") & norm.isna()
    notes = []
    if bad.any():
        count = int(bad.sum())
        examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
        verb = "values are" if count != 1 else "value is"
        notes.append(
            Problem(
                file,
                f"{count:,} addr:postcode {verb} not a UK postcode "
                f"(e.g. {examples}) and left blank",
                severity="warning",
            )
        )
    return norm.astype(object).where(norm.notna(), pd.NA), notes


def step_free(wheelchair: pd.Series) -> pd.Series:
    """wheelchair=yes/designated -> True, no -> False, anything else (limited, blank) -> <NA>."""
    flags = wheelchair.astype("string").str.strip().str.lower().map(_WHEELCHAIR)
    return pd.Series(flags, index=wheelchair.index, dtype="boolean")


def _location_source(element: pd.Series, polygon: np.ndarray, points_are_nodes: bool) -> pd.Series:
    """How each premises was placed, e.g. "representative point of an OpenStreetMap way"."""
    point = "OpenStreetMap node" if points_are_nodes else "OpenStreetMap point"
    out = pd.Series(point, index=element.index, dtype=object)
    whole = element.isin(["way", "relation"])
    out[element == "node"] = "OpenStreetMap node"
    out[whole] = "centre of an OpenStreetMap " + element[whole]
    area = pd.Series(polygon, index=element.index)
    out[area] = "representative point of an OpenStreetMap " + element.where(whole, "area")[area]
    return out
