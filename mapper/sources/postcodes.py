"""Postcode centroids, from any table with one row per postcode and its location:

* OS Code-Point Open (CSV, with or without its header row);
* the ONS Postcode Directory / National Statistics Postcode Lookup of any header vintage
  (``pcds``/``pcd``/``pcd7``; ``oseast1m``/``east1m``; ``oslaua``/``laua``/``lad25cd``;
  ``osward``/``ward``/``wd25cd``; ``lsoa11``/``lsoa21cd`` ...);
* derived postcode lookups: a postcode column, latitude/longitude or eastings/northings,
  with or without area-code columns, and nothing else but numbers (a name or address
  column makes the table a register of places with postcodes instead).

Columns are found from normalised headers (case and punctuation ignored); an area-code
column is used only when its values are codes of that kind.

Canonical columns: ``postcode`` (upper case, one space before the inward code),
``borough_code``, ``ward_code`` (as published, vintage in provenance), ``lsoa_code``
and a point geometry in EPSG:27700. Terminated postcodes and postcodes without a grid
reference or coordinates are left out and counted (a table with no termination date
keeps them all, with a warning saying so); postcodes outside the study area are left out
and counted (national files are cut to the study area).

The postcode pattern and normalising are :mod:`mapper.postcodes`' (the one postcode module)."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import geo
from mapper.errors import DataValidationError, Problem
from mapper.postcodes import POSTCODE, normalise_postcodes
from mapper.sources.base import (
    OGL,
    OGL_ATTRIBUTION,
    OS_ATTRIBUTION,
    Context,
    Detection,
    Imported,
    inside_study_area,
    parse_numbers,
    year_in_name,
)
from mapper.sources.codes import dominant_kind
from mapper.sources.files import Peek, read_table, table_row

CODEPOINT_COLUMNS = [
    "Postcode",
    "Positional_quality_indicator",
    "Eastings",
    "Northings",
    "Country_code",
    "NHS_regional_HA_code",
    "NHS_HA_code",
    "Admin_county_code",
    "Admin_district_code",
    "Admin_ward_code",
]
ROYAL_MAIL = "Contains Royal Mail data © Royal Mail copyright and database right."
#: values of an 'In Use?' column meaning the postcode is terminated
NOT_IN_USE = ("no", "n", "false", "0")
#: the latitude ONSPD/NSPL give postcodes that have no grid reference
NO_LATITUDE = 99.999999
NATSTATS = "Contains National Statistics data © Crown copyright and database right."


def _norm(header: str) -> str:
    """'Admin_ward_code' -> 'adminwardcode', 'Post Code' -> 'postcode'."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


#: normalised header -> field, in order of preference (the first present wins)
_HEADERS: dict[str, list[str]] = {
    "postcode": ["pcds", "pcd8", "pcd7", "pcd", "pcd2", "postcode", "postcodes", "postcodeunit",
                 "pcdunit", "pc"],
    "easting": ["oseast1m", "east1m", "eastings", "easting"],
    "northing": ["osnrth1m", "north1m", "northings", "northing"],
    "lat": ["lat", "latitude"],
    "lon": ["long", "lon", "lng", "longitude"],
    "doterm": ["doterm", "terminated", "dateoftermination"],
    "in_use": ["inuse"],
    "gridind": ["osgrdind", "gridind"],
    "quality": ["positionalqualityindicator"],
    "borough_code": ["oslaua", "laua", "admindistrictcode", "districtcode", "ladcd", "ladcode"],
    "ward_code": ["osward", "ward", "adminwardcode", "wdcd", "wardcode"],
    "lsoa_code": ["lsoa21cd", "lsoa21", "lsoa21code", "lsoa11cd", "lsoa11", "lsoacd",
                  "lsoacode", "lsoa"],
}
#: ONS vintage-suffixed code columns (lad25cd, wd19cd ...) for the area-code fields
_SUFFIXED = {"borough_code": r"lad\d\dcd", "ward_code": r"wd\d\dcd", "lsoa_code": r"lsoa\d\dcd"}
_CODE_KIND = {"borough_code": "lad", "ward_code": "ward", "lsoa_code": "lsoa"}
_CODE_WORD = {"borough_code": "district", "ward_code": "ward", "lsoa_code": "LSOA"}
#: headers only the ONS Postcode Directory / NSPL use
_DIRECTORY_HEADERS = {"pcds", "pcd7", "pcd8", "pcd2"}


def _fields(head: pd.DataFrame) -> dict[str, str]:
    """field -> column of the file, from the headers; an area-code field takes the first
    of its columns whose values are codes of that kind ('Ward' may hold names and
    'Ward Code' the codes)."""
    by_norm: dict[str, str] = {}
    for col in head.columns:
        by_norm.setdefault(_norm(col), col)
    found: dict[str, str] = {}
    for name, options in _HEADERS.items():
        hits = [by_norm[o] for o in options if o in by_norm]
        if name in _SUFFIXED:
            suffixed = sorted((n for n in by_norm if re.fullmatch(_SUFFIXED[name], n)),
                              reverse=True)  # the newest vintage first
            hits = [*hits, *(by_norm[n] for n in suffixed)]
            hits = [c for c in hits if dominant_kind(head[c], share=0.9) == _CODE_KIND[name]]
        if hits:
            found[name] = hits[0]
    return found


def _postcode_shaped(values: pd.Series) -> float:
    text = values.astype("string").str.strip()
    text = text[text.fillna("") != ""]
    return float(normalise_postcodes(text).notna().mean()) if len(text) else 0.0


#: words in the header of a text column that describes the postcode's place (its area's
#: name, its grid reference ...), as derived lookups (such as doogal.co.uk's) have them
_ABOUT_THE_POSTCODE = re.compile(
    r"ward|district|county|country|region|parish|constituency|borough|authority|lsoa|msoa"
    r"|outputarea|superoutputarea|park|builtup|traveltowork|policeforce|postcodearea"
    r"|postcodesector|gridref|inuse|introduced|terminated|usertype|quality|ruralurban"
    r"|water|sewage|itl|nuts|lastupdated|plus|station|uprn|zone"
)


def _only_postcode_data(peek: Peek, fields: dict[str, str]) -> bool:
    """A derived postcode lookup: every column is the postcode, a coordinate, an area
    code (by header or by content), a number or text about the postcode's place (its
    ward's name, its grid reference ...); any other text column (a name, an address, a
    type, a date of something) makes it a register of places with postcodes, not a
    postcode table."""
    used = set(fields.values())
    for col in peek.columns:
        if col in used or _ABOUT_THE_POSTCODE.search(_norm(col)):
            continue
        values = peek.head[col].astype("string").str.strip()
        values = values[values.fillna("") != ""]
        if values.empty or dominant_kind(values, share=0.9) is not None:
            continue
        if pd.to_numeric(values.str.replace(",", "", regex=False), errors="coerce").notna().all():
            continue
        return False
    return True


def _layout(peek: Peek) -> tuple[str, dict[str, str]] | None:
    fields = _fields(peek.head)
    has_grid = "easting" in fields and "northing" in fields
    has_lonlat = "lat" in fields and "lon" in fields
    if "postcode" not in fields or not (has_grid or has_lonlat):
        return None
    if has_grid:  # eastings/northings are exact; latitude/longitude are derived from them
        fields.pop("lat", None)
        fields.pop("lon", None)
    norms = {_norm(c) for c in peek.columns}
    if norms & _DIRECTORY_HEADERS:
        style = "2025" if "east1m" in norms else "legacy"
        return f"ONS Postcode Directory / NSPL ({style} headers)", fields
    # the short form (postcode and a grid reference) must hold only postcode data: a list
    # of four columns, a venue's name, postcode and grid reference, is a register; the full
    # form's Country_code and NHS codes (E92, E19 ...) are not area codes this tool knows
    short = len(peek.columns) <= 4 and _only_postcode_data(peek, fields)
    if has_grid and ("quality" in fields or short) and "doterm" not in fields:
        return "OS Code-Point Open", fields
    postcodes = peek.head[fields["postcode"]]
    blank = (postcodes.astype("string").str.strip().fillna("") == "").any()
    repeated = normalise_postcodes(postcodes).dropna().duplicated().any()
    if blank or repeated or _postcode_shaped(postcodes) < 0.95:
        return None  # not one row per postcode: a register of places with postcodes
    if not _only_postcode_data(peek, fields):
        return None
    where = "eastings/northings" if has_grid else "latitude/longitude"
    codes = [_CODE_WORD[n] for n in _CODE_KIND if n in fields]
    with_codes = f" and {', '.join(codes)} codes" if codes else ", no area codes"
    return f"postcode lookup table: postcode with {where}{with_codes}", fields


def is_codepoint_headers(peek: Peek) -> bool:
    """Code-Point Open's companion file of column headers (``PC, PQ, EA, NO ...``)."""
    return [c.upper() for c in peek.columns[:4]] == ["PC", "PQ", "EA", "NO"]


def _headerless_codepoint(peek: Peek) -> bool:
    first = peek.columns
    return (
        len(first) == 10
        and bool(POSTCODE.match(first[0].upper().strip()))
        and first[2].strip().isdigit()
        and first[3].strip().isdigit()
    )


def detect(peek: Peek) -> Detection | None:
    if peek.format != "table":
        return None
    headerless = _headerless_codepoint(peek)
    layout = (
        (
            "OS Code-Point Open (no header row)",
            {
                "postcode": "Postcode",
                "easting": "Eastings",
                "northing": "Northings",
                "borough_code": "Admin_district_code",
                "ward_code": "Admin_ward_code",
                "quality": "Positional_quality_indicator",
            },
        )
        if headerless
        else _layout(peek)
    )
    if layout is None:
        return None
    detail, mapping = layout
    year = year_in_name(peek.path)
    return Detection(
        kind="postcodes",
        vintage=year or "unknown",
        detail=detail,
        rows=None,
        reader=read,
        columns=mapping,
        extra={"headerless": headerless},
    )


def read(path, detection: Detection, context: Context) -> Imported:
    file = path.name
    table, _ = read_table(path)
    if detection.extra.get("headerless"):
        table = pd.concat([pd.DataFrame([table.columns], columns=table.columns), table])
        table.columns = CODEPOINT_COLUMNS[: len(table.columns)]
        table = table.reset_index(drop=True)
    cols = detection.columns
    rows_read = len(table)
    keep = np.ones(rows_read, dtype=bool)
    notes: list[Problem] = []
    if "doterm" in cols or "in_use" in cols:
        terminated = np.zeros(rows_read, dtype=bool)
        if "doterm" in cols:  # a termination date
            terminated |= (table[cols["doterm"]].str.strip() != "").to_numpy()
        if "in_use" in cols:  # 'In Use?' = No
            terminated |= table[cols["in_use"]].str.strip().str.lower().isin(NOT_IN_USE).to_numpy()
        keep &= ~terminated
        if terminated.any():
            notes.append(
                Problem(
                    file,
                    f"{int(terminated.sum())} terminated postcodes left out",
                    severity="warning",
                )
            )
    if "gridind" in cols:
        no_grid = (table[cols["gridind"]].str.strip() == "9").to_numpy()
        keep &= ~no_grid
        if (no_grid & keep).any() or no_grid.any():
            notes.append(
                Problem(
                    file,
                    f"{int(no_grid.sum())} postcodes without a grid reference left out",
                    severity="warning",
                )
            )
    if not ({"doterm", "in_use"} & cols.keys()) and not detection.detail.startswith(
        "OS Code-Point"
    ):
        notes.append(Problem(file, "no termination-date column, so terminated postcodes (if "
                             "the file has any) cannot be told apart and are kept",
                             severity="warning"))
    problems: list[Problem] = []
    postcode = normalise_postcodes(table[cols["postcode"]])
    for pos in np.flatnonzero(postcode.isna().to_numpy() & keep):
        problems.append(
            Problem(
                file,
                "not a UK postcode (expected e.g. 'SW1A 1AA')",
                table_row(pos),
                cols["postcode"],
                table[cols["postcode"]].iloc[pos],
            )
        )
    if "easting" in cols:
        x_col, y_col, crs = cols["easting"], cols["northing"], geo.CRS_ANALYSIS
        (x_low, y_low, x_high, y_high) = geo.BNG_BOUNDS
    else:
        x_col, y_col, crs = cols["lon"], cols["lat"], geo.CRS_DISPLAY
        (x_low, y_low, x_high, y_high) = geo.UK_LONLAT_BOUNDS
        # ONSPD/NSPL give postcodes with no grid reference latitude 99.999999
        no_place = ((table[y_col].str.strip() == "") | (table[x_col].str.strip() == "")
                    | (pd.to_numeric(table[y_col], errors="coerce") == NO_LATITUDE)).to_numpy()
        if (no_place & keep).any():
            notes.append(Problem(file, f"{int((no_place & keep).sum())} postcodes without "
                                 "coordinates left out", severity="warning"))
        keep &= ~no_place
    easting, bad_e = parse_numbers(
        table[x_col].where(keep, str(x_low)), file=file, column=x_col, low=x_low, high=x_high
    )
    northing, bad_n = parse_numbers(
        table[y_col].where(keep, str(y_low)), file=file, column=y_col, low=y_low, high=y_high
    )
    problems += bad_e + bad_n
    dup = postcode.duplicated(keep="first").to_numpy() & postcode.notna().to_numpy() & keep
    for pos in np.flatnonzero(dup):
        problems.append(
            Problem(
                file,
                "duplicate postcode; each must appear once",
                table_row(pos),
                cols["postcode"],
                postcode.iloc[pos],
            )
        )
    if problems:
        raise DataValidationError(problems)

    frame = gpd.GeoDataFrame(
        {"postcode": postcode},
        geometry=geo.points_from_xy(easting, northing, crs=crs).values,
        crs=geo.CRS_ANALYSIS,
    )
    for name in ("borough_code", "ward_code", "lsoa_code"):
        frame[name] = table[cols[name]].str.strip() if name in cols else pd.NA
    if "quality" in cols:
        frame["quality"] = pd.to_numeric(table[cols["quality"]], errors="coerce").astype("Int64")
    frame = frame[keep].reset_index(drop=True)
    inside = inside_study_area(frame.geometry, context)
    if not inside.all():
        if not inside.any():
            raise DataValidationError(
                [
                    Problem(
                        file,
                        f"none of its {len(frame)} postcodes lies "
                        f"inside the study area ({context.study_area_name})",
                    )
                ]
            )
        notes.append(
            Problem(
                file,
                f"{int((~inside).sum())} postcodes outside the study area "
                f"({context.study_area_name}) left out",
                severity="warning",
            )
        )
        frame = frame[inside].reset_index(drop=True)
    ons = detection.detail.startswith("ONS")
    attribution = " ".join([OGL_ATTRIBUTION, OS_ATTRIBUTION, ROYAL_MAIL, NATSTATS])
    return Imported(
        kind="postcodes",
        frame=frame,
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=rows_read,
        licence=OGL,
        attribution=("Source: Office for National Statistics. " if ons else "") + attribution,
        warnings=notes,
    )
