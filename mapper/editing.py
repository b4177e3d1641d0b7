"""Edits to the point registers (groups, premises, incidents) made through the web app.

Imports replace a register's rows per source file; people then add, correct, confirm and
retire single records. Those edits live in the app database (:mod:`mapper.appdb`) as the
current version of each edited record, and :func:`mapper.overlay.read_layer` lays them
over the imported layer whenever the app reads a register, so maps, the nearest-groups
index, exports and the next analysis all see them at once, and a re-import of a source
file does not lose them.

A record is a dict of the register's columns (:func:`mapper.registers.columns`) plus
``x`` and ``y``: its location in EPSG:27700 metres.

:func:`save_record`, :func:`retire_record`, :func:`verify_record` and
:func:`erase_personal_data` are the whole write interface; each validates, places the
point in its LSOA, ward and borough, writes one audited, durable change and returns the
new version. Saving over a newer version raises :class:`mapper.appdb.Conflict`.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import personal_text, registers
from mapper.appdb import Conflict, bump_edits, write_audit
from mapper.areas import assign_areas
from mapper.errors import DataValidationError, MapperError, Problem
from mapper.geo import CRS_ANALYSIS
from mapper.postcodes import postcode_point, same_postcode

__all__ = ["Conflict", "record_of", "save_record", "retire_record",
           "verify_record", "erase_personal_data", "personal_data_of", "EDITABLE_FIELDS"]

#: fields people may set through forms and the API (the rest are derived or provenance)
EDITABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "groups": ("name", "category", "description", "communities_served", "faith",
               "languages", "address", "postcode", "contact_name", "phone", "email",
               "website", "contact_role", "emergency_consent", "consent_confirmed",
               "opening_hours", "emergency_offer", "charity_number", "status"),
    "premises": ("name", "type", "religion", "address", "postcode", "capacity",
                 "step_free", "owning_group_id", "status"),
    "incidents": ("date", "type", "severity", "description", "location_description",
                  "outcome"),
}
REQUIRED_FIELDS = {"groups": ("name", "category"), "premises": ("name", "type"),
                   "incidents": ("date", "type")}
MAX_TEXT = registers.MAX_TEXT
#: incident severity: a whole number, 1 (least) to 5 (most serious), as imports read it
INCIDENT_SEVERITIES = (1, 2, 3, 4, 5)
_YES, _NO = ("true", "yes", "y", "1", "t"), ("false", "no", "n", "0", "f")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: a bounding box around Great Britain in EPSG:27700, for a first sanity check
_GB = (0.0, 0.0, 700_000.0, 1_300_000.0)


# -- reading one record ------------------------------------------------------------------


def _clean(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def record_of(row: pd.Series, register: str) -> dict:
    """One register row as a record dict (columns + x, y)."""
    record = {col: _clean(row.get(col)) for col in registers.columns(register)}
    geom = row.get("geometry")
    record["x"] = None if geom is None or geom.is_empty else round(float(geom.x), 2)
    record["y"] = None if geom is None or geom.is_empty else round(float(geom.y), 2)
    return record


def current_record(workspace, register: str, record_id: str, *,
                   include_retired: bool = True) -> tuple[dict, int, bool] | None:
    """(record, version, retired) of one record as it stands now, or None.

    Raises MapperError for an id no record could have (:func:`check_record_id`)."""
    check_record_id(record_id)
    stored = workspace.appdb.get_record(register, record_id)
    if stored is not None:
        if stored.retired and not include_retired:
            return None
        return stored.data, stored.version, stored.retired
    base = _imported(workspace, register, record_id)
    return (base, 1, False) if base is not None else None


def _imported(workspace, register: str, record_id: str) -> dict | None:
    if not workspace.has_layer(register):
        return None
    id_col = registers.ID_COLUMN[register]
    frame = workspace.read_layer(register, where=f"{id_col} = '{_sql_text(record_id)}'")
    if not len(frame):
        return None
    return record_of(frame.iloc[0], register)


def _sql_text(value: str) -> str:
    return str(value).replace("'", "''")


# -- validating ------------------------------------------------------------------------------


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def validate(register: str, values: dict, *, workspace, previous: dict | None,
             source: str = "web") -> dict:
    """The record `values` describe, merged over `previous`; DataValidationError lists
    every problem at once (field, value, what was expected)."""
    if register not in registers.REGISTERS:
        raise MapperError(f"unknown register {register!r}")
    problems: list[Problem] = []
    where = f"{register} record"

    def problem(field: str, value, expected: str) -> None:
        problems.append(Problem(where, f"expected {expected}", column=field,
                                value=_short(value)))

    allowed = set(EDITABLE_FIELDS[register]) | {"lat", "lon", "x", "y", "version"}
    unusable = set()
    for key in values:
        if not isinstance(key, str) or registers.bad_text(key) or key not in allowed:
            problem(_printable(key), _printable(values[key]), "one of the fields " + ", ".join(
                EDITABLE_FIELDS[register]) + " (or lat/lon to place the point)")
            unusable.add(key)
            continue
        expected = _type_problem(values[key])
        if expected:
            problem(key, _printable(values[key]), expected)
            unusable.add(key)
    values = {k: v for k, v in values.items() if k not in unusable}
    record = dict(previous or {col: None for col in registers.columns(register)})
    for field in EDITABLE_FIELDS[register]:
        if field in values:
            value = _text(values[field])
            if value is not None and len(value) > MAX_TEXT:
                problem(field, value, f"at most {MAX_TEXT} characters")
                continue
            if field in personal_text.FREE_TEXT[register] and personal_text.find(value):
                problem(field, "(not shown: holds contact details)",
                        "no e-mail address or phone number: free text is shown to everyone "
                        "(a group's contact fields are for them)")
                continue
            record[field] = value
    for field in REQUIRED_FIELDS[register]:
        if not record.get(field):
            problem(field, record.get(field), "a value (required)")
    _check_vocabulary(register, record, problem)
    _check_formats(register, record, problem)
    placing = len(problems)
    point = _location(values, record, workspace, problem, (previous or {}).get("postcode"))
    if point is None and record.get("x") is None and len(problems) == placing:
        # no point yet and no (failed) attempt to place one: listed with the rest
        problems.append(Problem(where, "expected a point: click the map, or give a postcode "
                                "or lat/lon", column="location"))
    if problems:
        raise DataValidationError(problems, summary=_summary(register, problems))
    if point is not None:
        record["x"], record["y"] = round(point[0], 2), round(point[1], 2)
        record.update(_areas(workspace, point[0], point[1]))
        record["location_note"] = None  # an officer placed it: nothing left to check
        if values.get("lat") not in (None, "") or values.get("x") not in (None, ""):
            record["location_source"] = "map"
        elif values.get("postcode"):
            record["location_source"] = "postcode"
    if register == "incidents" and record.get("date"):
        record["month"] = str(record["date"])[:7]
    record.setdefault("source", source)
    if not record.get("source"):
        record["source"] = source
    return record


def _type_problem(value) -> str | None:
    """What a field's value should have been, when it is not text, a finite number, a
    yes/no or null (or is text no record may hold)."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "a finite number"
    if isinstance(value, str):
        return registers.BAD_TEXT_EXPECTED if registers.bad_text(value) else None
    return "text or a number, not a list or an object"


def _printable(value) -> str:
    """A value safe to repeat in a message: broken characters shown as escapes."""
    text = value if isinstance(value, str) else repr(value)
    return _short(text.encode("utf-8", "backslashreplace").decode("utf-8").replace(
        "\x00", "\\x00"))


def check_record_id(record_id: str) -> None:
    """Raise MapperError when `record_id` could not be an id (NUL, broken Unicode)."""
    if not isinstance(record_id, str) or registers.bad_text(record_id):
        raise MapperError(f"'{_printable(record_id)}' is not a record id: ids are "
                          + registers.BAD_TEXT_EXPECTED)


def _summary(register: str, problems: list[Problem]) -> str:
    count = len(problems)
    return f"the {register} record has {count} problem{'s' if count != 1 else ''}; nothing saved"


def _short(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_vocabulary(register: str, record: dict, problem) -> None:
    if register in ("groups", "premises") and record.get("status") is not None \
            and record["status"] not in registers.STATUSES:
        problem("status", record["status"], "one of " + ", ".join(registers.STATUSES))
    if register == "groups":
        if record.get("category") and record["category"] not in registers.GROUP_CATEGORIES:
            problem("category", record["category"],
                    "one of " + ", ".join(registers.GROUP_CATEGORIES))
        offers = [o.strip() for o in str(record.get("emergency_offer") or "").split(";")
                  if o.strip()]
        bad = [o for o in offers if o not in registers.EMERGENCY_OFFERS]
        if bad:
            problem("emergency_offer", "; ".join(bad), "offers separated by ';' from: "
                    + ", ".join(registers.EMERGENCY_OFFERS))
        _check_contact_list_fields(record, problem)
    elif register == "premises":
        if record.get("type") and record["type"] not in registers.PREMISES_TYPES:
            problem("type", record["type"], "one of " + ", ".join(registers.PREMISES_TYPES))
        if record.get("capacity") is not None:
            try:
                if int(str(record["capacity"])) < 0:
                    raise ValueError
                record["capacity"] = int(str(record["capacity"]))
            except ValueError:
                problem("capacity", record["capacity"], "a whole number of people, 0 or more")
        if record.get("step_free") is not None:
            flag = str(record["step_free"]).strip().lower()
            if flag in _YES or flag in _NO:
                record["step_free"] = flag in _YES
            else:
                problem("step_free", record["step_free"], "yes or no")
    elif register == "incidents":
        if record.get("type"):  # other spellings become the vocabulary's type
            from mapper.incident_types import normalise_names

            record["type"] = (normalise_names([record["type"]]) or [record["type"]])[0]
        if record.get("severity") is not None:
            try:
                severity = int(str(record["severity"]))
                if severity not in INCIDENT_SEVERITIES:
                    raise ValueError
                record["severity"] = severity
            except ValueError:
                problem("severity", record["severity"],
                        "a whole number from 1 (least) to 5 (most serious)")


def _check_contact_list_fields(record: dict, problem) -> None:
    """Contact role, emergency consent and the date it was confirmed (contact lists)."""
    if record.get("contact_role") is not None:
        roles, unknown = registers.contact_roles(record["contact_role"])
        if unknown:
            problem("contact_role", "; ".join(unknown), "roles separated by ';' from: "
                    + ", ".join(registers.CONTACT_ROLES))
        else:
            record["contact_role"] = roles
    if record.get("emergency_consent") is not None:
        try:
            record["emergency_consent"] = registers.consent_answer(record["emergency_consent"])
        except ValueError as error:
            problem("emergency_consent", record["emergency_consent"], str(error))
    when = record.get("consent_confirmed")
    if when is not None:
        try:
            if not _DATE.match(str(when)):
                raise ValueError
            if date.fromisoformat(str(when)) > date.today():
                problem("consent_confirmed", when, "a date that is not in the future")
        except ValueError:
            problem("consent_confirmed", when, "a date as YYYY-MM-DD")


def _check_formats(register: str, record: dict, problem) -> None:
    for field in registers.CONTACT_FORMATS:
        if record.get(field):
            try:
                record[field] = registers.contact_value(field, record[field])
            except ValueError as error:
                problem(field, registers.shown_value(field, record[field]), str(error))
    when = record.get("date")
    if register == "incidents" and when:
        try:
            if not _DATE.match(str(when)):
                raise ValueError
            day = date.fromisoformat(str(when))
            if day > date.today():
                problem("date", when, "a date that is not in the future")
        except ValueError:
            problem("date", when, "a date as YYYY-MM-DD")


def _location(values: dict, record: dict, workspace, problem,
              old_postcode=None) -> tuple[float, float] | None:
    """The new point from lat/lon, x/y or a changed postcode; None to keep the old one."""
    from mapper.geo import grid_from_lonlat

    if values.get("lat") not in (None, "") or values.get("lon") not in (None, ""):
        try:
            lat, lon = float(values.get("lat")), float(values.get("lon"))
            if not (math.isfinite(lat) and math.isfinite(lon)):
                raise ValueError
        except (TypeError, ValueError):
            problem("lat/lon", f"{values.get('lat')}, {values.get('lon')}",
                    "decimal degrees: latitude, then longitude (west of Greenwich negative)")
            return None
        if not (49.0 <= lat <= 61.5 and -9.0 <= lon <= 2.5):
            hint = " (latitude and longitude swapped?)" if (49 <= lon <= 61.5) else ""
            problem("lat/lon", f"{lat}, {lon}", "a point in Great Britain" + hint)
            return None
        return _inside(*grid_from_lonlat(lon, lat), workspace, problem)
    if values.get("x") not in (None, "") or values.get("y") not in (None, ""):
        try:
            x, y = float(values.get("x")), float(values.get("y"))
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError
        except (TypeError, ValueError):
            problem("x/y", f"{values.get('x')}, {values.get('y')}", "EPSG:27700 metres")
            return None
        return _inside(x, y, workspace, problem)
    postcode = _text(values.get("postcode"))
    changed = not same_postcode(postcode, old_postcode)
    if postcode and (record.get("x") is None or changed):
        if not workspace.has_layer("postcodes"):
            problem("postcode", postcode, "a point on the map (this workspace has no postcodes)")
            return None
        try:
            x, y = postcode_point(postcode, workspace.read_layer("postcodes"))
        except MapperError as error:
            problem("postcode", postcode, str(error))
            return None
        return _inside(x, y, workspace, problem)
    return None


def _inside(x: float, y: float, workspace, problem) -> tuple[float, float] | None:
    areas = _areas(workspace, x, y)
    if not areas.get("ward_code"):
        problem("location", f"{x:.0f}, {y:.0f}", "a point inside the study area's wards")
        return None
    return x, y


def _areas(workspace, x: float, y: float) -> dict:
    """LSOA, ward and borough codes of one point (None where outside)."""
    # only the areas whose bounding box holds the point (padded 1 m): the same answer as
    # from every area, since a point lies in an area only inside its bounding box
    near = (x - 1.0, y - 1.0, x + 1.0, y + 1.0)
    layers = {k: workspace.read_layer(k, bbox=near) for k in ("lsoas", "wards", "boroughs")
              if workspace.has_layer(k)}
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([x], [y]), crs=CRS_ANALYSIS)
    found = assign_areas(points, layers)
    return {col: _clean(found[col].iloc[0]) if col in found else None
            for col in registers.AREA_COLUMNS}


# -- writing -------------------------------------------------------------------------------


def _new_id(register: str) -> str:
    import secrets

    return f"web-{register[:-1] if register != 'premises' else 'premises'}-" \
           f"{secrets.token_hex(5)}"


def save_record(workspace, register: str, values: dict, *, actor: str,
                record_id: str | None = None,
                expected_version: int | None = None) -> tuple[str, int]:
    """Create (no `record_id`) or update a record; returns (record id, new version)."""
    db = workspace.appdb
    if record_id is None:
        record = validate(register, values, workspace=workspace, previous=None)
        _stamp_origins(record, {}, actor)
        record_id = _new_id(register)
        record[registers.ID_COLUMN[register]] = record_id
        record["source"] = "web"
        record["source_id"] = record_id
        if register != "incidents":
            record["last_verified"] = date.today().isoformat()
        version = db.put_record(register, record_id, record, actor=actor,
                                expected_version=None, action="create",
                                audit_fields=_audit_fields(register, {}, record))
        return record_id, version
    found = current_record(workspace, register, record_id)
    if found is None:
        raise MapperError(f"there is no {register} record {record_id}")
    previous, version, retired = found
    if expected_version is None:
        raise MapperError("say which version you edited (the 'version' field)")
    if expected_version != version:
        # let the database produce the conflict with what changed
        db.put_record(register, record_id, previous, actor=actor,
                      expected_version=expected_version, base=_base(workspace, register,
                                                                    record_id))
    record = validate(register, values, workspace=workspace, previous=previous)
    _stamp_origins(record, previous, actor)
    new_version = db.put_record(register, record_id, record, actor=actor,
                                expected_version=version,
                                base=previous if version == 1 else None,
                                retired=retired, action="update",
                                audit_fields=_audit_fields(register, previous, record))
    return record_id, new_version


def _stamp_origins(record: dict, previous: dict, actor: str) -> None:
    """An officer's change of status or capabilities is where they now come from."""
    from mapper.sources.status import edited

    if "status" in record and record.get("status") != previous.get("status"):
        record["status_source"] = edited(actor) if record.get("status") else None
    if record.get("emergency_consent") != previous.get("emergency_consent") and \
            record.get("emergency_consent") and \
            record.get("consent_confirmed") == previous.get("consent_confirmed"):
        # a new answer is confirmed today, unless the officer gave the day it was given
        record["consent_confirmed"] = date.today().isoformat()
    if "emergency_offer" in record and \
            record.get("emergency_offer") != previous.get("emergency_offer"):
        from mapper.sources.capabilities import edited_origins

        record["offer_source"] = edited_origins(
            record.get("emergency_offer"), previous.get("emergency_offer"),
            previous.get("offer_source"), edited(actor, verb="confirmed"))


def _base(workspace, register: str, record_id: str) -> dict | None:
    return _imported(workspace, register, record_id)


def _audit_fields(register: str, before: dict, after: dict) -> list[str]:
    keys = set(EDITABLE_FIELDS[register]) | {"x", "y", "last_verified"}
    return sorted(k for k in keys if before.get(k) != after.get(k))


def _change(workspace, register: str, record_id: str, expected_version: int, *,
            actor: str, action: str, update: dict, retired: bool) -> int:
    found = current_record(workspace, register, record_id)
    if found is None:
        raise MapperError(f"there is no {register} record {record_id}")
    previous, version, was_retired = found
    if action == "verify" and was_retired:
        raise MapperError(f"{register} record {record_id} is retired: there is nothing to "
                          "confirm")
    record = dict(previous) | update
    return workspace.appdb.put_record(
        register, record_id, record, actor=actor, expected_version=expected_version,
        base=previous if version == 1 else None, retired=retired, action=action,
        audit_fields=sorted(update) if update else [])


def retire_record(workspace, register: str, record_id: str, expected_version: int, *,
                  actor: str) -> int:
    """Take a record off the maps and searches (kept, and restorable, in the database)."""
    return _change(workspace, register, record_id, expected_version, actor=actor,
                   action="retire", update={}, retired=True)


def verify_record(workspace, register: str, record_id: str, expected_version: int, *,
                  actor: str) -> int:
    """Confirm a record is still right: stamps ``last_verified`` with today's date."""
    if register == "incidents":
        raise MapperError("incidents have no last_verified date to confirm")
    return _change(workspace, register, record_id, expected_version, actor=actor,
                   action="verify", update={"last_verified": date.today().isoformat()},
                   retired=False)


def personal_data_of(workspace, group_id: str) -> dict:
    """Everything held about one group, for a subject access request."""
    found = current_record(workspace, "groups", group_id)
    if found is None:
        raise MapperError(f"there is no group {group_id}")
    record, version, retired = found
    history = workspace.appdb.read_audit(register="groups", record_id=group_id)
    return {"group": record, "version": version, "retired": retired,
            "audit": history}


def erase_personal_data(workspace, group_id: str, *, actor: str) -> list[str]:
    """Erase one group's contact details everywhere the workspace holds them.

    Blanks the personal columns in the edits overlay and its history and rewrites the
    imported layer without them (atomically). Returns the fields that held a value.
    """
    found = current_record(workspace, "groups", group_id)
    if found is None:
        raise MapperError(f"there is no group {group_id}")
    record, version, retired = found
    personal = list(registers.PERSONAL_COLUMNS)
    held = sorted(f for f in personal if record.get(f))
    imported = workspace.read_layer("groups")
    mask = imported["group_id"].astype(str) == group_id
    if mask.any():
        imported.loc[mask, personal] = None
        with workspace.transaction() as tx:
            # its provenance is kept as it was; no analysis reads contact details
            tx.write_layer("groups", imported, analysis_input=False)
    db = workspace.appdb
    with db.write() as conn:
        for table in ("records", "record_history"):
            rows = conn.execute(f"SELECT rowid, data FROM {table} WHERE register = 'groups' "
                                "AND record_id = ?", (group_id,)).fetchall()
            for row in rows:
                data = json.loads(row["data"])
                for field in personal:
                    data[field] = None
                conn.execute(f"UPDATE {table} SET data = ? WHERE rowid = ?",
                             (json.dumps(data, ensure_ascii=False), row["rowid"]))
        write_audit(conn, actor, "erase", "groups", group_id, held, "personal data erased")
        bump_edits(conn)
    return held
