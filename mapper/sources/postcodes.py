"""Postcode centroids: OS Code-Point Open (CSV, with or without its header row) and the
ONS Postcode Directory / National Statistics Postcode Lookup (legacy ``pcds``,
``oseast1m``, ``osnrth1m`` headers and the 2025 ``pcds``, ``east1m``, ``north1m`` ones).

Canonical columns: ``postcode`` (upper case, one space before the inward code),
``borough_code``, ``ward_code`` (as published, vintage in provenance), ``lsoa_code``
(ONSPD/NSPL only) and a point geometry in EPSG:27700. Terminated postcodes and postcodes
without a grid reference are left out and counted; postcodes outside the study area are
left out and counted (national files are cut to the study area).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import geo
from mapper.errors import DataValidationError, Problem
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
from mapper.sources.files import Peek, read_table, table_row

POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")
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
NATSTATS = "Contains National Statistics data © Crown copyright and database right."


def normalise_postcode(values: pd.Series) -> pd.Series:
    """'sw1a1aa', ' SW1A  1AA ' -> 'SW1A 1AA'; anything not postcode-shaped -> <NA>."""
    text = values.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    parts = text.str.extract(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
    return (parts[0] + " " + parts[1]).astype("string")


def _lower(columns) -> dict[str, str]:
    return {c.lower(): c for c in columns}


def _layout(peek: Peek) -> tuple[str, dict[str, str]] | None:
    cols = _lower(peek.columns)
    if "pcds" in cols and ({"oseast1m", "east1m"} & cols.keys()):
        east = cols.get("oseast1m") or cols["east1m"]
        north = cols.get("osnrth1m") or cols["north1m"]
        mapping = {"postcode": cols["pcds"], "easting": east, "northing": north}
        for name, options in {
            "doterm": ["doterm"],
            "gridind": ["osgrdind", "gridind"],
            "borough_code": ["oslaua"] + [c for c in cols if re.fullmatch(r"lad\d\dcd", c)],
            "ward_code": ["osward"] + [c for c in cols if re.fullmatch(r"wd\d\dcd", c)],
            "lsoa_code": ["lsoa21cd", "lsoa21", "lsoa11cd", "lsoa11"],
        }.items():
            hit = next((cols[o] for o in options if o in cols), None)
            if hit:
                mapping[name] = hit
        style = "2025" if "east1m" in cols else "legacy"
        return f"ONS Postcode Directory / NSPL ({style} headers)", mapping
    if (
        "postcode" in cols
        and "eastings" in cols
        and "northings" in cols
        and ("positional_quality_indicator" in cols or len(peek.columns) <= 4)
    ):
        mapping = {
            "postcode": cols["postcode"],
            "easting": cols["eastings"],
            "northing": cols["northings"],
        }
        for name, key in [
            ("borough_code", "admin_district_code"),
            ("ward_code", "admin_ward_code"),
            ("quality", "positional_quality_indicator"),
        ]:
            if key in cols:
                mapping[name] = cols[key]
        return "OS Code-Point Open", mapping
    return None


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
    if "doterm" in cols:
        terminated = (table[cols["doterm"]].str.strip() != "").to_numpy()
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
    problems: list[Problem] = []
    postcode = normalise_postcode(table[cols["postcode"]])
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
    easting, bad_e = parse_numbers(
        table[cols["easting"]].where(keep, "0"),
        file=file,
        column=cols["easting"],
        low=0,
        high=700_000,
    )
    northing, bad_n = parse_numbers(
        table[cols["northing"]].where(keep, "0"),
        file=file,
        column=cols["northing"],
        low=0,
        high=1_300_000,
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
        geometry=geo.points_from_xy(easting, northing, crs=geo.CRS_ANALYSIS).values,
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
