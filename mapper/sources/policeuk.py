"""police.uk crime as incidents: the street-level crime CSVs of data.police.uk (one month or
many concatenated, any number of forces), the copies people make of them (columns renamed
``Crime.type`` or ``crime_type``, some dropped, months turned by Excel into ``Mar-24`` or
dates), other incident tables with a month or date, a crime type and coordinates, and the
Camden council layout of the same data ("On Street Crime In Camden": ``Category``,
``Epoch``, ``Persistent ID`` ...).

Each crime or anti-social behaviour report becomes one row of the ``incidents`` register.
police.uk gives months, not dates, and places every report at an anonymised *snap point*
(the centre of a street or a landmark near it), so the locations are approximate by design.
That caveat is recorded as a warning on every import whose content is police.uk's (one of
its own columns such as ``Crime ID``, ``Reported by``, ``Falls within`` or ``LSOA code``,
or locations written "On or near ..."); a table with police.uk's column names but none of
that is read at its coordinates, with a warning saying so.

Rows published without a location (blank longitude and latitude) are not errors: they are
left out, listed in :attr:`Imported.rejected` with the reason and counted in a warning.
The street files' ``LSOA code`` is checked (it must be an LSOA code where given) but not
kept: areas are assigned later from the points. The outcomes and stop-and-search files
hold no crime type column and are not taken for incidents.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import registers
from mapper.errors import DataValidationError, Problem
from mapper.geo import CRS_ANALYSIS
from mapper.sources import dates as dates_module
from mapper.sources.base import OGL, OGL_ATTRIBUTION, Context, Detection, Imported
from mapper.sources.codes import CODE_PATTERNS, KIND_LABEL, kinds_of
from mapper.sources.files import Peek, iter_table, table_columns, table_row
from mapper.sources.points import (
    OUTSIDE_STUDY_AREA,
    Located,
    locate,
    outside_note,
    settle,
    strict_error,
)

SOURCE = "police.uk"
LOCATION_SOURCE = "police.uk anonymised snap point"
ATTRIBUTION = OGL_ATTRIBUTION + " Crime data: data.police.uk."
NO_LOCATION = "no location (police.uk publishes some crimes without one)"
SNAP_POINTS = (
    "coordinates are anonymised snap points (police.uk), not exact crime locations: each "
    "report sits at the centre of a nearby street or landmark shared with other reports"
)
NOT_DERIVED = (
    "none of police.uk's own columns (Crime ID, Reported by, Falls within, LSOA code) and no "
    "'On or near' locations: read as incidents at the coordinates given. If the file came "
    "from police.uk, its points are anonymised snap points, not exact crime locations"
)
STREET, CAMDEN = "street", "camden"
DETAIL_CAMDEN = "police.uk crime, Camden council layout"

#: canonical name -> the headers that mean it, compared as keys (:func:`_key`: lower case,
#: letters and digits only, so ``Crime type``, ``Crime.type``, ``crime_type`` and
#: ``CrimeType`` are one). The first is police.uk's own.
STREET_COLUMNS = {
    "crime_id": ("crimeid", "crimereference", "crimeref"),
    "month": ("month", "monthyear", "yearmonth"),
    "date": ("date", "crimedate", "incidentdate", "dateofcrime", "dateofincident",
             "reporteddate", "dateoccurred"),
    "reported_by": ("reportedby",),
    "force": ("fallswithin", "force", "policeforce"),
    "lon": ("longitude", "lon", "lng", "long"),
    "lat": ("latitude", "lat"),
    "easting": ("easting", "eastings"),
    "northing": ("northing", "northings"),
    "location": ("location",),
    "lsoa_code": ("lsoacode", "lsoa11cd", "lsoa21cd"),
    "lsoa_name": ("lsoaname",),
    "type": ("crimetype", "crimecategory", "offencetype", "offencecategory", "offence"),
    "outcome": ("lastoutcomecategory", "lastoutcome", "outcomecategory", "outcome"),
    "context": ("context",),
}
#: columns only police.uk's street files have: any one makes a table police.uk-derived
#: (and lets a plain ``type`` or ``category`` column be its crime type)
POLICE_MARKERS = ("crime_id", "reported_by", "force", "lsoa_code")
#: crime type headers accepted only beside a police.uk marker column
PLAIN_TYPE = ("type", "category", "crimetypes")
#: police.uk's own wording of a snap point's location
ON_OR_NEAR = "on or near "
#: the columns read() looks at (coordinates are parsed by :func:`locate`)
USED = {"crime_id", "month", "date", "lon", "lat", "easting", "northing", "location",
        "lsoa_code", "type", "outcome", "context", "street", "id", "persistent_id", "epoch"}

#: canonical name -> column of the Camden council layout
CAMDEN_COLUMNS = {
    "type": "Category",
    "street": "Street Name",
    "context": "Context",
    "outcome": "Outcome Category",
    "id": "ID",
    "persistent_id": "Persistent ID",
    "epoch": "Epoch",
    "easting": "Easting",
    "northing": "Northing",
    "lon": "Longitude",
    "lat": "Latitude",
}
CAMDEN_REQUIRED = ("type", "street", "persistent_id", "epoch")

EPOCH_FORMAT = "%m/%d/%Y %I:%M:%S %p"  # "06/01/2019 12:00:00 AM"
#: bytes read from the end of a file at detection, for the months and forces it covers
TAIL_BYTES = 64 * 1024
FORCES_LISTED = 3


# -- detection ----------------------------------------------------------------------------


def _key(header) -> str:
    return re.sub(r"[^0-9a-z]", "", str(header).lower())


def _street(columns: list[str]) -> dict[str, str] | None:
    """canonical name -> the file's column, when the table is a crime table: a month or
    date, a crime type and coordinates."""
    present: dict[str, str] = {}
    for column in columns:
        present.setdefault(_key(column), column)
    cols = {}
    for name, keys in STREET_COLUMNS.items():
        hit = next((present[k] for k in keys if k in present), None)
        if hit is not None:
            cols[name] = hit
    if "type" not in cols and any(k in cols for k in POLICE_MARKERS):
        hit = next((present[k] for k in PLAIN_TYPE if k in present), None)
        if hit is not None:
            cols["type"] = hit
    located = {"lat", "lon"} <= cols.keys() or {"easting", "northing"} <= cols.keys()
    when = "month" in cols or "date" in cols
    return cols if located and when and "type" in cols else None


def _layout(columns: list[str]) -> tuple[str, dict[str, str]] | None:
    """(layout, canonical name -> the file's column) when the columns are a crime table's."""
    cols = _street(columns)
    if cols is not None:
        return STREET, cols
    present = {_key(c): c for c in columns}
    cols = {k: present[_key(v)] for k, v in CAMDEN_COLUMNS.items() if _key(v) in present}
    located = {"lat", "lon"} <= cols.keys() or {"easting", "northing"} <= cols.keys()
    if all(k in cols for k in CAMDEN_REQUIRED) and located:
        return CAMDEN, cols
    return None


def police_derived(table: pd.DataFrame, layout: str, cols: dict[str, str]) -> bool:
    """Whether the content is police.uk's: one of its own columns, or its "On or near"
    locations (the Camden layout is police.uk data by construction)."""
    if layout == CAMDEN or any(k in cols for k in POLICE_MARKERS):
        return True
    if "location" not in cols:
        return False
    return bool(_text(table[cols["location"]]).str.lower().str.startswith(ON_OR_NEAR).any())


def detect(peek: Peek) -> Detection | None:
    """police.uk street-level crime, or the Camden council layout of it, from the columns.

    The vintage (the months covered) and the forces are read from the first rows and the
    last ones; :func:`read` recomputes both from every row.
    """
    if peek.format != "table":
        return None
    found = _layout(peek.columns)
    if found is None:
        return None
    layout, cols = found
    tail = _tail(peek)
    sample = peek.head if tail.empty else pd.concat([peek.head, tail], ignore_index=True)
    text = {k: _text(sample[c]) for k, c in cols.items() if k in ("month", "date", "epoch")}
    months, _, _, _ = _when(text, layout, cols, file=peek.name)
    return Detection(
        kind="incidents",
        vintage=_month_range(months),
        detail=_detail(sample, layout, cols, police_derived(sample, layout, cols)),
        rows=None,
        reader=read,
        columns=cols,
        extra={"layout": layout},
    )


def _tail(peek: Peek) -> pd.DataFrame:
    """The last rows of a long file (empty when the file is short or they cannot be read)."""
    empty = peek.head.iloc[:0]
    size = peek.path.stat().st_size
    if size <= TAIL_BYTES:
        return empty
    with open(peek.path, "rb") as handle:
        handle.seek(size - TAIL_BYTES)
        data = handle.read()
    text = data.decode(peek.encoding or "utf-8", errors="replace").split("\n", 1)[-1]
    try:
        tail = pd.read_csv(io.StringIO(text), header=None, names=peek.columns, dtype=str,
                           keep_default_na=False, on_bad_lines="skip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return empty
    return tail.fillna("")


def _month_range(months: pd.Series) -> str:
    valid = months.dropna()
    if valid.empty:
        return "unknown"
    first, last = valid.min(), valid.max()
    return first if first == last else f"{first} to {last}"


def _detail(table: pd.DataFrame, layout: str, cols: dict[str, str], derived: bool, *,
            counts: pd.Series | None = None) -> str:
    """What the file is; `counts`, the force column's value counts when `table` is not the
    whole file."""
    if layout == CAMDEN:
        return DETAIL_CAMDEN
    if not derived:
        when = cols.get("month") or cols["date"]
        return (f"a table of incidents (crime type '{cols['type']}', month or date '{when}', "
                "coordinates)")
    column = cols.get("force") or cols.get("reported_by")
    if counts is None:
        counts = _text(table[column]).value_counts() if column else pd.Series(dtype=int)
    forces = [str(f) for f in counts.index if f]
    if not forces:
        return "police.uk street-level crime"
    shown = ", ".join(forces[:FORCES_LISTED])
    more = len(forces) - FORCES_LISTED
    noun = "force" if len(forces) == 1 else "forces"
    return (f"police.uk street-level crime ({len(forces)} {noun}: {shown}"
            f"{f' and {more} more' if more > 0 else ''})")


# -- checks -------------------------------------------------------------------------------


def _text(values: pd.Series) -> pd.Series:
    """Cells as stripped text, '' where blank (each distinct text stripped once: a crime
    file repeats its months, types, places and codes thousands of times)."""
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=True) not in ("string", "empty"):
        return values.astype("string").str.strip().fillna("")
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    stripped = np.array([u.strip() for u in uniques.tolist()] + [""], dtype=object)
    return pd.Series(pd.array(stripped[codes], dtype="string"), index=values.index)


def _blank_to_na(values: pd.Series) -> pd.Series:
    return values.replace("", pd.NA)


WHEN_EXPECTED = ("expected a month such as 2024-05, Mar-24, March 2024 or 03/2024, or a date "
                 "such as 2024-05-31 or 31/05/2024")
EPOCH_EXPECTED = "expected a month as MM/DD/YYYY 12:00:00 AM (e.g. 06/01/2019 12:00:00 AM)"


def _when(text: dict[str, pd.Series], layout: str, cols: dict[str, str], *, file: str,
          rows=table_row, spellings: dict | None = None
          ) -> tuple[pd.Series, pd.Series, list[Problem], list[Problem]]:
    """(months 'YYYY-MM', dates 'YYYY-MM-DD', problems, notes) for every row.

    Street layout: the month column (police.uk's, or as Excel left it), else the date
    column (its months); a date column also gives dates. A row whose month is blank or
    unreadable is a problem naming the column. Camden layout: the ``Epoch`` column.
    The notes say how spellings other than YYYY-MM were read.
    """
    blank = pd.Series(pd.NA, index=next(iter(text.values())).index, dtype="string")
    if layout == CAMDEN:
        given = text["epoch"].where(text["epoch"] != "")
        parsed = pd.to_datetime(given, format=EPOCH_FORMAT, errors="coerce")
        retry = parsed.isna() & given.notna()
        if retry.any():
            parsed[retry] = pd.to_datetime(given[retry], format="ISO8601", errors="coerce")
        months = parsed.dt.strftime("%Y-%m").astype("string").where(parsed.notna(), pd.NA)
        return months, blank, _unreadable(text["epoch"], months, file, cols["epoch"],
                                          EPOCH_EXPECTED, rows=rows), []
    notes: list[Problem] = []
    read: dict[str, tuple[pd.Series, pd.Series]] = {}
    for name in ("month", "date"):
        if name in text and spellings is not None:  # a chunk: spellings of the whole file
            read_as = spellings[name][0]
            month_of = {v: m for v, (m, _) in read_as.items()}
            date_of = {v: d for v, (_, d) in read_as.items()}
            read[name] = (text[name].map(month_of).astype("string"),
                          text[name].map(date_of).astype("string"))
        elif name in text:
            months, dates, how = dates_module.read_when(text[name])
            read[name] = (months, dates)
            notes += [Problem(file, f"column '{cols[name]}': {h}", severity="warning")
                      for h in how]
    governing = "month" if "month" in read else "date"
    months = read[governing][0]
    dates = read["date"][1] if "date" in read else blank
    problems = _unreadable(text[governing], months, file, cols[governing], WHEN_EXPECTED,
                           rows=rows)
    return months, dates, problems, notes


def _unreadable(text: pd.Series, months: pd.Series, file: str, column: str, expected: str,
                *, rows=table_row) -> list[Problem]:
    """One problem per row without a readable month."""
    return [
        Problem(file, f"missing month; {expected}" if text.iloc[pos] == "" else
                f"not a month; {expected}", rows(pos), column,
                None if text.iloc[pos] == "" else text.iloc[pos])
        for pos in np.flatnonzero(months.isna().to_numpy()).tolist()
    ]


def _lsoa_problems(text: pd.Series, *, file: str, column: str, rows=table_row
                   ) -> list[Problem]:
    """One problem per non-blank value that is not an LSOA code (E01/W01)."""
    wrong = (text != "").to_numpy() & ~text.str.fullmatch(CODE_PATTERNS["lsoa"]).to_numpy(bool)
    positions = np.flatnonzero(wrong)
    if len(positions) == 0:
        return []
    kinds = kinds_of(text.iloc[positions])
    problems = []
    for pos, kind in zip(positions.tolist(), kinds, strict=True):
        what = f"a {KIND_LABEL[kind]} code" if isinstance(kind, str) else "not a GSS code"
        problems.append(Problem(file, f"{what}; expected an {KIND_LABEL['lsoa']} code",
                                rows(pos), column, text.iloc[pos]))
    return problems


def _one_per_row(problems: list[Problem]) -> list[Problem]:
    """Merge the problems of each row into one (a row is rejected once)."""
    merged: dict[int | None, Problem] = {}
    for p in problems:
        first = merged.get(p.row)
        if first is None:
            merged[p.row] = p
            continue
        also = f"column '{p.column}'" if p.column else ""
        also += f" {p.value!r}" if p.value is not None else ""
        merged[p.row] = Problem(first.file, f"{first.message}; also {also.strip()}: "
                                f"{p.message}", first.row, first.column, first.value)
    return list(merged.values())


# -- reading ------------------------------------------------------------------------------


#: rows of a crime file read at a time: a file of any length never sits whole in memory
#: as text (only its kept incidents, in canonical columns, are held)
CHUNK_ROWS = 200_000


def read(path, detection: Detection, context: Context, *, chunk_rows: int = CHUNK_ROWS
         ) -> Imported:
    """Read, validate and normalise a crime table into the incidents register.

    Every row is accounted for: ``len(frame) + len(rejected) == rows_read``. Invalid rows
    (unreadable month, wrong LSOA code, bad coordinates) are rejected, each with its
    reasons; with ``context.strict`` they reject the whole file, every one listed.

    The file is read `chunk_rows` rows at a time, only the columns used, and gives
    exactly what one read of the whole file gives (row numbers are the file's): months
    are read from the distinct values of the whole column (a 03/04/2024 is day or month
    first by all of them), and repeated crime ids are found over the whole file.
    """
    file = path.name
    found = _layout(table_columns(path))
    if found is None:
        raise DataValidationError([Problem(
            file, "not a police.uk crime file any more (it changed since it was detected). "
            "Columns present: " + ", ".join(table_columns(path)))])
    layout, cols = found
    wanted = set(cols.values())
    chunks = iter_table(path, chunk_rows, columns=wanted)
    first = next(chunks, None)
    if first is None:
        first = pd.DataFrame({c: pd.Series(dtype=object) for c in wanted})
    second = next(chunks, None)
    # one chunk: read as it is; more: the months' spellings read from the whole column
    spellings, derived = None, None
    if second is not None:
        spellings = _when_spellings(path, cols, layout, chunk_rows)
        derived = _derived(path, layout, cols, chunk_rows)
    parts: list[_Part] = []
    for table in _chain(first, second, chunks):
        parts.append(_read_part(table, layout, cols, spellings, file=file, stem=path.stem,
                                derived=derived, context=context))
    problems = [p for part in parts for p in part.problems]
    if problems and context.strict:
        raise strict_error(problems, file)
    return _imported(parts, layout, cols, spellings, file=file, stem=path.stem,
                     context=context)


def _chain(first, second, rest):
    yield first
    if second is not None:
        yield second
        yield from rest


def _when_spellings(path, cols: dict[str, str], layout: str, chunk_rows: int
                    ) -> dict[str, tuple[dict, list[str]]] | None:
    """For a file read in chunks: the month and date columns' distinct values over the
    whole file, read as one read would (name -> (value -> (month, date), notes))."""
    if layout == CAMDEN:
        return None  # its Epoch column is read value by value
    names: list[str] = [n for n in ("month", "date") if n in cols]
    seen: dict[str, dict[str, None]] = {n: {} for n in names}
    for table in iter_table(path, chunk_rows, columns={cols[n] for n in names}):
        for name in names:
            seen[name].update(dict.fromkeys(pd.unique(
                _text(table[cols[name]]).to_numpy(dtype=object)).tolist()))
    out: dict[str, tuple[dict, list[str]]] = {}
    for name in names:
        values = pd.Series(list(seen[name]), dtype="string")
        months, dates, how = dates_module.read_when(values)
        out[name] = (dict(zip(values.tolist(), zip(months.tolist(), dates.tolist(),
                                                     strict=True), strict=True)), how)
    return out


def _derived(path, layout: str, cols: dict[str, str], chunk_rows: int) -> bool:
    """:func:`police_derived` of a whole file read in chunks."""
    if layout == CAMDEN or any(k in cols for k in POLICE_MARKERS) or "location" not in cols:
        return police_derived(pd.DataFrame(), layout, cols)
    return any(police_derived(table, layout, cols)
               for table in iter_table(path, chunk_rows, columns={cols["location"]}))


@dataclass
class _Part:
    """What one chunk of a crime file gave."""

    rows: int
    months: pd.Series
    problems: list[Problem]
    rejected: list[Problem]
    keep: np.ndarray
    frame: pd.DataFrame  # the kept rows' canonical columns (incident_id still the base id)
    base: pd.Series  # every row's base id
    points: np.ndarray  # the kept rows' points
    left_out: int
    invalid: int
    located_any: bool
    outside: int
    notes: list[Problem]
    how: list[Problem]
    derived: bool
    forces: pd.Series  # the force column's values and their counts


def _read_part(table: pd.DataFrame, layout: str, cols: dict[str, str],
               spellings: dict | None, *, file: str, stem: str, derived: bool | None,
               context: Context) -> _Part:
    """Check, place and normalise one chunk of a crime file (rows numbered by its index)."""
    offset = int(table.index[0]) if len(table) else 0

    def row_of(pos: int) -> int:
        return table_row(pos + offset)

    text = {name: _text(table[col]) for name, col in cols.items() if name in USED}
    if derived is None:
        derived = police_derived(table, layout, cols)
    months, dates, problems, how = _when(text, layout, cols, file=file, rows=row_of,
                                         spellings=spellings)
    if "lsoa_code" in cols:
        problems += _lsoa_problems(text["lsoa_code"], file=file, column=cols["lsoa_code"],
                                   rows=row_of)
    coordinates = [c for c in ("lon", "lat", "easting", "northing") if c in cols]
    no_location = np.logical_and.reduce([(text[c] == "").to_numpy() for c in coordinates])

    located, invalid = _locate(table, cols, no_location, problems, file=file, context=context,
                               rows=row_of)
    rejected: list[Problem] = []
    lenient = dataclasses.replace(context, strict=False)  # the file's problems: by read()
    keep, notes = settle(located, file=file, context=lenient, rejected=rejected, rows=row_of)
    left_out = np.flatnonzero(no_location & ~invalid)
    rejected += [Problem(file, NO_LOCATION, row_of(pos), severity="rejected")
                 for pos in left_out.tolist()]
    rejected.sort(key=lambda p: p.row or 0)
    frame, base = _incident_columns(table, text, (months, dates), layout, keep,
                                    derived=derived, first_row=row_of(0), stem=stem)
    column = cols.get("force") or cols.get("reported_by")
    forces = (_text(table[column]).value_counts(sort=False) if column and layout != CAMDEN
              else pd.Series(dtype=int))
    outside = sum(1 for p in rejected if p.message.startswith(OUTSIDE_STUDY_AREA))
    return _Part(
        rows=len(table), months=months, problems=located.problems, rejected=rejected,
        keep=keep, frame=frame, base=base, points=located.geometry.to_numpy()[keep],
        left_out=len(left_out), invalid=int(invalid.sum()),
        located_any=bool((~no_location & ~invalid).any()), outside=outside,
        notes=[n for n in notes if OUTSIDE_STUDY_AREA not in n.message], how=how,
        derived=derived, forces=forces)


def _imported(parts: list[_Part], layout: str, cols: dict[str, str], spellings: dict | None,
              *, file: str, stem: str, context: Context) -> Imported:
    """The file's import from its chunks (one, or several read in turn)."""
    derived = any(p.derived for p in parts)
    rows_read = sum(p.rows for p in parts)
    months = pd.concat([p.months for p in parts]) if len(parts) > 1 else parts[0].months
    rejected = [r for p in parts for r in p.rejected]
    frame = pd.concat([p.frame for p in parts]) if len(parts) > 1 else parts[0].frame
    base = pd.concat([p.base for p in parts]) if len(parts) > 1 else parts[0].base
    keep = np.concatenate([p.keep for p in parts])
    points = np.concatenate([p.points for p in parts])
    id_name = "Crime ID" if layout == STREET else "Persistent ID"
    frame, repeats = _ids(frame, base, keep, file=file, id_name=id_name,
                          source=SOURCE if derived else stem,
                          location_source=LOCATION_SOURCE if derived else "coordinates")
    how = parts[0].how if spellings is None else [
        Problem(file, f"column '{cols[name]}': {h}", severity="warning")
        for name in ("month", "date") if name in spellings for h in spellings[name][1]]
    warnings = [Problem(file, SNAP_POINTS if derived else NOT_DERIVED, severity="warning")]
    warnings += how
    left_out = sum(p.left_out for p in parts)
    if left_out:
        many = left_out > 1
        warnings.append(Problem(file, f"{left_out:,} {'rows have' if many else 'row has'} "
                                f"no location and {'were' if many else 'was'} left out",
                                severity="warning"))
    invalid = sum(p.invalid for p in parts)
    if invalid:
        warnings.append(Problem(file, f"{invalid:,} invalid rows left out (listed "
                                "with the rejected rows)", severity="warning"))
    warnings += repeats
    outside = sum(p.outside for p in parts)
    if outside:
        warnings.append(outside_note(file, outside, context))
    warnings += [n for p in parts for n in p.notes]
    if not keep.any() and any(p.located_any for p in parts) and context.study_area is not None:
        warnings.append(Problem(file, f"none of its located incidents lies inside the study "
                                f"area ({context.study_area_name}): a file for another police "
                                "force?", severity="warning"))
    forces = _forces([p.forces for p in parts])
    return Imported(
        kind="incidents",
        frame=registers.conform(frame, "incidents", points).reset_index(drop=True),
        vintage=_month_range(months),
        detail=_detail(pd.DataFrame(), layout, cols, derived, counts=forces),
        rows_read=rows_read,
        licence=OGL if derived else "as supplied by the user (not recorded)",
        attribution=ATTRIBUTION if derived else f"Source: {file}.",
        warnings=warnings,
        rejected=rejected,
    )


def _forces(counts: list[pd.Series]) -> pd.Series:
    """The chunks' force counts as one ``value_counts()`` of the whole column would give
    them (values in order of first appearance, then sorted by count)."""
    total: dict = {}
    for part in counts:
        for value, n in part.items():
            total[value] = total.get(value, 0) + int(n)
    return pd.Series(total, dtype="int64").sort_values(ascending=False)


def _locate(table: pd.DataFrame, cols: dict[str, str], no_location: np.ndarray,
            problems: list[Problem], *, file: str, context: Context, rows=table_row
            ) -> tuple[Located, np.ndarray]:
    """Place the rows that have a location; merge in the other `problems` of the file.

    Longitude/latitude win over the Camden layout's easting/northing, which its author
    derived from them (about 2 m apart): the same snap point then lands on the same spot
    whichever file it came from. Rows with problems get no geometry, so that
    :func:`settle` rejects them (or the whole file). Returns the rows and the mask of
    invalid rows.
    """
    where = np.flatnonzero(~no_location)
    wanted = {k: cols[k] for k in ("lat", "lon", "easting", "northing") if k in cols}
    part = locate(table.iloc[where], file=file, context=context,
                  rows=lambda pos: rows(int(where[pos])), **wanted)
    geometry = np.full(len(table), None, dtype=object)
    geometry[where] = np.asarray(part.geometry.array, dtype=object)
    found = sorted(part.problems + problems, key=lambda p: p.row or 0)
    if not context.strict:
        found = _one_per_row(found)
    invalid = np.zeros(len(table), dtype=bool)
    invalid[np.array([p.row for p in found], dtype=int) - rows(0)] = True
    geometry[invalid] = None
    how = pd.Series(np.where(invalid | pd.isna(geometry), "", "coordinates"), index=table.index)
    located = Located(gpd.GeoSeries(geometry, index=table.index, crs=CRS_ANALYSIS), how, found)
    return located, invalid


def _incident_columns(table: pd.DataFrame, text: dict[str, pd.Series],
                      when: tuple[pd.Series, pd.Series], layout: str, keep: np.ndarray, *,
                      derived: bool, first_row: int, stem: str
                      ) -> tuple[pd.DataFrame, pd.Series]:
    """The canonical columns of the kept rows (``incident_id`` holds the base id until
    :func:`_ids`), and every row's base id: ``police.uk:`` and the police id, else the
    file's stem and the row number.

    `when` is (months, dates); a table whose content is not police.uk's keeps its own
    name as the source, and its points are its coordinates, not snap points."""
    months, dates = when
    empty = pd.Series("", index=table.index, dtype="string")
    numbers = pd.Series(np.arange(len(table)) + first_row, index=table.index)
    if layout == STREET:
        police_id = text.get("crime_id", empty)
        source_id = police_id
        place = text.get("location", empty)
    else:
        police_id = text["persistent_id"].where(text["persistent_id"] != "", text.get("id", empty))
        source_id = text.get("id", empty)
        place = text["street"]
    prefix = "police.uk" if derived else stem
    base = f"{prefix}:" + police_id
    blank = (police_id == "").to_numpy()
    if blank.any():
        base[blank] = f"{prefix}:{stem}:" + numbers[blank].astype("string")
    frame = pd.DataFrame({
        "incident_id": base,
        "date": dates,
        "month": months,
        "type": _blank_to_na(text["type"]),
        "severity": pd.NA,
        "description": _blank_to_na(text.get("context", empty)),
        "location_description": _blank_to_na(place),
        "outcome": _blank_to_na(text.get("outcome", empty)),
        "source": SOURCE if derived else stem,
        "source_id": _blank_to_na(source_id),
        "source_file": "",
        "source_row": numbers,
        "location_source": LOCATION_SOURCE if derived else "coordinates",
    }, index=table.index)[keep]
    return frame, base


def _ids(frame: pd.DataFrame, base: pd.Series, keep: np.ndarray, *, file: str, id_name: str,
         source: str, location_source: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Each kept row's incident id from the whole file's base ids, and a warning about
    repeated police ids (flagged in ``duplicate_of``)."""
    frame["source_file"] = file
    frame["source"] = source
    frame["location_source"] = location_source
    # police.uk repeats some ids (388 City of London crimes appear 2-4 times in one month,
    # mostly at different snap points): every row stays, each with an id of its own
    incident_id = base.copy()
    repeated = base.duplicated(keep=False).to_numpy()
    if repeated.any():
        some = base[repeated]
        repeat = some.groupby(some.to_numpy()).cumcount()
        incident_id[repeated] = some.where(repeat == 0, some + ":" + (repeat + 1).astype("string"))
    frame["incident_id"] = incident_id[keep]
    kept_base = base[keep]
    again = kept_base.duplicated(keep="first").to_numpy()
    if not again.any():
        return frame, []
    groups = kept_base.to_numpy()
    first_id = frame["incident_id"].groupby(groups).transform("first")
    first_row = frame["source_row"].groupby(groups).transform("first").astype("string")
    frame["duplicate_of"] = first_id.where(again, pd.NA)
    frame["duplicate_reason"] = (f"same police.uk {id_name} as row " + first_row).where(again,
                                                                                     pd.NA)
    ids = kept_base[again].nunique()
    note = Problem(file, f"{int(again.sum()):,} rows repeat a police.uk {id_name} seen earlier "
                   f"in the file ({ids:,} ids): kept as incidents of their own and flagged "
                   "in duplicate_of", severity="warning")
    return frame, [note]


__all__ = ["detect", "read", "NO_LOCATION", "SNAP_POINTS", "LOCATION_SOURCE", "ATTRIBUTION"]
