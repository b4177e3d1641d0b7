"""Point files in the layouts people keep: spreadsheets (CSV), GeoJSON or GeoPackage with
latitude/longitude, eastings/northings, or only a postcode (geocoded through the
workspace's postcode centroids).

Known layouts (Give Food, Mutual Aid Wiki, warm spaces, Arts Council libraries ...) are
data, in ``mapper/mappings/layouts.json``; any other file with a name column and a
location is read by column-name synonyms (:data:`GENERIC_SYNONYMS`), and its register
(groups, premises or incidents) is taken from its columns: an id column of a register
(``group_id`` ...), a date or month column (incidents), a capacity or step-free column
(premises), else groups. ``mapper import FILE --as premises`` overrides.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from mapper import personal_text, registers
from mapper.errors import Problem
from mapper.sources.base import Context, Detection, Imported
from mapper.sources.files import Peek, read_table, read_vector, table_row
from mapper.sources.points import locate, settle
from mapper.sources.postcodes import normalise_postcode

LAYOUTS_FILE = registers.MAPPINGS_DIR / "layouts.json"

#: canonical column -> column names (normalised: lower case, single spaces) that mean it
GENERIC_SYNONYMS: dict[str, list[str]] = {
    "name": [
        "name",
        "title",
        "organisation",
        "organization",
        "organisation name",
        "organization name",
        "group name",
        "group",
        "premises name",
        "venue",
        "site name",
    ],
    "lat": ["lat", "latitude", "y lat"],
    "lon": ["lon", "lng", "long", "longitude", "x lon"],
    "easting": ["easting", "eastings", "os easting", "x"],
    "northing": ["northing", "northings", "os northing", "y"],
    "postcode": ["postcode", "post code", "postal code", "pcd", "pcds"],
    "category": ["category", "group type", "sector"],
    "type": ["type", "premises type", "incident type", "crime type", "building type"],
    "description": ["description", "summary", "details", "notes"],
    "address": ["address", "full address", "street address"],
    "phone": ["phone", "telephone", "tel", "phone number", "telephone number"],
    "email": ["email", "e mail", "email address"],
    "website": ["website", "url", "web", "web address"],
    "contact_name": ["contact name", "contact person", "main contact"],
    "date": ["date", "incident date", "date of incident", "reported date"],
    "month": ["month"],
    "last_verified": ["last verified", "verified", "last checked", "date checked", "updated"],
    "source_id": ["id", "reference", "ref", "source id"],
}
_PERSONAL_TEXT, _PHONE = personal_text.EMAIL, personal_text.PHONE  # the one rule


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", name.lower()).strip()


@lru_cache(maxsize=2)
def load_layouts(path: Path = LAYOUTS_FILE) -> dict[str, dict]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _match_layout(columns: list[str]) -> str | None:
    present = {_norm(c) for c in columns}
    for key, layout in load_layouts().items():
        if all(_norm(c) in present for c in layout["signature"]):
            return key
    return None


def _generic_columns(columns: list[str]) -> dict[str, str]:
    """Canonical column -> the file's column, for canonical names and their synonyms."""
    by_norm = {}
    for col in columns:
        by_norm.setdefault(_norm(col), col)
    mapping: dict[str, str] = {}
    every = set().union(*registers.REGISTER_COLUMNS.values()) | {
        "source",
        "lat",
        "lon",
        "easting",
        "northing",
        "latitude",
        "longitude",
    }
    for canonical in sorted(every):
        if _norm(canonical) in by_norm:
            mapping[canonical] = by_norm[_norm(canonical)]
    for canonical, names in GENERIC_SYNONYMS.items():
        if canonical in mapping:
            continue
        hit = next((by_norm[n] for n in names if n in by_norm), None)
        if hit is not None:
            mapping[canonical] = hit
    if "latitude" in mapping:
        mapping.setdefault("lat", mapping.pop("latitude"))
    if "longitude" in mapping:
        mapping.setdefault("lon", mapping.pop("longitude"))
    return mapping


def _generic_register(mapping: dict[str, str]) -> str:
    for register, id_col in registers.ID_COLUMN.items():
        if id_col in mapping:
            return register
    if "date" in mapping or "month" in mapping:
        return "incidents"
    if "capacity" in mapping or "step_free" in mapping:
        return "premises"
    return "groups"


def detect(peek: Peek) -> Detection | None:
    """A table or vector file of points: a known layout, or a name column and a location."""
    key = _match_layout(peek.columns)
    if key is not None:
        layout = load_layouts()[key]
        return Detection(
            kind=layout["register"],
            vintage=_vintage_hint(peek),
            detail=f"{layout['label']} ({layout['register']})",
            rows=peek.rows,
            reader=read,
            extra={"layout": key},
        )
    mapping = _generic_columns(peek.columns)
    located = (
        {"lat", "lon"} <= mapping.keys()
        or {"easting", "northing"} <= mapping.keys()
        or "postcode" in mapping
        or (peek.format == "vector" and peek.geometry_type)
    )
    if not located or not ({"name", "type"} & mapping.keys()):
        return None
    register = _generic_register(mapping)
    how = (
        "latitude/longitude"
        if {"lat", "lon"} <= mapping.keys()
        else "eastings/northings"
        if {"easting", "northing"} <= mapping.keys()
        else "geometry"
        if peek.format == "vector"
        else "postcode only"
    )
    return Detection(
        kind=register,
        vintage=_vintage_hint(peek),
        detail=f"a table of {register} located by {how}",
        rows=peek.rows,
        reader=read,
        columns=mapping,
        extra={"layout": None},
    )


def _vintage_hint(peek: Peek) -> str:
    from mapper.sources.base import year_in_name

    return year_in_name(peek.path) or "undated"


def with_register(detection: Detection, register: str) -> Detection:
    """The same detection, read as another register (``mapper import --as``)."""
    if register not in registers.REGISTERS:
        raise ValueError(f"unknown register {register!r}")
    detection.kind = register
    detection.detail = detection.detail.split(" (")[0] + f" (read as {register})"
    return detection


def _dates(values: pd.Series, *, file: str, column: str, month: bool = False):
    """ISO dates (or YYYY-MM months) from common spellings; problems for the unreadable."""
    text = values.astype("string").str.strip().fillna("")
    if month:  # months as Excel leaves them (Mar-24 ...): read by the one month reader
        from mapper.sources.dates import read_when, unreadable

        months, _, _ = read_when(text)
        problems = [Problem(file, "not a month (expected e.g. 2024-05, Mar-24 or 03/2024)",
                            table_row(p), column, text.iloc[p]) for p in unreadable(text, months)]
        return months.astype("object").where(months.notna(), pd.NA), problems
    parsed = pd.to_datetime(text.where(text != ""), errors="coerce", format="ISO8601", utc=True)
    retry = parsed.isna() & (text != "")
    if retry.any():
        parsed[retry] = pd.to_datetime(
            text[retry], errors="coerce", dayfirst=True, utc=True, format="mixed"
        )
    parsed[parsed.dt.year < 1900] = pd.NaT  # 'Mar-24' is not 24 March of the year 1
    bad = parsed.isna() & (text != "")
    problems = [
        Problem(
            file,
            "not a date (expected e.g. 2024-05-31 or 31/05/2024)",
            table_row(p),
            column,
            text.iloc[p],
        )
        for p in np.flatnonzero(bad)
    ]
    fmt = "%Y-%m" if month else "%Y-%m-%d"
    return parsed.dt.strftime(fmt).astype("object").where(parsed.notna(), pd.NA), problems


_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}


def _typed(df: pd.DataFrame, register: str, *, file: str, column) -> list[Problem]:
    """Whole numbers (capacity, severity) and yes/no (step_free): parsed, bad cells listed."""
    problems: list[Problem] = []
    for name, low, high in (("capacity", 0, None), ("severity", 1, 5)):
        if name not in df:
            continue
        text = df[name].astype("string").str.strip().fillna("")
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
        bad = (text != "") & (
            numbers.isna()
            | (numbers % 1 != 0)
            | (numbers < low)
            | ((numbers > high) if high else False)
        )
        limits = f"from {low} to {high}" if high else f"of at least {low}"
        problems += [
            Problem(
                file, f"expected a whole number {limits}", table_row(p), column(name), text.iloc[p]
            )
            for p in np.flatnonzero(bad)
        ]
        df[name] = numbers.where(~bad).astype("Int64")
    if "step_free" in df:
        text = df["step_free"].astype("string").str.strip().str.lower().fillna("")
        bad = (text != "") & ~text.isin(_TRUE | _FALSE)
        problems += [
            Problem(file, "expected yes or no", table_row(p), column("step_free"), text.iloc[p])
            for p in np.flatnonzero(bad)
        ]
        df["step_free"] = text.map(
            lambda v: True if v in _TRUE else False if v in _FALSE else pd.NA
        ).astype("boolean")
    return problems


def _split_contact(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.astype("string").fillna("")
    email = text.str.extract(f"({_PERSONAL_TEXT.pattern})", expand=False)
    phone = text.str.extract(f"({_PHONE.pattern})", expand=False).str.strip()
    return email.astype("object"), phone.astype("object")


def _vocabulary(
    values: pd.Series, register: str, *, file: str, source: str, field: str, notes: list[Problem]
) -> pd.Series:
    vocab = registers.vocabulary(register)
    lowered = values.astype("string").str.strip().str.lower().fillna("")
    mapped = registers.map_categories(values, source=source, field=field, register=register)
    out = lowered.where(lowered.isin(vocab), mapped).astype("object")
    other = "other"
    unknown = ~lowered.isin(vocab) & (mapped.isin(["", other]))
    if unknown.any():
        seen = Counter(values[unknown].astype(str))
        listed = ", ".join(f"'{v}' ({n})" for v, n in seen.most_common(5))
        notes.append(
            Problem(
                file,
                f"{int(unknown.sum())} rows have a {field} outside the "
                f"vocabulary ({listed}): set to '{other}'; map them in "
                "mapper/mappings/categories.csv",
                severity="warning",
            )
        )
    return out.where(out != "", other)


def read(path: Path, detection: Detection, context: Context) -> Imported:
    file = path.name
    register = detection.kind
    layout_key = detection.extra.get("layout")
    layout = load_layouts()[layout_key] if layout_key else None
    if path.suffix.lower() in (".csv", ".txt", ".tsv"):
        table, _ = read_table(path)
        geometry = None
    else:
        vector = read_vector(path)
        geometry = vector
        table = pd.DataFrame(vector.drop(columns=vector.geometry.name)).astype("string")
        table = table.fillna("")
    rows_read = len(table)
    mapping = dict(layout["fields"]) if layout else dict(detection.columns)
    if layout:
        mapping.update({f"loc_{k}": v for k, v in layout["location"].items()})
    cols = {_norm(c): c for c in table.columns}

    def column(canonical: str) -> str | None:
        name = mapping.get(canonical)
        return cols.get(_norm(name)) if name else None

    problems: list[Problem] = []
    notes: list[Problem] = []
    df = pd.DataFrame(index=table.index)
    for canonical in registers.REGISTER_COLUMNS[register] + ["source_id", "source"]:
        col = column(canonical)
        if col is not None:
            df[canonical] = table[col].astype("string").str.strip().replace("", pd.NA)
    for canonical, value in (layout or {}).get("constants", {}).items():
        df[canonical] = value
    source_name = layout["source"] if layout else path.stem
    if layout and column("source_detail"):
        df["source"] = source_name + " (" + table[column("source_detail")].astype(str) + ")"
    elif "source" in df:
        df["source"] = df["source"].fillna(source_name)
    else:
        df["source"] = source_name
    problems += _typed(df, register, file=file, column=column)
    if column("contact"):
        df["email"], df["phone"] = _split_contact(table[column("contact")])
    if "postcode" in df:
        df["postcode"] = normalise_postcode(df["postcode"].fillna("")).astype("object")
    if "last_verified" in df:
        df["last_verified"], bad = _dates(
            df["last_verified"], file=file, column=column("last_verified")
        )
        problems += bad
    if register == "incidents":
        if "date" in df:
            df["date"], bad = _dates(df["date"], file=file, column=column("date"))
            problems += bad
            df["month"] = df["date"].str[:7] if "month" not in df else df["month"]
        if "month" in df and "date" not in df:
            df["month"], bad = _dates(df["month"], file=file, column=column("month"), month=True)
            problems += bad
    key = "category" if register == "groups" else "type" if register == "premises" else None
    if key and key not in (layout or {}).get("constants", {}):
        src_key = layout_key or "generic"
        if layout and key == "category":
            df[key] = registers.map_categories(
                pd.Series("", index=df.index), source=src_key, field="*", register=register
            )
        elif key in df:
            df[key] = _vocabulary(
                df[key], register, file=file, source=src_key, field=key, notes=notes
            )
        else:
            df[key] = "other"
    loc = (
        {k[4:]: v for k, v in mapping.items() if k.startswith("loc_")}
        if layout
        else {
            k: v
            for k, v in mapping.items()
            if k in ("lat", "lon", "easting", "northing", "postcode")
        }
    )
    loc = {k: cols.get(_norm(v)) for k, v in loc.items() if cols.get(_norm(v))}
    if geometry is not None:  # a vector file's own geometry wins over its columns
        located = _from_geometry(geometry, file=file, notes=notes)
    else:
        located = locate(table, file=file, context=context, **loc)
    slug = re.sub(r"[^0-9a-z]+", "-", (layout_key or path.stem).lower()).strip("-")
    id_col = registers.ID_COLUMN[register]
    # rows of a table count from 2 (after the header); features of a vector file from 1
    number = table_row if geometry is None else (lambda p: p + 1)
    row_numbers = pd.Series([number(p) for p in range(rows_read)], index=table.index)
    if id_col in df and df[id_col].notna().all():
        pass
    elif "source_id" in df and df["source_id"].notna().all() and df["source_id"].is_unique:
        df[id_col] = slug + ":" + df["source_id"].astype(str)
    else:
        df[id_col] = slug + ":" + path.stem + ":" + row_numbers.astype(str)
    df["source_file"] = file
    df["source_row"] = row_numbers
    df["location_source"] = np.where(
        located.how == "postcode centroid",
        "postcode centroid",
        (layout or {}).get("location_source", "coordinates"),
    )
    problems += check_duplicate_ids(df, register, file)
    problems += located.problems
    located.problems = sorted(problems, key=lambda p: p.row or 0)
    rejected: list[Problem] = []
    keep, more = settle(located, file=file, context=context, rejected=rejected, rows=number)
    notes += more
    frame = registers.conform(df[keep], register, located.geometry[keep].to_numpy())
    return Imported(
        kind=register,
        frame=frame.reset_index(drop=True),
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=rows_read,
        licence=(layout or {}).get("licence", "as supplied by the user (not recorded)"),
        attribution=(layout or {}).get("attribution", f"Source: {file}."),
        warnings=notes,
        rejected=rejected,
    )


def _from_geometry(vector, *, file: str, notes: list[Problem]):
    """Locate rows of a vector file by its own geometry (polygons at a representative point)."""
    import shapely

    from mapper import geo
    from mapper.sources.points import Located

    frame, crs_notes = geo.to_analysis(vector, file=file)
    notes += crs_notes
    geoms = frame.geometry.array
    empty = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    areal = np.isin(np.asarray(shapely.get_type_id(geoms)), [3, 6]) & ~empty
    points = np.where(areal, shapely.point_on_surface(geoms), geoms)
    kinds = np.asarray(shapely.get_type_id(points))
    bad = empty | ~np.isin(kinds, [0])
    # a coordinate that is NaN or infinite is no location (not one outside the area)
    safe = np.where(bad, None, points)
    unplaced = ~bad & ~(np.isfinite(shapely.get_x(safe)) & np.isfinite(shapely.get_y(safe)))
    problems = [
        Problem(
            file,
            "empty or non-point geometry; expected a point or polygon",
            int(p) + 1,
            row_label="feature",
        )
        for p in np.flatnonzero(bad)
    ] + [
        Problem(file, "no coordinates (NaN or infinite); expected a point with finite "
                "coordinates", int(p) + 1, row_label="feature")
        for p in np.flatnonzero(unplaced)
    ]
    bad |= unplaced
    if areal.any():
        notes.append(
            Problem(
                file,
                f"{int(areal.sum())} polygon features placed at a representative point inside them",
                severity="warning",
            )
        )
    series = frame.geometry.copy()
    series[:] = points
    series[bad] = None
    return Located(series, pd.Series(np.where(bad, "", "coordinates"), index=frame.index), problems)


def check_duplicate_ids(frame: pd.DataFrame, register: str, file: str) -> list[Problem]:
    """An id column given in the file must not repeat (each repeat is an invalid row)."""
    id_col = registers.ID_COLUMN[register]
    dup = frame[id_col].duplicated(keep="first").to_numpy()
    first = frame.drop_duplicates(id_col).set_index(id_col)["source_row"]
    return [
        Problem(file, f"duplicate id (also at row {first[i]}); each record must appear once",
                int(r), id_col, i)
        for r, i in zip(frame.loc[dup, "source_row"], frame.loc[dup, id_col], strict=True)
    ]
