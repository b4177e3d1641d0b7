"""Point files in the layouts people keep: spreadsheets (CSV, .xlsx, .ods), GeoJSON,
GeoPackage or Shapefile with latitude/longitude, eastings/northings, only a postcode
(geocoded through the workspace's postcode centroids), or their own point, line or polygon
geometry.

Known layouts (Give Food, Mutual Aid Wiki, warm spaces, Arts Council libraries ...) are
data, in ``mapper/mappings/layouts.json``; any other file with a name (or type) column and
a location is read by meaning (:mod:`mapper.sources.columns`: headers and content); which
register (groups, premises or incidents) and which categories its records have is decided
from evidence (:mod:`mapper.sources.evidence`) and what the user said (``mapper import
FILE --as premises --map name=COLUMN --category library``, :mod:`mapper.sources.choices`).
:func:`explain` gives what was understood, for people.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from mapper import registers
from mapper.errors import Problem
from mapper.postcodes import normalise_postcodes
from mapper.sources import capabilities, columns, evidence, organisations, status
from mapper.sources.base import Context, Detection, Imported
from mapper.sources.choices import Choice, resolve_columns
from mapper.sources.files import TABLE_SUFFIXES, Peek, read_table, read_vector, table_row
from mapper.sources.points import locate, settle

LAYOUTS_FILE = registers.MAPPINGS_DIR / "layouts.json"

#: header spellings per field, now kept with the rest of column understanding
GENERIC_SYNONYMS = columns.SYNONYMS


_norm = columns.normalise


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


def understand(peek: Peek) -> columns.Understanding:
    """What the columns of a point table mean, for the generic reader."""
    return columns.understand(peek.columns, peek.head, geometry_type=peek.geometry_type)


def for_register(found: columns.Understanding, register: str) -> columns.Understanding:
    """The understanding narrowed to one register's columns, type and category crossed
    over (a groups file's type is its category; a premises file's category its type)."""
    keep = set(registers.REGISTER_COLUMNS[register]) | set(columns.LOCATION_FIELDS) | {
        "source_id", "source", "contact",
    }
    key = "category" if register == "groups" else "type"
    other = "type" if key == "category" else "category"
    if register != "incidents" and key not in found.fields and other in found.fields:
        moved = found.fields.pop(other)
        found.choose(key, moved.column, f"{moved.reason}; read as the {key}")
    for name in [f for f in found.fields if f not in keep]:
        found.drop(name, f"understood as {name}, which the {register} register does not hold")
    return found


def detect(peek: Peek, choice: Choice | None = None) -> Detection | None:
    """A table or vector file of points: a known layout, or a name column and a location.

    `choice` is what the user said about a generic table (``--as``, ``--map``,
    ``--category``, or a saved mapping); which register and category the table holds is
    decided from it and the evidence (:mod:`mapper.sources.evidence`).
    """
    key = _match_layout(peek.columns)
    if key is not None and not choice:
        layout = load_layouts()[key]
        return Detection(
            kind=layout["register"],
            vintage=_vintage_hint(peek),
            detail=f"{layout['label']} ({layout['register']})",
            rows=peek.rows,
            reader=read,
            extra={"layout": key},
        )
    whole = understand(peek)
    choice = choice or Choice()
    said = resolve_columns(choice, peek.columns, file=peek.name)
    for name, column in said.items():
        whole.choose(name, column, "as you said (--map)")
    if said:  # placed by the columns the user named
        whole.location = columns._location(whole, peek.geometry_type)
    if not whole.location or not ({"name", "type"} & whole.fields.keys()):
        return None
    decision = evidence.decide(file=peek.name, columns=peek.columns, fields=whole.mapping(),
                               head=peek.head, title=peek.title, register=choice.register,
                               category=choice.category)
    register = decision.register or ""
    found = for_register(copy.deepcopy(whole), register) if register else whole
    return Detection(
        kind=register,
        vintage=_vintage_hint(peek),
        detail=f"a table of {register} located by {found.location}",
        rows=peek.rows,
        reader=read,
        columns=found.mapping(),
        extra={"layout": None, "understanding": found, "understood": whole,
               "register_reason": decision.why, "decision": decision,
               "question": decision.question, "choice": choice, "headers": list(peek.columns)},
    )


def explain(detection: Detection) -> list[str]:
    """What a point file was understood to hold, one line each. A file read by meaning:
    the register and why, then every column; a known layout (here or in another source
    module): the columns its layout names. Empty for files that are not point registers."""
    found = detection.extra.get("understanding")
    if found is not None:
        why = detection.extra.get("register_reason", "")
        decision = detection.extra.get("decision")
        said = decision.reasons[1:] if decision is not None else []
        return [f"register: {detection.kind}" + (f" ({why})" if why else ""), *said,
                *found.lines()]
    if detection.kind not in registers.REGISTERS:
        return []
    key = detection.extra.get("layout")
    if key in load_layouts():
        layout = load_layouts()[key]
        named = {**layout["fields"], **{f"location {k}": v for k, v in layout["location"].items()}}
        source = f"known layout '{key}' (mapper/mappings/{LAYOUTS_FILE.name})"
    else:
        named, source = detection.columns, detection.detail
    return [f"layout: {source}", *(f"{field} <- '{column}'" for field, column in named.items())]


def _vintage_hint(peek: Peek) -> str:
    from mapper.sources.base import year_in_name

    return year_in_name(peek.path) or "undated"


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


def _contact_list_fields(df: pd.DataFrame, *, file: str, column) -> list[Problem]:
    """Contact role and emergency consent read into their vocabularies
    (:data:`registers.CONTACT_ROLES`, yes/no); a value not understood is left out of the
    record, which is kept, and reported by row (never the value: the fields are personal
    data)."""
    notes: list[Problem] = []
    if "contact_role" in df:
        read = [registers.contact_roles(v) for v in df["contact_role"].astype("object")]
        df["contact_role"] = pd.Series([r for r, _ in read], index=df.index, dtype="object")
        bad = [p for p, (_, unknown) in enumerate(read) if unknown]
        if bad:
            notes.append(Problem(
                file, f"{_row_list(bad)}: a contact role not understood was left out "
                "(expected one or more of " + ", ".join(registers.CONTACT_ROLES) + ")",
                column=column("contact_role"), severity="warning"))
    if "emergency_consent" in df:
        answers, bad = [], []
        for p, value in enumerate(df["emergency_consent"].astype("object")):
            try:
                answers.append(registers.consent_answer(value))
            except ValueError:
                answers.append(None)
                bad.append(p)
        df["emergency_consent"] = pd.Series(answers, index=df.index, dtype="object")
        if bad:
            notes.append(Problem(
                file, f"{_row_list(bad)}: an emergency consent not understood was left as "
                "not recorded (expected yes or no)", column=column("emergency_consent"),
                severity="warning"))
    return notes


def _row_list(positions: list[int], shown: int = 5) -> str:
    """'rows 3, 7 and 2 more' for positions in a table (row numbers as a spreadsheet's)."""
    rows = [f"{table_row(p):,}" for p in positions[:shown]]
    more = len(positions) - shown
    noun = "row" if len(positions) == 1 else "rows"
    return f"{noun} {', '.join(rows)}" + (f" and {more:,} more" if more > 0 else "")


def _split_contact(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = values.astype("string").fillna("")
    email = text.str.extract(f"({columns.EMAIL_IN_TEXT.pattern})", expand=False)
    phone = text.str.extract(f"({columns.PHONE_IN_TEXT.pattern})", expand=False).str.strip()
    return email.astype("object"), phone.astype("object")


def read(path: Path, detection: Detection, context: Context) -> Imported:
    file = path.name
    register = detection.kind
    layout_key = detection.extra.get("layout")
    layout = load_layouts()[layout_key] if layout_key else None
    if path.suffix.lower() in TABLE_SUFFIXES:
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
    understood = detection.extra.get("understanding")
    if understood is not None and "address" in understood.fields:
        df["address"] = _joined(table, understood.fields["address"])
    source_name = layout["source"] if layout else path.stem
    _state_from_evidence(df, table, register=register, rule_source=layout_key or "generic",
                         source=source_name, offer_column=column("emergency_offer"),
                         context=context)
    if layout and column("source_detail"):
        df["source"] = source_name + " (" + table[column("source_detail")].astype(str) + ")"
    elif "source" in df:
        df["source"] = df["source"].fillna(source_name)
    else:
        df["source"] = source_name
    problems += _typed(df, register, file=file, column=column)
    if column("contact"):
        email, phone = _split_contact(table[column("contact")])
        for name, found in (("email", email), ("phone", phone)):  # own columns win
            own = df[name].astype("object") if name in df else pd.Series(pd.NA, index=df.index)
            df[name] = own.where(own.notna(), found)
    if "postcode" in df:
        df["postcode"] = normalise_postcodes(df["postcode"].fillna("")).astype("object")
    if "last_verified" in df:
        df["last_verified"], bad = _dates(
            df["last_verified"], file=file, column=column("last_verified")
        )
        problems += bad
    if "consent_confirmed" in df:
        df["consent_confirmed"], bad = _dates(
            df["consent_confirmed"], file=file, column=column("consent_confirmed")
        )
        problems += bad
    notes += _contact_list_fields(df, file=file, column=column)
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
        if layout and key == "category":
            df[key] = registers.map_categories(
                pd.Series("", index=df.index), source=layout_key, field="*", register=register
            )
        else:  # a generic table: by evidence (mapper/sources/evidence.py)
            other = column("type" if key == "category" else "category")
            values = column(key) or other
            df[key] = evidence.categorise(
                table[values] if values else None,
                detection.extra.get("decision") or evidence.Decision(register),
                register, file=file, index=df.index, field=key, notes=notes,
            )
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
    areas: list[Problem] = []  # area-sized polygons: not organisations, left out by rule
    if geometry is not None:  # a vector file's own geometry wins over its columns
        located = _from_geometry(geometry, file=file, notes=notes, areas=areas)
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
    invalid = {p.row for p in rejected}
    rejected += [p for p in areas if p.row not in invalid]
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
        extra={"understanding": understood, "understood_lines": explain(detection)},
    )


def _state_from_evidence(df: pd.DataFrame, table: pd.DataFrame, *, register: str,
                         rule_source: str, source: str, offer_column: str | None,
                         context: Context) -> None:
    """Status and capabilities of every row from the file's own fields (never a constant
    for the whole file): see mapper/sources/status.py and capabilities.py."""
    df["status"], df["status_source"] = status.from_table(table, source=source)
    if "emergency_offer" not in registers.REGISTER_COLUMNS[register]:
        return
    if offer_column is not None and "emergency_offer" in df:  # the file says what it offers
        given = df["emergency_offer"].notna()
        df["offer_source"] = pd.Series(f"from {source} ({offer_column})", index=df.index,
                                       dtype=object).where(given, pd.NA)
        return
    rules = context.capability_rules or capabilities.RULES_FILE
    df["emergency_offer"], df["offer_source"] = capabilities.from_table(
        table, rule_source=rule_source, source=source, rules=rules)


def _joined(table: pd.DataFrame, choice: columns.Choice) -> pd.Series:
    """An address from its lines, the blank ones left out."""
    text = table[choice.column].astype("string").fillna("").str.strip()
    for col in choice.also:
        line = table[col].astype("string").fillna("").str.strip()
        text = text.where(line == "", text.where(text == "", text + ", ") + line)
    return text.replace("", pd.NA).astype("object")


#: shapely type ids: polygons and lines are placed at a point on them
_AREAL = (3, 6)  # Polygon, MultiPolygon
_LINEAR = (1, 2, 5)  # LineString, LinearRing, MultiLineString


def _from_geometry(vector, *, file: str, notes: list[Problem], areas: list[Problem]):
    """Locate rows of a vector file by its own geometry: polygons at a representative point
    inside them, lines at a point on them (each counted in a warning). Area-sized polygons
    (:func:`mapper.sources.organisations.area_sized`) are not placed: each is added to
    `areas` with its reason."""
    import shapely

    from mapper import geo
    from mapper.sources.points import Located

    frame, crs_notes = geo.to_analysis(vector, file=file)
    notes += crs_notes
    geoms = frame.geometry.array
    empty = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = np.asarray(shapely.get_type_id(geoms))
    areal = np.isin(kinds, _AREAL) & ~empty
    linear = np.isin(kinds, _LINEAR) & ~empty
    too_big = areal & organisations.area_sized(geoms)
    areas += [organisations.area_sized_problem(file, int(p) + 1, geoms[p])
              for p in np.flatnonzero(too_big)]
    areal &= ~too_big
    points = np.where(areal | linear, shapely.point_on_surface(geoms), geoms)
    bad = (empty | ~np.isin(np.asarray(shapely.get_type_id(points)), [0])) & ~too_big
    # a coordinate that is NaN or infinite is no location (not one outside the area)
    safe = np.where(bad | too_big, None, points)
    finite = np.isfinite(shapely.get_x(safe)) & np.isfinite(shapely.get_y(safe))
    unplaced = ~bad & ~too_big & ~finite
    problems = [
        Problem(
            file,
            "empty or non-point geometry; expected a point, line or polygon",
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
    for mask, what, where in ((areal, "polygon", "a representative point inside them"),
                              (linear, "line", "a point on the line")):
        if mask.any():
            notes.append(Problem(
                file, f"{int(mask.sum())} {what} features placed at {where}", severity="warning"
            ))
    series = frame.geometry.copy()
    series[:] = points
    series[bad | too_big] = None
    how = np.where(bad | too_big, "", "coordinates")
    return Located(series, pd.Series(how, index=frame.index), problems)


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
