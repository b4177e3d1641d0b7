"""Exports of the point registers (groups, premises, incidents) as CSV, GeoJSON, GeoPackage
or an Open Referral UK tabular package, each carrying the provenance and attribution of
the records it holds.

Personal data (contact name, phone, e-mail, website) is left out unless the caller asks
for it explicitly. Files are written to a temporary name and renamed into place, so a
failed export never leaves half a file.

CSV exports are safe to open in a spreadsheet: a text cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return (which Excel or LibreOffice would run as a
formula, e.g. ``=HYPERLINK(...)``) gets a ``'`` in front, so it is shown as text
(:func:`formula_safe`). Signed numbers and phone numbers (``-0.12``, ``+44 20 7946 0000``)
are left as they are: they cannot call a function.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from mapper import geo, geojson, missing, overlay, registers
from mapper.errors import DataValidationError, MapperError, Problem
from mapper.openreferral_format import (
    BYDAY,
    FIELD_TYPES,
    FIELDS,
    FILE_NAMES,
    FOREIGN_KEYS,
    MARKER,
    VOCABULARY,
    iso_date,
    parse_hours,
    stable_id,
)
from mapper.sources import status
from mapper.store import LAYERS_TABLE, Workspace

FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
FORMAT_CHOICES = ("csv", "geojson", "gpkg", "oruk")

#: a text cell a spreadsheet would run as a formula (OWASP "CSV injection") ...
FORMULA_START = re.compile(r"^[=+\-@\t\r]")
#: ... unless it is only a signed number or a phone number: nothing it could call
HARMLESS_SIGNED = re.compile(r"^[+-][\d\s().,+-]*$")


def looks_like_formula(value: object) -> bool:
    """True for text a spreadsheet would take for a formula (see the module doc)."""
    return (
        isinstance(value, str)
        and FORMULA_START.match(value) is not None
        and HARMLESS_SIGNED.match(value) is None
    )


def formula_safe(value: object) -> object:
    """`value`, with a ``'`` in front when a spreadsheet would run it as a formula."""
    return "'" + value if looks_like_formula(value) else value


def guard_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` whose text cells are :func:`formula_safe` (numbers untouched)."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = out[column].map(formula_safe)
    return out


#: how every CSV the app writes for people is encoded: UTF-8 with a byte-order mark, without
#: which Excel on Windows reads the file as the local code page ("£" becomes "Â£", "é"
#: "Ã©"); the app's own readers, pandas and LibreOffice all accept the mark
CSV_ENCODING = "utf-8-sig"


def spreadsheet_csv(table: pd.DataFrame, *, lineterminator: str = "\n") -> bytes:
    """`table` (without its index) as the bytes of a CSV file a spreadsheet opens right:
    :data:`CSV_ENCODING`, text a spreadsheet would run as a formula guarded
    (:func:`guard_formulas`). Every CSV download and export goes through here."""
    text = guard_formulas(table).to_csv(index=False, lineterminator=lineterminator)
    return text.encode(CSV_ENCODING)


def select(
    workspace: Workspace,
    register: str,
    *,
    borough: str | None = None,
    ward: str | None = None,
    include_personal_data: bool = False,
    statuses: tuple[str, ...] = (),
) -> gpd.GeoDataFrame:
    """The register's records, filtered by area and status (closed records are exported,
    marked, unless left out here), personal data removed unless asked for."""
    if register not in registers.REGISTERS:
        raise MapperError(
            f"unknown register '{register}'; choose one of {', '.join(registers.REGISTERS)}"
        )
    if not workspace.has_layer(register):
        raise MapperError(
            f"the workspace has no {register} yet: import a file of {register} "
            "first (mapper import FILE)"
        )
    frame = overlay.read_layer(workspace, register)
    for column, code in (("borough_code", borough), ("ward_code", ward)):
        if code:
            if code not in set(frame[column].dropna()):
                raise MapperError(f"no {register} in {column.split('_')[0]} {code}")
            frame = frame[frame[column] == code]
    if statuses:
        if register == "incidents":
            raise MapperError("incidents have no status; --status is for groups and premises")
        given = frame["status"] if "status" in frame else pd.Series(pd.NA, index=frame.index)
        frame = frame[given.fillna("unknown").isin(statuses).to_numpy()]
    if not include_personal_data:
        frame = frame.drop(columns=[c for c in registers.PERSONAL_COLUMNS if c in frame])
    return frame.reset_index(drop=True)


def provenance_of(workspace: Workspace, register: str, frame: pd.DataFrame) -> pd.DataFrame:
    prov = workspace.provenance()
    prov = prov[(prov["layer"] == register) & prov["source_file"].isin(set(frame["source_file"]))]
    return prov[["source_file", "detail", "vintage", "licence", "attribution", "imported_at"]]


def export(
    workspace: Workspace,
    register: str,
    path: Path,
    *,
    fmt: str | None = None,
    borough: str | None = None,
    ward: str | None = None,
    include_personal_data: bool = False,
    statuses: tuple[str, ...] = (),
) -> tuple[int, Path]:
    """Write the register to `path`; returns (records written, path)."""
    path = Path(path)
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt not in FORMAT_CHOICES:
        raise MapperError(
            f"cannot tell the export format from '{path.name}': use a .csv, "
            ".geojson or .gpkg name, or --format oruk with a folder"
        )
    parent = path.absolute().parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise MapperError(
            f"cannot write {path}: the folder {path.parent} {what}; create it first (exports "
            "never create folders, so a mistyped path does not scatter files)"
        )
    frame = select(
        workspace, register, borough=borough, ward=ward,
        include_personal_data=include_personal_data, statuses=statuses,
    )
    prov = provenance_of(workspace, register, frame)
    meta = workspace.meta()
    if fmt == "oruk":
        if register != "groups":
            raise MapperError("Open Referral UK packages hold services: export groups")
        write_package(frame, path, include_personal_data=include_personal_data)
        return len(frame), path
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        {"csv": _csv, "geojson": _geojson, "gpkg": _gpkg}[fmt](frame, prov, meta, tmp, register)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frame), path


def _with_sources(frame: gpd.GeoDataFrame, prov: pd.DataFrame) -> pd.DataFrame:
    by_file = prov.set_index("source_file")
    out = pd.DataFrame(frame.drop(columns="geometry"))
    out["licence"] = frame["source_file"].map(by_file["licence"])
    out["attribution"] = frame["source_file"].map(by_file["attribution"])
    return out


def _csv(frame, prov, meta, path: Path, register: str) -> None:
    table = _with_sources(frame, prov)
    shown = geo.to_display(frame.geometry)
    table.insert(len(registers.REGISTER_COLUMNS[register]), "longitude", shown.x.round(6))
    table.insert(len(registers.REGISTER_COLUMNS[register]) + 1, "latitude", shown.y.round(6))
    table["easting"] = frame.geometry.x.round(1)
    table["northing"] = frame.geometry.y.round(1)
    table = missing.clean_frame(table.astype(object))  # blanks, never "<NA>" or "nan"
    path.write_bytes(spreadsheet_csv(table))


def _geojson(frame, prov, meta, path: Path, register: str) -> None:
    features = geojson.encode_features(geo.to_display(frame), placeholders=True)
    members = {
        "name": register,
        "attribution": " ".join(dict.fromkeys(prov["attribution"])),
        "licences": sorted(set(prov["licence"])),
        "provenance": prov.to_dict("records"),
        "study_area": meta.get("study_area", ""),
        "synthetic": meta.get("synthetic") == "yes",
        "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    path.write_bytes(geojson.collection(features, members))


def _gpkg(frame, prov, meta, path: Path, register: str) -> None:
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, layer=register, driver="GPKG")
    pyogrio.write_dataframe(prov.assign(layer=register), path, layer=LAYERS_TABLE, driver="GPKG")


# -- contact lists ---------------------------------------------------------------------------

#: the columns of a contact list's CSV, in order (``distance_m`` only for a radius)
CONTACT_CSV_COLUMNS = ("name", "category", "status", "contact_role", "emergency_consent",
                       "consent_confirmed", "contact_name", "phone", "email", "website",
                       "address", "postcode", "location_note", "ward_name", "ward_code",
                       "borough_name",
                       "last_verified", "distance_m", "group_id")


def contact_csv(rows: pd.DataFrame, *, with_distance: bool) -> bytes:
    """A contact list (``mapper.analysis.contacts.with_roles`` plus ward and borough
    names) as a CSV file (:func:`spreadsheet_csv`): blank cells where a value is missing,
    except emergency consent, whose missing answer reads "not recorded" (it is yes, no or
    not recorded)."""
    columns = [c for c in CONTACT_CSV_COLUMNS if with_distance or c != "distance_m"]
    table = pd.DataFrame({c: (rows[c].astype(object) if c in rows
                              else pd.Series(None, index=rows.index, dtype=object))
                          for c in columns}, index=rows.index)
    table = missing.clean_frame(table.astype(object))
    table["emergency_consent"] = table["emergency_consent"].map(
        lambda v: missing.NOT_RECORDED if missing.is_missing(v) else v)
    return spreadsheet_csv(table, lineterminator="\r\n")


# -- Open Referral UK packages ---------------------------------------------------------


def _check_oruk_groups(groups) -> None:
    if not isinstance(groups, gpd.GeoDataFrame):
        raise TypeError(
            f"groups must be a GeoDataFrame (the groups register); got {type(groups)!r}"
        )
    if groups.crs is None or CRS.from_user_input(groups.crs) != CRS.from_user_input(
        geo.CRS_ANALYSIS
    ):
        raise MapperError(f"groups must be in {geo.CRS_ANALYSIS} (got {groups.crs})")
    problems = []
    for col in ("group_id", "name"):
        if col not in groups.columns:
            problems.append(Problem("groups", f"missing column {col!r}"))
    if problems:
        raise DataValidationError(problems)
    ids, names = _texts(groups, "group_id"), _texts(groups, "name")
    for pos in np.flatnonzero((ids == "").to_numpy()):
        problems.append(
            Problem("groups", "missing group_id", pos + 1, "group_id", row_label="record")
        )
    for pos in np.flatnonzero((ids.duplicated() & (ids != "")).to_numpy()):
        problems.append(
            Problem(
                "groups",
                "duplicate group_id",
                pos + 1,
                "group_id",
                ids.iloc[pos],
                row_label="record",
            )
        )
    for pos in np.flatnonzero((names == "").to_numpy()):
        problems.append(Problem("groups", "missing name", pos + 1, "name", row_label="record"))
    kinds = groups.geometry.geom_type
    for pos in np.flatnonzero((kinds.notna() & (kinds != "Point")).to_numpy()):
        problems.append(
            Problem("groups", f"a {kinds.iloc[pos]}; expected a Point", pos + 1, row_label="record")
        )
    if problems:
        raise DataValidationError(
            problems, summary=f"{len(problems)} problems in the groups; no package was written"
        )


def write_package(
    groups: gpd.GeoDataFrame, directory: Path, *, include_personal_data: bool = False
) -> Path:
    """Write the groups register as an Open Referral UK v1 tabular data package.

    Parameters
    ----------
    groups : the canonical ``groups`` register, EPSG:27700, one point per group
    directory : the folder to write (created if need be; the package's files are replaced)
    include_personal_data : also write contact names, phones, emails and websites
        (``registers.PERSONAL_COLUMNS``); without it those tables are written empty

    Returns the directory. Each group becomes one organisation, one service (its id is the
    ``group_id``) and one location (latitude/longitude in WGS84, 6 decimals); its
    category a taxonomy term of the vocabulary ``mapper``; opening hours in the form
    :func:`parse_hours` reads become ``regular_schedules.csv`` rows (others are left out).
    """
    _check_oruk_groups(groups)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    g = groups.reset_index(drop=True)
    tables = _oruk_tables(g, include_personal_data)
    for table, rows in tables.items():
        frame = pd.DataFrame.from_records(rows, columns=FIELDS[table]).astype("object")
        frame = frame.where(frame.notna(), "")
        # plain UTF-8, no byte-order mark: data for other systems' HSDS readers, not a
        # spreadsheet download (those go through spreadsheet_csv)
        frame.to_csv(
            directory / FILE_NAMES[table], index=False, encoding="utf-8", lineterminator="\n"
        )
    (directory / "datapackage.json").write_text(
        json.dumps(
            _oruk_datapackage(g, list(tables), include_personal_data), indent=2, ensure_ascii=False
        )
        + "\n",
        encoding="utf-8",
    )
    return directory


def _oruk_tables(g: gpd.GeoDataFrame, personal: bool) -> dict[str, list[dict]]:
    ids = _texts(g, "group_id")
    col = {c: _texts(g, c) for c in registers.REGISTER_COLUMNS["groups"] if c != "group_id"}
    display = geo.to_display(g.geometry)
    lon = [f"{p.x:.6f}" if p is not None and not p.is_empty else "" for p in display]
    lat = [f"{p.y:.6f}" if p is not None and not p.is_empty else "" for p in display]
    tables: dict[str, list[dict]] = {t: [] for t in FILE_NAMES}
    used = [c for c in registers.GROUP_CATEGORIES if c in set(col["category"])]
    used += sorted(set(col["category"]) - set(used) - {""})
    term = {c: f"{VOCABULARY}:{c.replace(' ', '-')}" for c in used}
    tables["taxonomy"] = [{"id": term[c], "name": c, "vocabulary": VOCABULARY} for c in used]
    for i, gid in enumerate(ids):
        org, loc = stable_id("organization", gid), stable_id("location", gid)
        sal = stable_id("service_at_location", gid)
        name, description = col["name"][i], col["description"][i]
        tables["organization"].append(
            {
                "id": org,
                "name": name,
                "description": description or name,
                "url": col["website"][i] if personal else "",
                "email": col["email"][i] if personal else "",
            }
        )
        tables["service"].append(
            {
                "id": gid,
                "organization_id": org,
                "name": name,
                "description": description,
                "url": col["website"][i] if personal else "",
                "email": col["email"][i] if personal else "",
                "status": status.OPEN_REFERRAL.get(col["status"][i], "active"),
                "assured_date": iso_date(col["last_verified"][i]) or "",
            }
        )
        tables["location"].append(
            {
                "id": loc,
                "organization_id": org,
                "name": name,
                "latitude": lat[i],
                "longitude": lon[i],
            }
        )
        tables["service_at_location"].append({"id": sal, "service_id": gid, "location_id": loc})
        tables["physical_address"].append(
            {
                "id": stable_id("physical_address", gid),
                "location_id": loc,
                "address_1": col["address"][i],
                "postal_code": col["postcode"][i],
                "country": "GB",
            }
        )
        if personal and col["phone"][i]:
            tables["phone"].append(
                {"id": stable_id("phone", gid), "service_id": gid, "number": col["phone"][i]}
            )
        if personal and col["contact_name"][i]:
            tables["contact"].append(
                {
                    "id": stable_id("contact", gid),
                    "organization_id": org,
                    "service_id": gid,
                    "name": col["contact_name"][i],
                }
            )
        for k, language in enumerate(v.strip() for v in col["languages"][i].split(";")):
            if language:
                tables["language"].append(
                    {"id": stable_id(f"language{k}", gid), "service_id": gid, "language": language}
                )
        if col["category"][i]:
            tables["service_taxonomy"].append(
                {
                    "id": stable_id("service_taxonomy", gid),
                    "service_id": gid,
                    "taxonomy_id": term[col["category"][i]],
                }
            )
        for k, (day, opens, closes) in enumerate(parse_hours(col["opening_hours"][i]) or []):
            tables["regular_schedule"].append(
                {
                    "id": stable_id(f"regular_schedule{k}", gid),
                    "service_id": gid,
                    "location_id": loc,
                    "service_at_location_id": sal,
                    "weekday": day + 1,
                    "opens_at": opens,
                    "closes_at": closes,
                    "freq": "WEEKLY",
                    "byday": BYDAY[day],
                }
            )
    return tables


def _oruk_datapackage(g: gpd.GeoDataFrame, tables: list[str], personal: bool) -> dict:
    sources = sorted(set(_texts(g, "source")) - {""})
    return {
        "name": "mapper-groups",
        "title": "VCS groups exported by the neighbourhood mapper (Open Referral UK v1)",
        "profile": "tabular-data-package",
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "sources": [{"title": s} for s in sources],
        MARKER: {
            "register": "groups",
            "group_id": "services.id is the mapper group_id",
            "weekday": "1 = Monday ... 7 = Sunday (ISO 8601); byday says the same",
            "personal_data": personal,
        },
        "resources": [_oruk_resource(t) for t in tables],
    }


def _oruk_resource(table: str) -> dict:
    schema: dict = {
        "fields": [{"name": f, "type": FIELD_TYPES.get(f, "string")} for f in FIELDS[table]],
        "primaryKey": "id",
    }
    if table in FOREIGN_KEYS:
        schema["foreignKeys"] = [
            {"fields": f, "reference": {"resource": other, "fields": "id"}}
            for f, other in FOREIGN_KEYS[table]
        ]
    return {
        "name": table,
        "path": FILE_NAMES[table],
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": schema,
    }


def _texts(groups: pd.DataFrame, column: str) -> pd.Series:
    if column not in groups.columns:
        return pd.Series("", index=groups.index, dtype="object")
    return groups[column].astype("string").fillna("").str.strip().astype("object")
