"""Community premises from OpenStreetMap extracts.

Two layouts, both recognised from their columns and values (never the file name):

* a flat table of points, like the London fixture ``osm_id, poi_type, lon, lat``, or an
  Overpass CSV export (``@id, @type, @lat, @lon, amenity, name ...``);
* GeoJSON / GeoPackage / Shapefile extracts as exported by Overpass turbo, osmium or
  ogr2ogr: one feature per OSM element, its tags as properties (``amenity``, ``religion``,
  ``name``, ``addr:*``, ``wheelchair`` ...) and its id as ``@id`` ("node/123"), ``osm_id``
  (with ``osm_type`` when present) or ``id``; nodes as Points, ways and relations as
  Polygons or MultiPolygons.

Only elements whose ``amenity`` (or ``poi_type``) maps to a premises type through
``mapper/mappings/categories.csv`` are premises; ``social_facility=food_bank`` makes a
food bank. Every other row (restaurants, pubs, shops ...) is *left out*: counted per type
in one warning and in ``Imported.extra["not_premises"]``, not listed row by row. So

    accepted + rejected + not_premises = rows_read

where accepted = ``len(imported.frame)``, rejected = ``len(imported.rejected)`` (one
problem per row: invalid rows skipped with ``Context.skip_invalid``, lines, duplicates,
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
from mapper.sources.base import Context, Detection, Imported, year_in_name
from mapper.sources.files import Peek, read_table, read_vector, table_row
from mapper.sources.points import Located, locate, settle
from mapper.sources.postcodes import normalise_postcode

SOURCE = "OpenStreetMap"
LICENCE = "Open Database Licence 1.0 (ODbL)"
ATTRIBUTION = "© OpenStreetMap contributors"
CAVEAT = "OpenStreetMap coverage varies; treat as a seed, not a register"
REGISTER = "premises"

#: canonical role -> column names it may have (lower-case), most specific first
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("@id", "osm_id", "id"),
    "element": ("@type", "osm_type"),
    "amenity": ("amenity",),
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
#: share of the first rows whose id must look like an OSM id for the file to be OSM
ID_SHARE = 0.9
#: how many types of left-out rows the warning names
SHOWN_TYPES = 8

_ELEMENTS = {"n": "node", "w": "way", "r": "relation", "node": "node", "way": "way",
             "relation": "relation"}
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
    return found


def detect(peek: Peek) -> Detection | None:
    """An OpenStreetMap extract: an OSM id column and an ``amenity`` or ``poi_type`` column
    (tables also need latitude and longitude)."""
    cols = find_columns(peek.columns)
    if "id" not in cols or not any(f in cols for f in TYPE_FIELDS):
        return None
    if peek.format == "table" and not ("lat" in cols and "lon" in cols):
        return None
    ids = _id_text(peek.head[cols["id"]])
    given = ids[ids != ""]
    if given.empty or given.str.match(_ID_PATTERN).mean() < ID_SHARE:
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
    of other types; accepted + rejected + not_premises = rows_read. Raises
    DataValidationError listing every invalid premises row, unless ``context.skip_invalid``.
    """
    file = path.name
    cols = detection.columns
    table = detection.extra.get("layout") == "table"
    raw = read_table(path)[0] if table else read_vector(path)
    row_label = "row" if table else "feature"
    types = premises_types(raw, cols)
    wanted = (types != "").to_numpy()
    warnings = [_left_out_note(raw, cols, ~wanted, file=file, noun="points" if table else "features")]
    positions = np.flatnonzero(wanted)
    premises = raw.iloc[positions].reset_index(drop=True)
    types = types.iloc[positions].reset_index(drop=True)

    def rows(pos: int) -> int:
        return table_row(positions[pos]) if table else int(positions[pos]) + 1

    elements, numbers, id_problems = osm_ids(premises, cols, file=file, rows=rows,
                                             row_label=row_label)
    rejected: list[Problem] = []
    if table:
        located = locate(premises, file=file, context=context, lat=cols["lat"], lon=cols["lon"],
                         rows=rows)
        polygons = np.zeros(len(premises), dtype=bool)
    else:
        located, polygons, notes, left_out = _locate_features(premises, file=file, rows=rows)
        warnings += notes
    _merge_id_problems(located, id_problems, left_out if not table else [], rejected)
    before = len(rejected)
    keep, notes = settle(located, file=file, context=context, rejected=rejected, rows=rows)
    if not table:  # settle labels its rejections "row"; these are feature numbers
        rejected[before:] = [replace(p, row_label="feature") for p in rejected[before:]]
    warnings += notes
    keep, notes = _drop_duplicates(keep, elements, numbers, file=file, rows=rows,
                                   row_label=row_label, rejected=rejected)
    warnings += notes
    frame, notes = _canonical(premises, cols, types, elements, numbers, keep, file=file,
                              rows=rows, located=located, polygons=polygons)
    warnings += notes
    if polygons[keep].any():
        count = int(polygons[keep].sum())
        warnings.append(Problem(file, f"{count:,} polygon feature{'s' if count != 1 else ''} "
                                "(buildings, sites) placed at a representative point inside "
                                f"{'them' if count != 1 else 'it'}", severity="warning"))
    warnings.append(Problem(file, CAVEAT, severity="warning"))
    return Imported(
        kind=REGISTER,
        frame=frame,
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=len(raw),
        licence=LICENCE,
        attribution=ATTRIBUTION,
        warnings=[w for w in warnings if w is not None],
        extra={"not_premises": int((~wanted).sum())},
        rejected=sorted(rejected, key=lambda p: p.row or 0),
    )


def premises_types(table: pd.DataFrame, cols: dict[str, str]) -> pd.Series:
    """Premises type of every row from its OSM tags; '' for rows that are not premises.

    ``amenity`` wins over ``poi_type``; ``social_facility`` (e.g. food_bank) decides when
    ``amenity`` is ``social_facility`` or names no premises type.
    """
    out = pd.Series("", index=table.index, dtype=object)
    for field in TYPE_FIELDS:
        if field in cols:
            mapped = registers.map_categories(table[cols[field]], source="osm", field=field,
                                              register=REGISTER)
            out = out.where(out != "", mapped)
    if "social_facility" in cols:
        facility = registers.map_categories(table[cols["social_facility"]], source="osm",
                                            field="social_facility", register=REGISTER)
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
    text = _id_text(table[column])
    parts = text.str.lower().str.extract(_ID_PATTERN)
    elements = parts["word"].fillna(parts["letter"]).fillna("").map(
        lambda v: _ELEMENTS.get(v, v)).astype(object)
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
        problems.append(Problem(file, "missing OpenStreetMap id", rows(pos), column,
                                row_label=row_label))
    for pos in np.flatnonzero(((numbers == "") & (text != "")).to_numpy()):
        problems.append(Problem(file, "not an OpenStreetMap id (expected e.g. node/123, way/456 "
                                "or 123)", rows(pos), column, text.iloc[pos],
                                row_label=row_label))
    return elements, numbers, problems


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


