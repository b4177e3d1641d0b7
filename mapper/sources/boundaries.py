"""Ward, borough (LAD) and LSOA boundaries from ONS and the GLA London Datastore.

The kind of boundary is read from the codes in the file (``E05`` ward, ``E01`` LSOA,
``E06``-``E09`` district), never from the file name; the vintage from the ONS column
suffix (``WD18CD`` -> 2018); for GLA files, whose columns carry no year (``GSS_CODE``),
from a year in the file name when there is one, else "unknown".
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import geo
from mapper.errors import DataValidationError, Problem
from mapper.sources import codes
from mapper.sources.base import (
    OGL,
    OGL_ATTRIBUTION,
    OS_ATTRIBUTION,
    Context,
    Detection,
    Imported,
    check_codes,
    clean_polygons,
    inside_study_area,
    year_in_name,
)
from mapper.sources.files import Peek, read_vector

#: area kind -> (workspace layer, canonical code column, canonical name column, label)
LAYERS = {
    "ward": ("wards", "ward_code", "ward_name", "ward"),
    "lsoa": ("lsoas", "lsoa_code", "lsoa_name", "LSOA"),
    "lad": ("boroughs", "borough_code", "borough_name", "borough (local authority district)"),
}

# Column names (upper-case) that hold names in GLA and renamed layouts, by kind.
_NAME_COLUMNS = {
    "ward": ["NAME", "WARD_NAME", "WARDNAME", "WD_NAME"],
    "lsoa": ["NAME", "LSOA_NAME"],
    "lad": ["NAME", "BOROUGH", "BOROUGH_NAME", "LB_NAME", "LAD_NAME", "DISTRICT"],
}
_PARENT_NAME_COLUMNS = ["BOROUGH", "BOROUGH_NAME", "LB_NAME", "LAD_NAME", "DISTRICT"]


def _code_columns(head: pd.DataFrame) -> dict[str, list[str]]:
    """Area kind -> columns of that kind, in file order."""
    found: dict[str, list[str]] = {}
    for col in head.columns:
        if head[col].dtype.kind not in "OU" and str(head[col].dtype) not in ("string", "str"):
            continue
        kind = codes.dominant_kind(head[col])
        if kind is not None:
            found.setdefault(kind, []).append(col)
    return found


def _key_column(head: pd.DataFrame, columns: list[str]) -> str:
    """Of several code columns of one kind, the one with distinct values (the key); of
    equally distinct ones (``id`` and ``LAD13CD`` holding the same codes), the one whose
    ONS name gives the vintage."""

    def distinct_share(col):
        values = head[col].astype("string").str.strip()
        values = values[values != ""]
        return values.nunique() / max(len(values), 1), codes.column_vintage(col)[1] is not None

    return max(columns, key=distinct_share)


def detect(peek: Peek) -> Detection | None:
    """A polygon file keyed by LSOA, ward or district codes."""
    if peek.format != "vector":
        return None
    found = _code_columns(peek.head)
    for kind in ("lsoa", "ward", "lad"):
        if kind not in found:
            continue
        key = _key_column(peek.head, found[kind])
        # a parent code column (e.g. LAD in a ward file) is not distinct: a key must be
        values = peek.head[key].astype("string").str.strip()
        if values.nunique() < 0.5 * max((values != "").sum(), 1):
            continue
        layer, _, _, label = LAYERS[kind]
        vintage, how = _vintage(key, peek)
        return Detection(
            kind=layer,
            vintage=vintage,
            detail=f"{label} boundaries (code column {key}; vintage {how})",
            rows=peek.rows,
            reader=read,
            columns={"code": key, "name": _name_column(peek.head, key, kind) or ""},
            extra={"area_kind": kind, "parent": _parent_columns(peek.head, found, kind)},
        )
    return None


def _vintage(key: str, peek: Peek) -> tuple[str, str]:
    _, year, _ = codes.column_vintage(key)
    if year:
        return year, f"{year} from the column name"
    year = year_in_name(peek.path)
    if year:
        return year, f"{year} read from the file name"
    return "unknown", "unknown (no year in the column names)"


def _name_column(head: pd.DataFrame, key: str, kind: str) -> str | None:
    upper = {c.upper(): c for c in head.columns}
    if key.upper().endswith("CD") and key[:-2].upper() + "NM" in upper:
        return upper[key[:-2].upper() + "NM"]
    stem = key.lower().removesuffix("_code").removesuffix("code")
    for candidate in [f"{stem}_name", f"{stem}name"]:
        if candidate.upper() in upper:
            return upper[candidate.upper()]
    for candidate in _NAME_COLUMNS[kind]:
        if candidate in upper:
            return upper[candidate]
    return None


def _parent_columns(head: pd.DataFrame, found: dict[str, list[str]], kind: str) -> dict:
    """The borough code and name columns of a ward or LSOA file, when it has them."""
    if kind == "lad" or "lad" not in found:
        return {}
    code = found["lad"][0]
    upper = {c.upper(): c for c in head.columns}
    name = None
    if code.upper().endswith("CD") and code[:-2].upper() + "NM" in upper:
        name = upper[code[:-2].upper() + "NM"]
    elif code.lower().endswith("_code") and code[:-5].upper() + "_NAME" in upper:
        name = upper[code[:-5].upper() + "_NAME"]
    else:
        name = next((upper[c] for c in _PARENT_NAME_COLUMNS if c in upper), None)
    return {"code": code, "name": name}


def read(path, detection: Detection, context: Context) -> Imported:
    """Read, validate and normalise a boundary file to EPSG:27700 and canonical columns."""
    file = path.name
    kind = detection.extra["area_kind"]
    layer, code_col, name_col, label = LAYERS[kind]
    raw = read_vector(path)
    raw, notes = geo.to_analysis(raw, file=file)
    problems: list[Problem] = list(notes)
    key = detection.columns["code"]
    problems += check_codes(
        raw[key], file=file, column=key, kind=kind, rows=lambda p: p + 1, row_label="feature"
    )
    raw, geometry_problems = clean_polygons(raw, file=file)
    problems += geometry_problems
    _raise_errors(problems)

    frame = gpd.GeoDataFrame(
        {code_col: raw[key].astype("string").str.strip()},
        geometry=raw.geometry.values,
        crs=geo.CRS_ANALYSIS,
    )
    name_source = detection.columns.get("name")
    frame[name_col] = raw[name_source].astype("string").str.strip() if name_source else pd.NA
    if not name_source:
        problems.append(
            Problem(
                file, f"no {label} name column found; codes are shown instead", severity="warning"
            )
        )
        frame[name_col] = frame[code_col]
    parent = detection.extra.get("parent") or {}
    if kind != "lad":
        frame["borough_code"] = (
            raw[parent["code"]].astype("string").str.strip() if parent else pd.NA
        )
        frame["borough_name"] = (
            raw[parent["name"]].astype("string").str.strip() if parent.get("name") else pd.NA
        )

    keep = inside_study_area(frame.geometry, context)
    if not keep.all() and context.study_area is not None:
        if not keep.any():
            raise DataValidationError(
                [
                    Problem(
                        file,
                        f"none of its {len(frame)} features lies inside the study area "
                        f"({context.study_area_name}); is it the right file, and is its coordinate "
                        "reference system declared correctly?",
                    )
                ]
            )
        problems.append(
            Problem(
                file,
                f"{int((~keep).sum())} of {len(frame)} features lie outside the study area "
                f"({context.study_area_name}) and were not imported",
                severity="warning",
            )
        )
        frame = frame[keep].reset_index(drop=True)
    columns = [code_col, name_col] + (["borough_code", "borough_name"] if kind != "lad" else [])
    return Imported(
        kind=layer,
        frame=frame[columns + ["geometry"]],
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=len(raw),
        licence=OGL,
        attribution=f"{OGL_ATTRIBUTION} {OS_ATTRIBUTION}",
        warnings=[p for p in problems if p.severity == "warning"],
    )


def _raise_errors(problems: list[Problem]) -> None:
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(problems)


def assign_boroughs(areas: gpd.GeoDataFrame, boroughs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill missing ``borough_code``/``borough_name`` by where each area's interior point lies."""
    missing = areas["borough_code"].isna().to_numpy()
    if not missing.any() or boroughs.empty:
        return areas
    points = gpd.GeoDataFrame(
        geometry=areas.geometry[missing].representative_point(), crs=areas.crs
    )
    hit = gpd.sjoin(
        points,
        boroughs[["borough_code", "borough_name", "geometry"]],
        how="left",
        predicate="within",
    )
    hit = hit[~hit.index.duplicated(keep="first")]
    out = areas.copy()
    idx = out.index[missing]
    out.loc[idx, "borough_code"] = hit["borough_code"].reindex(idx).to_numpy()
    names = hit["borough_name"].reindex(idx).to_numpy()
    out.loc[idx, "borough_name"] = np.where(
        pd.isna(out.loc[idx, "borough_name"]), names, out.loc[idx, "borough_name"]
    )
    return out
