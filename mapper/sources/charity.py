"""Charity Commission for England and Wales register extract: registered charities as VCS
groups (register ``groups``).

Reads the ``publicextract.charity`` table in either published form: tab-delimited text
(``publicextract.charity.txt``) or JSON (``publicextract.charity.json``: UTF-8 with a
byte-order mark, an array of objects), each possibly in a zip of its own. The form and the
table are recognised from content (the ``registered_charity_number``, ``charity_name`` and
``charity_registration_status`` columns or keys), never from the file name.

Only main charities (``linked_charity_number`` 0) still on the register are kept; every
other row is listed in ``Imported.rejected`` with its reason. Charities are placed at the
centroid of their contact postcode, which is a correspondence address (often a trustee's
home or a national office), not where the charity works: a warning says so on every import.
A ``publicextract.charity_classification`` table in the same folder (any form, recognised
from content) gives each charity a category; without one every charity gets the source
default of ``mapper/mappings/categories.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import registers
from mapper.errors import DataValidationError, MapperError, Problem
from mapper.postcodes import normalise_postcodes
from mapper.sources.base import OGL, OGL_ATTRIBUTION, Context, Detection, Imported
from mapper.sources.files import Peek, decode, table_row
from mapper.sources.points import Located, locate, settle

SOURCE = "Charity Commission"
CATEGORY_SOURCE = "charity_commission"
LOCATION_SOURCE = "charity contact postcode (a correspondence address, not where the charity works)"
ATTRIBUTION = (
    f"{OGL_ATTRIBUTION} Source: Charity Commission for England and Wales register of charities."
)
#: the columns (TXT) or keys (JSON) that make a table the register's charity table
CHARITY_KEYS = ("registered_charity_number", "charity_name", "charity_registration_status")
CLASSIFICATION_KEYS = (
    "registered_charity_number",
    "classification_type",
    "classification_description",
)
ADDRESS_COLUMNS = [f"charity_contact_address{i}" for i in range(1, 6)]
POSTCODE = "charity_contact_postcode"
USED_COLUMNS = [
    "registered_charity_number",
    "linked_charity_number",
    "charity_name",
    "charity_registration_status",
    "date_of_removal",
    "date_of_extract",
    *ADDRESS_COLUMNS,
    POSTCODE,
    "charity_contact_phone",
    "charity_contact_email",
    "charity_contact_web",
    "charity_activities",
]
DATA_SUFFIXES = {".txt", ".tsv", ".csv", ".json"}
HEAD_BYTES = 64 * 1024
CAVEAT = (
    "charities are placed at their contact postcode, a correspondence address (often a "
    "trustee's home or a national office), not where they work; the contact address, phone "
    "and email may be personal data"
)


# -- finding the table ---------------------------------------------------------------


def _data_member(archive: zipfile.ZipFile) -> str | None:
    """The one data file in a zip, or None when there is not exactly one."""
    members = [
        m
        for m in archive.namelist()
        if not m.startswith("__MACOSX") and Path(m).suffix.lower() in DATA_SUFFIXES
    ]
    return members[0] if len(members) == 1 else None


def _head(path: Path) -> tuple[bytes, str | None] | None:
    """The first bytes of the data file at `path` or in the zip at `path`, and the member."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                member = _data_member(archive)
                if member is None:
                    return None
                with archive.open(member) as handle:
                    return handle.read(HEAD_BYTES), member
        if path.suffix.lower() not in DATA_SUFFIXES:
            return None
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES), None
    except (OSError, zipfile.BadZipFile):
        return None


def _is_json(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def _keys(head: bytes) -> set[str]:
    """Column names (table) or object keys (JSON) visible in the first bytes of a file."""
    text = head.decode("utf-8-sig", errors="replace")
    if _is_json(head):
        return {k.lower() for k in re.findall(r'"([A-Za-z0-9_]+)"\s*:', text)}
    first = text.split("\n", 1)[0].rstrip("\r")
    delimiter = "\t" if "\t" in first else ","
    return {c.strip().strip('"').lower() for c in first.split(delimiter)}


def _extract_date(text: str) -> str | None:
    """'2024-03-05T00:00:00', '2024-03-05 00:00:00' or '05/03/2024' -> '2024-03-05'."""
    text = str(text or "").strip()
    if m := re.match(r"(\d{4})-(\d{2})-(\d{2})", text):
        return "-".join(m.groups())
    if m := re.match(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
        return f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
    return None


def _detection(path: Path | None, *, form: str, member: str | None, vintage: str | None):
    packed = " in a zip" if member else ""
    return Detection(
        kind="groups",
        vintage=vintage or "unknown",
        detail=f"Charity Commission register of charities ({form}{packed})",
        rows=None,
        reader=read,
        extra={"form": form, "member": member},
        path=path,
    )


def detect(peek: Peek) -> Detection | None:
    """The register's charity table as a tab-delimited (or CSV) table seen by ``peek``."""
    if peek.format != "table":
        return None
    lowered = {c.lower() for c in peek.columns}
    if not set(CHARITY_KEYS) <= lowered:
        return None
    vintage = None
    dates = [c for c in peek.columns if c.lower() == "date_of_extract"]
    if dates and len(peek.head):
        vintage = _extract_date(peek.head[dates[0]].iloc[0])
    return _detection(None, form="TXT", member=None, vintage=vintage)


def detect_path(path: Path) -> Detection | None:
    """The register's charity table in any published form: TXT, JSON, or either in a zip.

    Files the generic ``peek`` cannot read (JSON arrays, zips of text) are looked at here;
    call this before the file detectors for ``.json`` and ``.zip`` files.
    """
    found = _head(path)
    if found is None:
        return None
    head, member = found
    if not set(CHARITY_KEYS) <= _keys(head):
        return None
    form = "JSON" if _is_json(head) else "TXT"
    text = head.decode("utf-8-sig", errors="replace")
    if form == "JSON":
        m = re.search(r'"date_of_extract"\s*:\s*"([^"]*)"', text)
        vintage = _extract_date(m[1]) if m else None
    else:
        vintage = _txt_vintage(text)
    return _detection(path, form=form, member=member, vintage=vintage)


def _txt_vintage(text: str) -> str | None:
    lines = text.split("\n", 2)
    if len(lines) < 2:
        return None
    delimiter = "\t" if "\t" in lines[0] else ","
    header = [c.strip().strip('"').lower() for c in lines[0].rstrip("\r").split(delimiter)]
    values = lines[1].rstrip("\r").split(delimiter)
    if "date_of_extract" not in header or len(values) != len(header):
        return None
    return _extract_date(values[header.index("date_of_extract")].strip('"'))


def is_classification(path: Path) -> bool:
    """True for a ``publicextract.charity_classification`` table (read with the charities)."""
    found = _head(path)
    return found is not None and set(CLASSIFICATION_KEYS) <= _keys(found[0])


# -- reading -------------------------------------------------------------------------


def _raw(path: Path) -> tuple[bytes, str]:
    """The bytes of the data file (unzipped when needed) and the name to report it by."""
    if path.suffix.lower() != ".zip":
        return path.read_bytes(), path.name
    try:
        with zipfile.ZipFile(path) as archive:
            member = _data_member(archive)
            if member is None:
                raise MapperError(
                    f"{path.name}: the zip must hold exactly one .txt or .json table "
                    f"(found: {', '.join(archive.namelist()[:10]) or 'nothing'})"
                )
            return archive.read(member), path.name
    except zipfile.BadZipFile:
        raise MapperError(f"{path.name}: not a valid zip archive (truncated or damaged?)") from None


def _text_cell(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_table(path: Path) -> tuple[pd.DataFrame, str, Callable[[int], int]]:
    """A register table as strings (blank cells ''), with lower-case column names.

    Returns the table, the row label for messages ("row" for text, where the header is row
    1; "record" for JSON, counted from 1) and the position -> row number function.
    """
    data, file = _raw(path)
    text, _ = decode(data, file=file)
    if _is_json(data[:HEAD_BYTES]):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MapperError(f"{file}: not valid JSON ({exc})") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise MapperError(f"{file}: expected a JSON array of objects (one per charity)")
        table = pd.DataFrame.from_records(records)
        table.columns = [str(c).strip().lower() for c in table.columns]
        table = table.loc[:, ~table.columns.duplicated()]
        for col in table.columns.intersection(USED_COLUMNS + list(CLASSIFICATION_KEYS)):
            table[col] = table[col].map(_text_cell).astype("object")
        return table, "record", lambda pos: pos + 1
    first = text.split("\n", 1)[0]
    tab = "\t" in first
    quoted = first.lstrip().startswith('"')
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep="\t" if tab else ",",
            dtype=str,
            keep_default_na=False,
            # the register's text files are unquoted: a stray " in a name must not
            # swallow the rest of the file
            quoting=csv.QUOTE_MINIMAL if (quoted or not tab) else csv.QUOTE_NONE,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise MapperError(f"{file}: not a readable tab-delimited table ({exc})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    return table, "row", table_row


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    if name not in table.columns:
        return pd.Series("", index=table.index, dtype="object")
    return table[name].astype("string").fillna("").str.strip().astype("object")


def _blank_to_none(values: pd.Series) -> pd.Series:
    return values.where(values != "", None).astype("object")


#: why a row is left out by rule (one message per reason, so reasons can be counted), and
#: the words for the count in the warning
LINKED = (
    "a linked charity (a subsidiary of a main charity); only main charities "
    "(linked_charity_number 0) are imported"
)
REMOVED = "removed from the register; only registered charities are imported"
NOT_REGISTERED = "registration status is not 'Registered'; only registered charities are imported"
NO_POSTCODE = "no contact postcode, so the charity cannot be placed"
OUTSIDE = (
    "contact postcode outside the study area (its postcode sector is not in the workspace's "
    "postcode centroids)"
)
COUNTED_AS = {
    LINKED: "linked charities (subsidiaries)",
    REMOVED: "removed charities",
    NOT_REGISTERED: "charities not registered",
    NO_POSTCODE: "charities without a contact postcode",
    OUTSIDE: "charities with a contact postcode outside the study area",
}
Exclusion = tuple[str, str, str] | None  # (reason, column, value seen)


def _exclusion(linked: str, status: str, removal: str) -> Exclusion:
    """Why a row is left out by rule (main charities still registered stay in)."""
    try:
        main = linked == "" or float(linked) == 0
    except ValueError:
        main = False
    if not main:
        return LINKED, "linked_charity_number", linked
    if removal:
        return REMOVED, "date_of_removal", _extract_date(removal) or removal
    if status.lower() == "removed":
        return REMOVED, "charity_registration_status", status
    if status.lower() != "registered":
        return NOT_REGISTERED, "charity_registration_status", status
    return None


def _exclusions(cols: dict[str, pd.Series], context: Context) -> list[Exclusion]:
    """Why each row is left out by rule; None for rows still in."""
    columns = ("linked_charity_number", "charity_registration_status", "date_of_removal")
    found = [_exclusion(*row) for row in zip(*(cols[c].tolist() for c in columns), strict=True)]
    postcode = cols[POSTCODE]
    outside = _outside_sectors(postcode, context).tolist()
    for pos, code in enumerate(postcode.tolist()):
        if found[pos] is None and code == "":
            found[pos] = NO_POSTCODE, POSTCODE, ""
        elif found[pos] is None and outside[pos]:
            found[pos] = OUTSIDE, POSTCODE, code
    return found


def _outside_sectors(postcode: pd.Series, context: Context) -> pd.Series:
    """Well-formed postcodes whose sector has no postcode in the workspace's centroids.

    The register covers England and Wales while the workspace's centroids are cut to the
    study area: a charity whose whole postcode sector is missing lies outside the study
    area, not in error. A postcode missing from a sector the workspace does hold is still
    an error (a typing mistake or a terminated postcode), reported by ``locate``.
    """
    norm = normalise_postcodes(postcode)
    if context.postcodes is None or not len(context.postcodes):
        return pd.Series(False, index=postcode.index)
    known = {str(p)[:-2] for p in context.postcodes.index}
    return norm.notna() & ~norm.fillna("").str[:-2].isin(known)


def _validate(cols: dict[str, pd.Series], candidates: np.ndarray, *, file, rows, row_label):
    """One problem per invalid candidate row: charity number and name."""
    problems: dict[int, Problem] = {}
    numbers = cols["registered_charity_number"].tolist()
    names = cols["charity_name"].tolist()
    firsts: dict[str, int] = {}
    for pos in candidates.tolist():
        value = numbers[pos]
        if not value.isdigit():
            problems[pos] = Problem(
                file,
                "not a charity number; expected digits (a line break inside a field?)",
                rows(pos),
                "registered_charity_number",
                value or None,
                row_label=row_label,
            )
        elif names[pos] == "":
            problems[pos] = Problem(
                file, "missing charity name", rows(pos), "charity_name", row_label=row_label
            )
        elif value in firsts:
            problems[pos] = Problem(
                file,
                f"the same main charity appears twice (also at {row_label} {rows(firsts[value])})",
                rows(pos),
                "registered_charity_number",
                value,
                row_label=row_label,
            )
        else:
            firsts[value] = pos
    return problems


def _default_category() -> str:
    """The category of charities whose classifications map to nothing.

    ``categories.csv`` writes this source's default with field ``*``, which
    ``registers.map_categories`` does not read (it looks for field ``classification``).
    """
    mapping = registers.category_map(CATEGORY_SOURCE, "groups")
    return mapping.get(("classification", "*")) or mapping.get(("*", "*"), "")


def _classification_beside(path: Path) -> Path | None:
    """A charity_classification table in the same folder, recognised from content."""
    for other in sorted(path.parent.iterdir()):
        if other.is_file() and other != path and other.suffix.lower() in DATA_SUFFIXES | {".zip"}:
            if is_classification(other):
                return other
    return None


def _categories(path: Path, numbers: pd.Series) -> tuple[pd.Series, list[Problem], str]:
    """Category per charity from a classification table beside `path`, else the default;
    warnings; and a few words on where categories came from."""
    default = _default_category()
    fallback = pd.Series(default, index=numbers.index, dtype="object")
    sibling = _classification_beside(path)
    if sibling is None:
        note = (
            "no publicextract.charity_classification table beside it: every charity gets "
            f"category {default!r}"
        )
        return fallback, [Problem(path.name, note, severity="warning")], ""
    try:
        table, _, _ = load_table(sibling)
    except MapperError as exc:
        note = f"{exc}; categories were not read, every charity gets {default!r}"
        return fallback, [Problem(sibling.name, note, severity="warning")], ""
    return _classify(table, numbers, default), [], f"; categories from {sibling.name}"


def _classify(table: pd.DataFrame, numbers: pd.Series, default: str) -> pd.Series:
    """First 'What' classification that maps to a category, then the first 'Who'.

    Most charities list 'General Charitable Purposes' (or another purpose with no
    counterpart in our vocabulary) first, and many say who they serve only under 'Who'
    ('Children/young People', 'Elderly/old People'), so the first classification that maps
    to something other than the default is used, purposes before beneficiaries.
    """
    number = _column(table, "registered_charity_number")
    linked = _column(table, "linked_charity_number")
    kind = _column(table, "classification_type").str.lower()
    mapped = registers.map_categories(
        _column(table, "classification_description"),
        source=CATEGORY_SOURCE,
        field="classification",
        register="groups",
    )
    rank = kind.map({"what": 0, "who": 1})
    use = pd.DataFrame({"number": number, "category": mapped, "rank": rank})
    use = use[(linked.isin(["", "0"])) & rank.notna() & (mapped != default) & (mapped != "")]
    first = use.sort_values("rank", kind="stable").drop_duplicates("number")
    lookup = dict(zip(first["number"], first["category"], strict=True))
    return numbers.map(lambda n: lookup.get(n, default)).astype("object")


def read(path: Path, detection: Detection, context: Context) -> Imported:
    """Main registered charities at their contact postcode, as the ``groups`` register."""
    file = path.name
    table, row_label, rows = load_table(path)
    required = (*CHARITY_KEYS, "linked_charity_number", POSTCODE)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataValidationError(
            [
                Problem(
                    file,
                    f"missing column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}; columns present: {', '.join(table.columns)}",
                )
            ]
        )
    rows_read = len(table)
    cols = {name: _column(table, name) for name in USED_COLUMNS}
    excluded = _exclusions(cols, context)
    rejected = [
        Problem(file, why[0], rows(pos), why[1], why[2] or None, "rejected", row_label)
        for pos, why in enumerate(excluded)
        if why is not None
    ]
    notes = [Problem(file, CAVEAT, severity="warning")]
    counts = pd.Series([p.message for p in rejected], dtype="object").value_counts(sort=False)
    for reason, count in counts.items():
        notes.append(Problem(file, f"{count:,} {COUNTED_AS[reason]} left out", severity="warning"))
    candidates = np.array([pos for pos, why in enumerate(excluded) if why is None], dtype=int)
    invalid = _validate(cols, candidates, file=file, rows=rows, row_label=row_label)
    to_locate = np.array([p for p in candidates.tolist() if p not in invalid], dtype=int)
    located = locate(
        table.iloc[to_locate],
        file=file,
        context=context,
        postcode=POSTCODE,
        rows=lambda p: rows(to_locate[p]),
        row_label=row_label,
    )
    combined = _combine(candidates, to_locate, located, invalid)
    if combined.problems and context.strict:
        raise DataValidationError(
            combined.problems,
            summary=f"{len(combined.problems)} invalid charit"
            f"{'ies' if len(combined.problems) > 1 else 'y'} in {file}; nothing was imported "
            "(--strict rejects a file with any invalid row; without it the valid ones are "
            "imported and the others listed)",
        )
    keep, more = settle(
        combined, file=file, context=context, rejected=rejected, rows=lambda p: rows(candidates[p])
    )
    notes += more
    kept = candidates[keep]
    categories, category_notes, how = _categories(
        path, cols["registered_charity_number"].iloc[kept]
    )
    frame = _groups(cols, kept, categories, combined.geometry[keep], file=file, rows=rows)
    vintage = frame["last_verified"].dropna()
    return Imported(
        kind="groups",
        frame=frame,
        vintage=str(vintage.max()) if len(vintage) else detection.vintage,
        detail=detection.detail + how,
        rows_read=rows_read,
        licence=OGL,
        attribution=ATTRIBUTION,
        warnings=notes + category_notes,
        rejected=rejected,
    )


def _combine(candidates, located_pos, located: Located, invalid: dict[int, Problem]) -> Located:
    """One Located over every candidate row: the placed ones and the invalid ones."""
    index = pd.RangeIndex(len(candidates))
    geometry = gpd.GeoSeries([None] * len(candidates), index=index, crs=located.geometry.crs)
    how = pd.Series("", index=index, dtype="object")
    where = np.searchsorted(candidates, located_pos)
    geometry.iloc[where] = located.geometry.to_numpy()
    how.iloc[where] = located.how.to_numpy()
    problems = sorted([*invalid.values(), *located.problems], key=lambda p: p.row or 0)
    return Located(geometry, how, problems, located.unmatched_postcodes)


def _groups(cols, kept, categories, geometry, *, file, rows) -> gpd.GeoDataFrame:
    pick = {name: values.iloc[kept].reset_index(drop=True) for name, values in cols.items()}
    number = pick["registered_charity_number"]
    address = (
        pd.DataFrame({c: pick[c] for c in ADDRESS_COLUMNS}).apply(
            lambda r: ", ".join(v for v in r if v), axis=1
        )
        if len(kept)
        else pd.Series([], dtype="object")
    )
    postcode = normalise_postcodes(pick[POSTCODE]).astype("object")
    frame = pd.DataFrame(
        {
            "group_id": "charity:" + number,
            "name": pick["charity_name"],
            "category": categories.reset_index(drop=True),
            "description": _blank_to_none(pick["charity_activities"]),
            "address": _blank_to_none(address.astype("object")),
            "postcode": postcode.where(postcode.notna(), None),
            "phone": _blank_to_none(pick["charity_contact_phone"]),
            "email": _blank_to_none(pick["charity_contact_email"]),
            "website": _blank_to_none(pick["charity_contact_web"]),
            "charity_number": number,
            "last_verified": pick["date_of_extract"].map(_extract_date).astype("object"),
            "source": SOURCE,
            "source_id": number,
            "source_file": file,
            "source_row": [rows(p) for p in kept],
            "location_source": LOCATION_SOURCE,
        },
        index=pd.RangeIndex(len(kept)),
    )
    return registers.conform(frame, "groups", geometry.to_numpy())
