"""Open Referral UK (ORUK v1) tabular data packages read as VCS groups.

A package is a folder (or a zip of one) of CSV tables, usually with a ``datapackage.json``.
Each table is recognised from its header, never its file name, so a package whose files
were renamed is still read; when two files look like the same table, the one with the
standard name wins and the other is reported.

Import (:func:`detect_package`, :func:`read`): one group per service at a location, placed
at the location's latitude/longitude or, failing those, the postcode centroid of its
physical address. A service's ``status`` becomes the group's status (inactive and
defunct services are imported as closed, marked, and left out of every answer); services
with no location are listed in ``Imported.rejected`` with the reason.

Export is :func:`mapper.exports.write_package`; the format both use (tables, columns,
opening hours) is :mod:`mapper.openreferral_format`. A package written by the app says so
in its ``datapackage.json`` (key ``x-mapper``), and reading it back gives each group its
original ``group_id``.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import geo, registers
from mapper.errors import DataValidationError, MapperError, Problem
from mapper.openreferral_format import (
    CORE,
    FIELDS,
    FILE_NAMES,
    MARKER,
    VOCABULARY,
    Hours,
    clock,
    iso_date,
    render_hours,
    schedule_days,
)
from mapper.postcodes import normalise_postcode
from mapper.sources import status
from mapper.sources.base import Context, Detection, Imported
from mapper.sources.files import decode, table_row
from mapper.sources.points import Located, locate, settle

SOURCE = "Open Referral UK"
CATEGORY_SOURCE = "openreferral"
NO_LICENCE = "not stated in the package: check the publisher's terms before sharing"
ATTRIBUTION = "Contains data published in the Open Referral UK standard by the package's publisher."
HEAD_BYTES = 16 * 1024

#: why a service at a location is left out by rule (one message per reason, so reasons can
#: be counted), and the words for the count in the warning
NO_LOCATION = "no location: the service is not at any location (services_at_location)"
NOWHERE = (
    "no location: the location has no coordinates and no postal code (an online or "
    "telephone service?)"
)
COUNTED_AS = {
    NO_LOCATION: "services with no location",
    NOWHERE: "services at a location with no coordinates and no postal code",
}
LOCATION_SOURCES = {
    "coordinates": "ORUK location latitude/longitude",
    "postcode centroid": "postcode centroid of the ORUK location's physical address",
}
# -- finding the tables --------------------------------------------------------------


#: columns that tell a services table from other tables with organization_id and name
SERVICE_HINTS = frozenset(
    "status url email taxonomy_ids assured_date fees application_process attending_type "
    "deliverable_type".split()
)
ORGANIZATION_HINTS = frozenset(
    "tax_status tax_id year_incorporated legal_status logo url email uri".split()
)


def table_of(columns) -> str | None:
    """Which ORUK table a CSV header belongs to, from its columns; None if none."""
    c = {str(x).strip().lower() for x in columns}
    if "id" not in c:
        return None
    if {"opens_at", "closes_at"} <= c:
        if c & {"weekday", "byday"} and not c & {"start_date", "closed"}:
            return "regular_schedule"
        return None  # holiday_schedule
    rules: list[tuple[str, bool]] = [
        ("phone", "number" in c and bool(c & {"service_id", "location_id", "organization_id"})),
        ("service_taxonomy", {"service_id", "taxonomy_id"} <= c),
        (
            "taxonomy",
            "name" in c
            and bool(c & {"vocabulary", "parent_id", "parent_name"})
            and "service_id" not in c,
        ),
        ("language", "language" in c and bool(c & {"service_id", "location_id"})),
        ("physical_address", "location_id" in c and bool(c & {"postal_code", "address_1"})),
        ("location", {"latitude", "longitude"} <= c and "location_id" not in c),
        (
            "contact",
            "name" in c
            and bool(c & {"title", "department", "personal_data"})
            and bool(c & {"service_id", "organization_id", "service_at_location_id"}),
        ),
        ("service_at_location", {"service_id", "location_id"} <= c),
        ("service", {"organization_id", "name"} <= c and bool(c & SERVICE_HINTS)),
        (
            "organization",
            "name" in c and "organization_id" not in c and bool(c & ORGANIZATION_HINTS),
        ),
    ]
    return next((name for name, hit in rules if hit), None)


@dataclass
class _Package:
    """A folder or a zip of CSV tables."""

    path: Path
    members: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> _Package:
        if path.is_dir():
            names = sorted(p.name for p in path.iterdir() if p.is_file())
        elif path.suffix.lower() == ".zip" and path.is_file():
            try:
                with zipfile.ZipFile(path) as archive:
                    names = sorted(
                        m
                        for m in archive.namelist()
                        if not m.startswith("__MACOSX") and not m.endswith("/")
                    )
            except zipfile.BadZipFile:
                raise MapperError(
                    f"{path.name}: not a valid zip archive (truncated or damaged?)"
                ) from None
        else:
            raise MapperError(f"{path.name}: neither a folder nor a .zip")
        return cls(path, names)

    @property
    def name(self) -> str:
        return self.path.name

    def read(self, member: str, limit: int | None = None) -> bytes:
        if self.path.is_dir():
            with open(self.path / member, "rb") as handle:
                return handle.read(limit) if limit else handle.read()
        with zipfile.ZipFile(self.path) as archive, archive.open(member) as handle:
            return handle.read(limit) if limit else handle.read()

    def csvs(self) -> list[str]:
        return [m for m in self.members if m.lower().endswith(".csv")]

    def datapackage(self) -> dict | None:
        found = [m for m in self.members if Path(m).name.lower() == "datapackage.json"]
        if not found:
            return None
        try:
            data = json.loads(decode(self.read(min(found, key=len)), file="datapackage.json")[0])
        except (json.JSONDecodeError, MapperError):
            return None
        return data if isinstance(data, dict) else None


def _header(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig", errors="replace")
    try:
        return next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    except csv.Error:
        return []


def _tables(package: _Package) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Table -> member, and the (member, table) pairs left out as duplicates."""
    seen: dict[str, list[str]] = {}
    for member in package.csvs():
        table = table_of(_header(package.read(member, HEAD_BYTES)))
        if table is not None:
            seen.setdefault(table, []).append(member)
    chosen: dict[str, str] = {}
    ignored: list[tuple[str, str]] = []
    for table, members in seen.items():
        standard = [m for m in members if Path(m).name.lower() == FILE_NAMES[table]]
        best = min(standard or members, key=lambda m: (m.count("/"), m))
        chosen[table] = best
        ignored.extend((m, table) for m in members if m != best)
    return chosen, ignored


def detect_package(path: Path) -> Detection | None:
    """An ORUK v1 tabular package in a folder or a zip, recognised from table headers.

    Detected when organisation, service and location tables are all present. The
    Detection's ``extra["tables"]`` maps each table found to its member (file name in the
    folder, or path in the zip): ``extra["members"]`` lists them, so a caller walking a
    folder can leave those files out of its own detection.
    """
    try:
        package = _Package.open(path)
        tables, ignored = _tables(package)
    except (MapperError, OSError):
        return None
    if not set(CORE) <= tables.keys():
        return None
    meta = package.datapackage() or {}
    created = str(meta.get("created") or "")[:10]
    licences = meta.get("licenses") or [meta.get("license")]
    licence = "; ".join(
        str(lic.get("title") or lic.get("name") or lic.get("path"))
        for lic in licences
        if isinstance(lic, dict)
    )
    mapper_made = isinstance(meta.get(MARKER), dict)
    return Detection(
        kind="groups",
        vintage=created or "unknown",
        detail="Open Referral UK v1 data package" + (" (written by mapper)" if mapper_made else ""),
        rows=None,
        reader=read,
        extra={
            "tables": tables,
            "ignored": ignored,
            "members": sorted(set(tables.values()) | {m for m, _ in ignored}),
            "mapper_made": mapper_made,
            "licence": licence or None,
        },
        path=path,
    )


# -- reading -------------------------------------------------------------------------


def _load(package: _Package, member: str | None, table: str) -> pd.DataFrame:
    """A table as stripped strings with every ORUK column (absent ones blank)."""
    if member is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FIELDS[table]})
    name = Path(member).name
    text, _ = decode(package.read(member), file=name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise MapperError(f"{package.name}: {name} is not a readable CSV table ({exc})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    for col in FIELDS[table]:
        if col not in frame.columns:
            frame[col] = ""
    return frame.apply(lambda s: s.astype("string").fillna("").str.strip().astype("object"))


def _unique_ids(frame: pd.DataFrame, *, file: str) -> list[Problem]:
    problems = []
    ids = frame["id"]
    for pos in np.flatnonzero((ids == "").to_numpy()):
        problems.append(Problem(file, "missing id; every row needs one", table_row(pos), "id"))
    dup = ids.duplicated(keep="first") & (ids != "")
    first = {v: i for i, v in reversed(list(enumerate(ids)))}
    for pos in np.flatnonzero(dup.to_numpy()):
        problems.append(
            Problem(
                file,
                f"duplicate id (also at row {table_row(first[ids.iloc[pos]])})",
                table_row(pos),
                "id",
                ids.iloc[pos],
            )
        )
    return problems


def _first_by(frame: pd.DataFrame, key: str, value: str) -> dict[str, str]:
    """First non-blank `value` per non-blank `key`, in file order."""
    use = frame[(frame[key] != "") & (frame[value] != "")]
    return dict(use.drop_duplicates(key)[[key, value]].itertuples(index=False, name=None))


@dataclass
class _Pair:
    """One service at one location (or a service with no location)."""

    service: int  # position in services, -1 when the service_id is unknown
    location: int  # position in locations, -1 when none or unknown
    sal: int  # position in services_at_location, -1 when none
    service_id: str
    location_id: str
    sal_id: str


def _pairs(services, locations, sal) -> list[_Pair]:
    svc = {v: i for i, v in reversed(list(enumerate(services["id"])))}
    loc = {v: i for i, v in reversed(list(enumerate(locations["id"])))}
    pairs = [
        _Pair(svc.get(s, -1), loc.get(lid, -1), k, s, lid, i)
        for k, (i, s, lid) in enumerate(
            sal[["id", "service_id", "location_id"]].itertuples(index=False, name=None)
        )
    ]
    linked = set(sal["service_id"])
    pairs += [_Pair(i, -1, -1, s, "", "") for i, s in enumerate(services["id"]) if s not in linked]
    big = len(services)
    return sorted(pairs, key=lambda p: (p.service if p.service >= 0 else big, p.sal < 0))


@dataclass
class _Tables:
    frames: dict[str, pd.DataFrame]
    names: dict[str, str]  # table -> file name for messages

    _records: dict[str, list[dict]] = field(default_factory=dict)
    _organisations: dict[str, dict] | None = None

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.frames[table]

    def rows(self, table: str) -> list[dict]:
        """The table as one dict per row (cheap to index row by row)."""
        if table not in self._records:
            self._records[table] = self.frames[table].to_dict("records")
        return self._records[table]

    def organisation(self, org_id: str) -> dict:
        """The first organisation with this id, or a blank one."""
        if self._organisations is None:
            self._organisations = {}
            for row in self.rows("organization"):
                self._organisations.setdefault(row["id"], row)
        return self._organisations.get(org_id) or dict.fromkeys(FIELDS["organization"], "")


def _judge(pair: _Pair, t: _Tables, seen: set, postcodes: dict[str, str]):
    """('error' | 'rejected' | '', Problem | None) for one pair."""
    sal_file, svc_file = t.names["service_at_location"], t.names["service"]
    if pair.service < 0:
        return "error", Problem(
            sal_file,
            f"service_id is not in {svc_file}",
            table_row(pair.sal),
            "service_id",
            pair.service_id,
        )
    row = t.rows("service")[pair.service]
    if pair.sal >= 0 and pair.location < 0:
        return "error", Problem(
            sal_file,
            f"location_id is not in {t.names['location']}",
            table_row(pair.sal),
            "location_id",
            pair.location_id,
        )
    if pair.sal < 0:
        return "rejected", Problem(
            svc_file, NO_LOCATION, table_row(pair.service), "id", pair.service_id, "rejected"
        )
    if (pair.service_id, pair.location_id) in seen:
        return "error", Problem(
            sal_file,
            f"service {pair.service_id!r} at location {pair.location_id!r} is listed twice",
            table_row(pair.sal),
        )
    seen.add((pair.service_id, pair.location_id))
    if row["name"] == "" and t.organisation(row["organization_id"])["name"] == "":
        return "error", Problem(
            svc_file,
            "no name: the service and its organisation are both unnamed",
            table_row(pair.service),
            "name",
        )
    place = t.rows("location")[pair.location]
    if not (place["latitude"] or place["longitude"] or postcodes.get(pair.location_id)):
        return "rejected", Problem(
            t.names["location"],
            NOWHERE,
            table_row(pair.location),
            "id",
            pair.location_id,
            "rejected",
        )
    return "", None


def _place(pairs: list[_Pair], t: _Tables, addresses: pd.DataFrame, context: Context) -> Located:
    """Locate candidate pairs; problems point at locations.csv or physical_addresses.csv."""
    locations = t.rows("location")
    first_address = {v: i for i, v in reversed(list(enumerate(addresses["location_id"])))}
    postal_codes = addresses["postal_code"].tolist()
    table = pd.DataFrame(
        {
            "latitude": [locations[p.location]["latitude"] for p in pairs],
            "longitude": [locations[p.location]["longitude"] for p in pairs],
            "postal_code": [
                postal_codes[first_address[p.location_id]] if p.location_id in first_address else ""
                for p in pairs
            ],
        },
        dtype="object",
    )
    located = locate(
        table,
        file=t.names["location"],
        context=context,
        lat="latitude",
        lon="longitude",
        postcode="postal_code",
        rows=lambda pos: pos,
    )
    problems = []
    for p in located.problems:
        pair = pairs[p.row]
        where = f" (service {pair.service_id!r} at location {pair.location_id!r})"
        if p.column == "postal_code":
            file, row = t.names["physical_address"], table_row(first_address[pair.location_id])
        else:
            file, row = t.names["location"], table_row(pair.location)
        problems.append(Problem(file, p.message + where, row, p.column, p.value))
    located.problems = problems
    return located


def read(path: Path, detection: Detection, context: Context) -> Imported:
    """One group per service at a location, as the ``groups`` register."""
    package = _Package.open(path)
    members = detection.extra.get("tables") or _tables(package)[0]
    t = _Tables(
        {table: _load(package, members.get(table), table) for table in FIELDS},
        {
            table: Path(members[table]).name if table in members else FILE_NAMES[table]
            for table in FIELDS
        },
    )
    structural = []
    for table in ("organization", "service", "location"):
        structural += _unique_ids(t[table], file=t.names[table])
    if structural:
        raise DataValidationError(structural)
    addresses = t["physical_address"]
    postcodes = _first_by(addresses, "location_id", "postal_code")
    pairs = _pairs(t["service"], t["location"], t["service_at_location"])
    rejected: list[Problem] = []
    kinds = {"error": [], "rejected": [], "": []}
    errors: dict[int, Problem] = {}
    seen: set = set()
    for k, pair in enumerate(pairs):
        verdict, problem = _judge(pair, t, seen, postcodes)
        kinds[verdict].append(k)
        if verdict == "rejected":
            rejected.append(problem)
        elif verdict == "error":
            errors[k] = problem
    candidates = kinds[""]
    located = _place([pairs[k] for k in candidates], t, addresses, context)
    considered = np.array(sorted(candidates + kinds["error"]), dtype=int)
    combined = _combine(considered, np.array(candidates, dtype=int), located, errors)
    if combined.problems and context.strict:
        n = len(combined.problems)
        raise DataValidationError(
            combined.problems,
            summary=f"{n} invalid row{'s' if n > 1 else ''} in the Open Referral package "
            f"{package.name}; nothing was imported (--strict rejects a package with any "
            "invalid row; without it the valid services are imported and the others listed)",
        )
    # invalid pairs are listed here: their problems name rows of several files, which
    # settle() (keyed by row number in one file) cannot tell apart
    rejected.extend(combined.problems)
    placed = Located(combined.geometry, combined.how, [], combined.unmatched_postcodes)
    service_rows = [pairs[k].service for k in considered]
    keep, notes = settle(
        placed,
        file=t.names["service"],
        context=context,
        rejected=rejected,
        rows=lambda pos: table_row(service_rows[pos]),
    )
    accepted = [pairs[k] for k in considered[keep]]
    frame, more = _groups(accepted, t, combined, keep, detection, package.name)
    notes = _notes(t, rejected, detection, package.name) + notes + more
    verified = frame["last_verified"].dropna()
    return Imported(
        kind="groups",
        frame=frame,
        vintage=detection.vintage
        if detection.vintage != "unknown" or not len(verified)
        else str(verified.max()),
        detail=detection.detail,
        rows_read=len(pairs),
        licence=detection.extra.get("licence") or NO_LICENCE,
        attribution=ATTRIBUTION,
        warnings=notes,
        rejected=rejected,
    )


def _combine(considered, candidates, located: Located, errors: dict[int, Problem]) -> Located:
    """One Located over the candidates (placed by `located`) and the invalid pairs."""
    index = pd.RangeIndex(len(considered))
    geometry = gpd.GeoSeries([None] * len(considered), index=index, crs=geo.CRS_ANALYSIS)
    how = pd.Series("", index=index, dtype="object")
    where = np.searchsorted(considered, candidates)
    if len(candidates):
        geometry.iloc[where] = located.geometry.to_numpy()
        how.iloc[where] = located.how.to_numpy()
    problems = [*errors.values(), *located.problems]
    return Located(geometry, how, problems, located.unmatched_postcodes)


def _notes(t: _Tables, rejected: list[Problem], detection: Detection, name: str) -> list[Problem]:
    notes = [
        Problem(
            name,
            f"{Path(member).name} also looks like the {table} table and was not "
            f"read ({t.names[table]} was)",
            severity="warning",
        )
        for member, table in detection.extra.get("ignored", [])
    ]
    counts = pd.Series([p.message for p in rejected], dtype="object").value_counts(sort=False)
    notes += [
        Problem(
            name,
            f"{n:,} {COUNTED_AS[reason]} left out (one per service at a location)",
            severity="warning",
        )
        for reason, n in counts.items()
        if reason in COUNTED_AS
    ]
    return notes


def _groups(accepted: list[_Pair], t: _Tables, combined: Located, keep, detection, name):
    """The accepted pairs as rows of the groups register; and warnings."""
    per_service = t["service_at_location"]["service_id"].value_counts()
    mapper_made = bool(detection.extra.get("mapper_made"))
    hours, schedule_notes = _hours(t["regular_schedule"], t.names["regular_schedule"], name)
    lookups = _lookups(t)
    languages = _language_index(t.rows("language"))
    categories = _categories(t)
    records = []
    for pair in accepted:
        svc = t.rows("service")[pair.service]
        org = t.organisation(svc["organization_id"])
        several = int(per_service.get(pair.service_id, 0)) > 1
        base = pair.service_id if mapper_made else f"oruk:{pair.service_id}"
        address = lookups["address"].get(pair.location_id, {})
        records.append(
            {
                "group_id": f"{base}:{pair.location_id}" if several else base,
                "name": svc["name"] or org["name"],
                "category": categories.get(pair.service_id, categories[""]),
                "description": svc["description"] or org["description"] or None,
                "website": svc["url"] or org["url"] or None,
                "email": svc["email"] or org["email"] or None,
                "phone": _first(lookups["phone"], pair),
                "contact_name": _first(lookups["contact"], pair, org_id=svc["organization_id"]),
                "address": ", ".join(
                    v
                    for v in (
                        address.get(c, "")
                        for c in ("address_1", "address_2", "address_3", "address_4", "city")
                    )
                    if v
                )
                or None,
                "postcode": _postcode(address.get("postal_code", "")),
                "opening_hours": _pick_hours(hours, pair),
                "languages": _languages(languages, pair),
                "last_verified": iso_date(svc["assured_date"]),
                **dict(zip(("status", "status_source"),
                           status.from_word(svc["status"], source=SOURCE), strict=True)),
                "source": SOURCE,
                "source_id": pair.service_id,
                "source_file": name,
                "source_row": table_row(pair.service),
            }
        )
    frame = pd.DataFrame.from_records(
        records,
        index=pd.RangeIndex(len(records)),
        columns=list(records[0]) if records else ["group_id"],
    )
    frame["location_source"] = [LOCATION_SOURCES.get(h, h) for h in combined.how[keep]]
    text = frame.columns.drop("source_row", errors="ignore")
    frame[text] = frame[text].astype("object").where(frame[text].notna(), None)
    return registers.conform(frame, "groups", combined.geometry[keep].to_numpy()), schedule_notes


def _first(lookup: dict[str, dict[str, str]], pair: _Pair, *, org_id: str = "") -> str | None:
    """The first phone/contact of the service at the location, the service, the location
    or (contacts only) the organisation."""
    for key, value in (
        ("service_at_location_id", pair.sal_id),
        ("service_id", pair.service_id),
        ("location_id", pair.location_id),
        ("organization_id", org_id),
    ):
        if value and value in lookup.get(key, {}):
            return lookup[key][value]
    return None


def _lookups(t: _Tables) -> dict[str, dict]:
    phones = t["phone"].copy()
    ext = phones["extension"]
    phones["full"] = phones["number"] + np.where(ext != "", " ext. " + ext, "")
    phones.loc[phones["number"] == "", "full"] = ""
    addresses = t["physical_address"].drop_duplicates("location_id")
    return {
        "phone": {
            k: _first_by(phones, k, "full")
            for k in ("service_at_location_id", "service_id", "location_id")
        },
        "contact": {
            k: _first_by(t["contact"], k, "name")
            for k in ("service_at_location_id", "service_id", "organization_id")
        },
        "address": {r["location_id"]: r for r in addresses.to_dict("records")},
    }


def _postcode(text: str) -> str | None:
    if not text:
        return None
    return normalise_postcode(text) or text.upper()


def _language_index(rows: list[dict]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """('service', id) -> [(location_id, language)], ('location', id) -> [('', language)]."""
    index: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in rows:
        if not r["language"]:
            continue
        if r["service_id"]:
            index.setdefault(("service", r["service_id"]), []).append(
                (r["location_id"], r["language"])
            )
        elif r["location_id"]:
            index.setdefault(("location", r["location_id"]), []).append(("", r["language"]))
    return index


def _languages(index: dict, pair: _Pair) -> str | None:
    """Languages of the service (here or everywhere), else those of the location."""
    own = [
        lang
        for lid, lang in index.get(("service", pair.service_id), [])
        if lid in ("", pair.location_id)
    ]
    own = own or [lang for _, lang in index.get(("location", pair.location_id), [])]
    return "; ".join(dict.fromkeys(own)) or None


def _categories(t: _Tables) -> dict[str, str]:
    """Service id -> category ('' -> the source default).

    A taxonomy of our own vocabulary (``mapper``, as :func:`write_package` writes) gives
    its category directly; otherwise the first taxonomy term that maps to a category other
    than the default (mapping: ``mapper/mappings/categories.csv``), else the default.
    """
    terms = t["taxonomy"]
    names = registers.map_categories(
        terms["name"], source=CATEGORY_SOURCE, field="taxonomy", register="groups"
    )
    mapping = registers.category_map(CATEGORY_SOURCE, "groups")
    # categories.csv writes the source default as "*,*"; map_categories reads "taxonomy,*"
    default = mapping.get(("taxonomy", "*")) or mapping.get(("*", "*"), "")
    own = (terms["vocabulary"].str.lower() == VOCABULARY) & terms["name"].isin(
        registers.GROUP_CATEGORIES
    )
    category = dict(zip(terms["id"], np.where(own, terms["name"], names), strict=True))
    mine = set(terms["id"][own])
    links: dict[str, list[str]] = {}
    for sid, tid in t["service_taxonomy"][["service_id", "taxonomy_id"]].itertuples(
        index=False, name=None
    ):
        links.setdefault(sid, []).append(tid)
    for sid, ids in t["service"][["id", "taxonomy_ids"]].itertuples(index=False, name=None):
        links.setdefault(sid, []).extend(i.strip() for i in ids.split(",") if i.strip())
    result = {"": default}
    for sid, ids in links.items():
        chosen = [category[i] for i in ids if i in mine]
        chosen += [category[i] for i in ids if i in category and category[i] not in ("", default)]
        result[sid] = chosen[0] if chosen else default
    return result


def _hours(schedules: pd.DataFrame, file: str, name: str):
    """Opening hours keyed by (kind, id); and a warning for rows that are not weekly."""
    rows: dict[tuple[str, str], Hours] = {}
    skipped = 0
    for r in schedules.to_dict("records"):
        days = schedule_days(r["byday"], r["weekday"])
        opens, closes = clock(r["opens_at"]), clock(r["closes_at"])
        weekly = r["freq"].upper() in ("", "WEEKLY") and r["interval"] in ("", "1")
        if days is None or opens is None or closes is None or not weekly:
            skipped += 1
            continue
        if r["service_at_location_id"]:
            key = ("sal", r["service_at_location_id"])
        elif r["service_id"]:
            key = ("service", r["service_id"], r["location_id"])
        else:
            key = ("location", r["location_id"])
        rows.setdefault(key, []).extend((d, opens, closes) for d in days)
    notes = []
    if skipped:
        notes.append(
            Problem(
                name,
                f"{skipped:,} rows of {file} are not weekly opening times "
                "(monthly, every other week, or no times) and were left out of "
                "opening_hours",
                severity="warning",
            )
        )
    return {k: render_hours(v) for k, v in rows.items()}, notes


def _pick_hours(hours: dict, pair: _Pair) -> str | None:
    for key in (
        ("sal", pair.sal_id),
        ("service", pair.service_id, pair.location_id),
        ("service", pair.service_id, ""),
        ("location", pair.location_id),
    ):
        if hours.get(key):
            return hours[key]
    return None
