"""English Indices of Deprivation at LSOA level, in any layout MHCLG publishes or analysts
save: File 7 (all scores, ranks, deciles and denominators), File 1 (IMD rank and
decile), File 2 (domain ranks and deciles), Files 3-5 (supplementary indices,
sub-domains, scores), File 6 (population denominators), subsets and renamed extracts
(``lsoa11cd``, ``imd_score``), and ONS's IMD lookup (``LSOA11CD, ..., IMD19``), for
IoD2019 (2011 LSOAs) and IoD2025 (2021 LSOAs).

Columns are recognised by meaning, from the words of their headers (case, punctuation,
dots and camel case ignored): an LSOA code column (by its header, else by its content),
and any column naming a domain (``index of multiple deprivation``/``imd``, ``income``,
``idaci`` ...) and a measure (``score``, ``rank``, ``decile``), or a population
denominator. A domain column without a measure word (ONS's ``IMD19``) is read from its
values (whole numbers up to 10: deciles; larger whole numbers: ranks; else scores) and
the assumption is stated. Every file says what was understood (:func:`describe`).

Canonical columns: ``lsoa_code``, ``lsoa_name``, ``lad_code``, ``lad_name``, then
``<domain>_score``, ``<domain>_rank``, ``<domain>_decile`` for the domains in
:data:`DOMAINS` present in the file, then the denominators in :data:`DENOMINATORS`
present. Ranks are national (1 = most deprived); deciles 1 = most deprived 10 %.

Several files of one release (File 1 + File 2 + File 6) are combined on the LSOA code
(:func:`combine`); a column given by two files must agree. Area-level summaries (ward or
district tables such as File 10's "Rank of average rank") are refused with that reason
(:func:`refusal`): the tool computes area summaries itself from LSOA figures.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd

from mapper.errors import DataValidationError, Problem
from mapper.sources import codes
from mapper.sources.base import (
    OGL,
    OGL_ATTRIBUTION,
    Context,
    Detection,
    Imported,
    check_codes,
    parse_numbers,
    year_in_name,
)
from mapper.sources.files import VECTOR_SUFFIXES, Peek, peek, read_table, read_vector

#: canonical domain -> (label for people, phrases naming it in a header). Order matters:
#: the more specific names first ("income deprivation affecting children" is IDACI).
DOMAINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "idaci": ("IDACI", ("idaci", "affecting children")),
    "idaopi": ("IDAOPI", ("idaopi", "affecting older")),
    "children_young_people": ("Children and Young People", ("children and young people",
                                                            "children young people", "cyp")),
    "adult_skills": ("Adult Skills", ("adult skills",)),
    "geographical_barriers": ("Geographical Barriers", ("geographical barriers",)),
    "wider_barriers": ("Wider Barriers", ("wider barriers",)),
    "indoors": ("Indoors", ("indoors",)),
    "outdoors": ("Outdoors", ("outdoors",)),
    "imd": ("IMD", ("index of multiple deprivation", "imd")),
    "income": ("Income", ("income",)),
    "employment": ("Employment", ("employment",)),
    "education": ("Education", ("education",)),
    "health": ("Health", ("health",)),
    "crime": ("Crime", ("crime",)),
    "barriers": ("Barriers", ("barriers",)),
    "living_environment": ("Living Environment", ("living environment", "living env")),
}
#: the short forms of ONS's IMD 2019 layer (``IncScore``, ``HDDRank``, ``EnvDec``), read
#: only in compact headers (no spaces), where they cannot be ordinary words
SHORT_DOMAINS: dict[str, str] = {
    "idc": "idaci", "ido": "idaopi", "as": "adult_skills", "gb": "geographical_barriers",
    "wb": "wider_barriers", "ind": "indoors", "out": "outdoors", "inc": "income",
    "emp": "employment", "edu": "education", "hdd": "health", "cri": "crime",
    "bhs": "barriers", "env": "living_environment",
}
MEASURES = ("score", "rank", "decile")
#: the order of File 7's columns, for people
DISPLAY_ORDER = ("imd", "income", "employment", "education", "health", "crime", "barriers",
                 "living_environment", "idaci", "idaopi", "children_young_people",
                 "adult_skills", "geographical_barriers", "wider_barriers", "indoors",
                 "outdoors")

#: canonical denominator -> (label, phrases); checked in this order, the total last
DENOMINATORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pop_children_0_15": ("children 0-15", ("dependent children", "children aged 0 15",
                                            "aged 0 15", "0 15", "dep chi")),
    "pop_older_60_plus": ("aged 60+", ("60 and over", "aged 60", "60 plus", "older population",
                                       "pop 60")),
    "pop_working_age": ("working age", ("working age", "work pop")),
    "pop_16_59": ("aged 16-59", ("16 59",)),
    "pop_total": ("total", ("total population", "population total", "pop total", "tot pop",
                            "population", "all ages", "persons")),
}

POPULATION_ORDER = ("pop_total", "pop_children_0_15", "pop_16_59", "pop_older_60_plus",
                    "pop_working_age")

#: LSOA vintage -> (IoD release, LSOAs ranked nationally: ranks run 1..N)
RELEASES: dict[str, tuple[str, int]] = {"2011": ("IoD2019", 32_844), "2021": ("IoD2025", 33_755)}
NATIONAL_LSOAS: dict[str, int] = dict(RELEASES.values())
_RELEASE_YEAR = {"2019": "2011", "19": "2011", "2025": "2021", "25": "2021"}

#: words of area-level summary measures (MHCLG File 10, ward summaries): never LSOA data
SUMMARY_WORDS = ("average", "extent", "concentration", "proportion", "scale", "rank of")

#: ``LADcd``, ``LADnm``: a lower-case code/name suffix after capitals
_CODE_SUFFIX = re.compile(r"(?<=[A-Z])(cd|nm)$")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})|(?<=[A-Za-z])(?=\d)"
                    r"|(?<=\d)(?=[A-Za-z])")


def header_words(header: str) -> str:
    """A header as lower-case words separated by single spaces: case, punctuation, dots,
    underscores, camel case and letter-digit joins ignored.

    >>> header_words("LSOA11CD"), header_words("Index.of.Multiple.Deprivation..IMD..Score")
    ('lsoa 11 cd', 'index of multiple deprivation imd score')
    """
    text = _CAMEL.sub(" ", _CODE_SUFFIX.sub(r" \1", str(header).replace("\ufeff", "")))
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _has(words: str, phrase: str) -> bool:
    return f" {phrase} " in f" {words} "


def _first(table: dict[str, tuple[str, tuple[str, ...]]], words: str) -> str | None:
    return next((name for name, (_, phrases) in table.items()
                 if any(_has(words, p) for p in phrases)), None)


def _key_role(words: str) -> str | None:
    """lsoa_code / lsoa_name / lad_code / lad_name from a header's words."""
    is_code = _has(words, "code") or _has(words, "cd")
    is_name = _has(words, "name") or _has(words, "nm")
    if _has(words, "lsoa"):
        area = "lsoa"
    elif any(_has(words, w) for w in ("local authority district", "local authority", "lad",
                                      "ltla", "la", "district")):
        area = "lad"
    else:
        return None
    if is_code:
        return f"{area}_code"
    return f"{area}_name" if is_name else None


def _bare(words: str, domain: str) -> bool:
    """True when a header is only the domain's name and perhaps a year (``IMD19``)."""
    rest = f" {words} "
    for phrase in DOMAINS[domain][1]:
        rest = rest.replace(f" {phrase} ", " ")
    return all(token.isdigit() for token in rest.split())


def _role(header: str) -> tuple[str | None, str]:
    """(canonical column, or None; what it is / why it was left out) for one header."""
    words = header_words(header)
    key = _key_role(words)
    if key:
        return key, key.replace("_", " ")
    measure = next((m for m in MEASURES if _has(words, m)), None)
    domain = _first(DOMAINS, words)
    if not re.search(r"\s", header.strip()):  # a compact field name: IncDec, IMDDec0
        measure = measure or ("decile" if _has(words, "dec") else None)
        domain = domain or next((SHORT_DOMAINS[t] for t in words.split()
                                 if t in SHORT_DOMAINS), None)
    if domain and any(_has(words, w) for w in SUMMARY_WORDS):
        return None, "an area-level summary measure"
    if domain and measure:
        return f"{domain}_{measure}", f"{DOMAINS[domain][0]} {measure}"
    if domain and _bare(words, domain):
        return f"{domain}_?", f"{DOMAINS[domain][0]} (score, rank or decile read from the values)"
    denominator = _first(DENOMINATORS, words)
    if denominator:
        return denominator, f"population {DENOMINATORS[denominator][0]}"
    return None, "not an IoD column"


def map_columns(columns: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(canonical column -> header, header -> why it was left out). The first header of
    each meaning is used; later ones are left out as repeats."""
    found: dict[str, str] = {}
    ignored: dict[str, str] = {}
    for col in columns:
        role, what = _role(col)
        if role is None:
            ignored[col] = what
        elif role in found:
            ignored[col] = f"a second {what} column (used '{found[role]}')"
        else:
            found[role] = col
    return found, ignored


def _measure_from_values(values: pd.Series) -> tuple[str, str]:
    """(score/rank/decile, why) for a domain column whose header names no measure."""
    numbers = pd.to_numeric(values.astype("string").str.replace(",", "", regex=False)
                            .str.strip(), errors="coerce").dropna()
    if numbers.empty or (numbers % 1 != 0).any() or (numbers < 1).any():
        return "score", "values are not all whole numbers from 1"
    if numbers.max() <= 10:
        return "decile", "whole numbers from 1 to 10"
    # not the range: the build plan sees a sample of rows and the import all of them
    return "rank", "whole numbers of 1 or more, some above 10 (so not deciles)"


def _resolve(found: dict[str, str], table: pd.DataFrame, notes: list[str]) -> dict[str, str]:
    """Give domain columns without a measure word their measure, from their values."""
    out = {k: v for k, v in found.items() if not k.endswith("_?")}
    for key, col in found.items():
        if not key.endswith("_?"):
            continue
        measure, why = _measure_from_values(table[col])
        canonical = key[:-1] + measure
        if canonical in out:
            notes.append(f"'{col}' left out: read as {canonical} ({why}), given already by "
                         f"'{out[canonical]}'")
            continue
        out[canonical] = col
        notes.append(f"'{col}' read as the {DOMAINS[key[:-2]][0]} {measure} ({why}; its "
                     "header says no score, rank or decile: rename it if that is wrong)")
    return out


def _lsoa_by_content(head: pd.DataFrame) -> str | None:
    for col in head.columns:
        if codes.dominant_kind(head[col], share=0.9) == "lsoa":
            return col
    return None


def _release(found: dict[str, str], peek: Peek) -> tuple[str, str, str]:
    """(LSOA vintage, release, how it was known) from the LSOA header, the IoD columns'
    years (``IMD19``), else a year in the file name; ('unknown', ...) otherwise."""
    header = found.get("lsoa_code", "")
    year = codes.bracketed_year(header) or codes.column_vintage(header)[1]
    if year in RELEASES:
        return year, RELEASES[year][0], f"LSOA column '{header}'"
    for key, col in found.items():
        if key.startswith("imd_"):
            for token in header_words(col).split():
                if token in _RELEASE_YEAR:
                    lsoa = _RELEASE_YEAR[token]
                    return lsoa, RELEASES[lsoa][0], f"column '{col}'"
    named = year_in_name(peek.path) if peek.path is not None else None
    if named in _RELEASE_YEAR:
        lsoa = _RELEASE_YEAR[named]
        return lsoa, RELEASES[lsoa][0], f"the year {named} in the file name (assumed)"
    return "unknown", "IoD (release unknown)", "nothing in the file"


def _has_measures(found: dict[str, str]) -> bool:
    return any(k.rsplit("_", 1)[0] in DOMAINS for k in found)


def _is_file6(found: dict[str, str]) -> bool:
    """IoD population denominators (File 6): at least two of the age groups."""
    return sum(k in found for k in DENOMINATORS if k != "pop_total") >= 2


def detect(peek: Peek) -> Detection | None:
    """A table of LSOA codes with IoD scores, ranks or deciles, or IoD denominators."""
    if peek.format != "table":
        return None
    found, ignored = map_columns(peek.columns)
    if "lsoa_code" not in found:
        by_content = _lsoa_by_content(peek.head)
        if by_content is None:
            return None
        found["lsoa_code"] = by_content
        ignored.pop(by_content, None)
    elif codes.dominant_kind(peek.head[found["lsoa_code"]], share=0.9) != "lsoa":
        return None
    if not (_has_measures(found) or _is_file6(found)):
        return None
    if not peek.head[found["lsoa_code"]].is_unique:
        return None  # many rows per LSOA: postcodes or incidents that carry an IMD column
    notes: list[str] = []
    found = _resolve(found, peek.head, notes)
    if (peek.encoding or "").startswith("sheet "):
        notes.append(f"read the {peek.encoding}, the largest of the workbook")
    lsoa_year, release, how = _release(found, peek)
    detection = Detection(
        kind="deprivation",
        vintage=f"{release} / LSOA {lsoa_year}",
        detail="",
        rows=None,
        reader=read,
        columns=found,
        extra={"release": release, "lsoa_vintage": lsoa_year, "release_from": how,
               "column_notes": column_notes(ignored) + notes},
    )
    detection.detail = (f"English Indices of Deprivation {release.removeprefix('IoD')} by LSOA "
                        f"({lsoa_year} LSOAs; release from {how}): {describe(found)}")
    return detection


ATTRIBUTES_NOTE = " (the attribute table of an LSOA boundary file)"


def detect_attributes(path) -> Detection | None:
    """IoD figures in the attribute table of an LSOA boundary file (ONS's IMD 2019 layer
    as a shapefile or GeoJSON), read as a deprivation file besides the boundaries."""
    seen = peek(path)
    if seen.format != "vector":
        return None
    found = detect(replace(seen, format="table"))
    if found is not None:
        found.path, found.rows = path, seen.rows
        found.detail += ATTRIBUTES_NOTE
    return found


def _read_any(path) -> tuple[pd.DataFrame, str]:
    """A table, or the attribute table of a vector file, as text cells."""
    if path.suffix.lower() not in VECTOR_SUFFIXES or peek(path).format != "vector":
        return read_table(path)
    attributes = read_vector(path)
    attributes = pd.DataFrame(attributes.drop(columns=attributes.geometry.name))
    return attributes.astype("string").fillna(""), "utf-8"


def describe(found: dict[str, str] | list[str]) -> str:
    """What a file (or combined files) holds, in a line for people:
    'IMD rank, decile; Income, Employment rank, decile; population total, children 0-15'."""
    keys = set(found)
    by_measures: dict[tuple[str, ...], list[str]] = {}
    for domain in DISPLAY_ORDER:
        label = DOMAINS[domain][0]
        have = tuple(m for m in MEASURES if f"{domain}_{m}" in keys)
        if have:
            by_measures.setdefault(have, []).append(label)
    parts = [f"{', '.join(labels)} {', '.join(measures)}"
             for measures, labels in by_measures.items()]
    pops = [DENOMINATORS[name][0] for name in POPULATION_ORDER if name in keys]
    if pops:
        parts.append("population " + ", ".join(pops))
    return "; ".join(parts) or "no IoD figures"


def refusal(peek: Peek) -> str | None:
    """Why a table that looks like IoD data cannot be used, or None.

    Area-level summaries (ward, district, MSOA or region rows with IoD measures, such as
    MHCLG's File 10 with "Rank of average rank"), and File 8 (underlying indicators)."""
    if peek.format != "table":
        return None
    words = [header_words(c) for c in peek.columns]
    iod = [c for c, w in zip(peek.columns, words, strict=True)
           if _first(DOMAINS, w) and (any(_has(w, m) for m in MEASURES)
                                      or any(_has(w, s) for s in SUMMARY_WORDS))]
    indicators = any(_has(w, "indicator") for w in words)
    if not (iod or indicators):
        return None
    if _lsoa_by_content(peek.head) is not None:
        if indicators and not _has_measures(map_columns(peek.columns)[0]):
            return ("IoD underlying indicators (File 8): not used; the tool reads the IoD "
                    "scores, ranks, deciles and population denominators (Files 1-7)")
        return None
    if not iod:
        return None
    for kind in ("oa", "msoa", "ward", "lad", "region"):
        col = next((c for c in peek.columns
                    if codes.dominant_kind(peek.head[c], share=0.9) == kind), None)
        if col is None:
            continue
        example = peek.head[col].astype("string").str.strip().dropna().iloc[0]
        shown = ", ".join(f"'{c}'" for c in iod[:3])
        return (f"an area-level summary of the Indices of Deprivation, not LSOA figures: "
                f"its rows are {codes.KIND_LABEL[kind]} areas (column '{col}', e.g. "
                f"{example}) with measures such as {shown}. Ranks and scores of areas "
                "cannot be turned back into LSOA figures; use the LSOA-level IoD files "
                "(File 7, or Files 1, 2, 5, 6) and the tool computes ward and district "
                "summaries itself")
    return None


def _whole(values: pd.Series) -> pd.Series:
    """Ranks and deciles as nullable integers (bad values were reported already)."""
    ok = values.where(values.notna() & (values % 1 == 0))
    return ok.astype("Int64")


def _limits(measure: str, release: str) -> dict:
    most = NATIONAL_LSOAS.get(release, max(NATIONAL_LSOAS.values()))
    return {"score": {},
            "rank": {"low": 1, "high": most, "integer": True},
            "decile": {"low": 1, "high": 10, "integer": True}}[measure]


def read(path, detection: Detection, context: Context) -> Imported:
    """Read, check and normalise one IoD file (every problem reported at once)."""
    if "parts" in detection.extra:
        return _read_combined(detection, context)
    file = path.name
    table, encoding = _read_any(path)
    found, ignored = map_columns(list(table.columns))
    if "lsoa_code" not in found:
        found["lsoa_code"] = detection.columns["lsoa_code"]
        ignored.pop(found["lsoa_code"], None)
    notes: list[str] = []
    found = _resolve(found, table, notes)
    release = detection.extra.get("release", "")
    lsoa_col = found["lsoa_code"]
    problems = check_codes(table[lsoa_col], file=file, column=lsoa_col, kind="lsoa")
    out = pd.DataFrame({"lsoa_code": table[lsoa_col].astype("string").str.strip()})
    for name in ("lsoa_name", "lad_code", "lad_name"):
        out[name] = table[found[name]].astype("string").str.strip() if name in found else pd.NA
    for domain in DISPLAY_ORDER:
        for measure in MEASURES:
            col = found.get(f"{domain}_{measure}")
            if col:
                values, bad = parse_numbers(table[col], file=file, column=col,
                                            **_limits(measure, release))
                problems += bad
                out[f"{domain}_{measure}"] = values if measure == "score" else _whole(values)
    for name in POPULATION_ORDER:
        if name in found:
            values, bad = parse_numbers(table[found[name]], file=file, column=found[name], low=0)
            problems += bad
            out[name] = values
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(problems)
    warnings = [Problem(file, note, severity="warning") for note in notes]
    if detection.extra.get("release_from", "").endswith("(assumed)") or release.endswith(
            "unknown)"):
        warnings.append(Problem(file, f"release {release} taken from "
                                f"{detection.extra.get('release_from')}; name the LSOA column "
                                "with its year (LSOA11CD, LSOA21CD) to say which",
                                severity="warning"))
    if encoding == "cp1252":
        warnings.append(Problem(file, "read as Windows-1252 text (not UTF-8)", severity="warning"))
    if encoding.startswith("sheet "):
        notes.append(f"read the {encoding}, the largest of the workbook")
    return _imported(out, detection, rows_read=len(table), warnings=warnings,
                     detail=f"IoD by LSOA: {describe(list(out.columns))}",
                     column_notes=column_notes(ignored) + notes)


def _imported(frame: pd.DataFrame, detection: Detection, *, rows_read: int, detail: str,
              warnings: list[Problem], **extra) -> Imported:
    return Imported(kind="deprivation", frame=frame, vintage=detection.vintage, detail=detail,
                    rows_read=rows_read, licence=OGL, attribution=ATTRIBUTION,
                    warnings=warnings, extra={**detection.extra, **extra})


ATTRIBUTION = (f"English Indices of Deprivation, Ministry of Housing, Communities and Local "
               f"Government. {OGL_ATTRIBUTION}")


def column_notes(ignored: dict[str, str]) -> list[str]:
    """The headers left out, and why (the columns used are summed up by :func:`describe`)."""
    return [f"'{col}' left out: {why}" for col, why in ignored.items()]


# -- several files of one release -------------------------------------------------------


def combine(detections: list[Detection]) -> Detection:
    """One detection reading several IoD files of the same release together, joined on
    the LSOA code (File 1 + File 2 + File 6, or File 5 + File 2 ...)."""
    if len(detections) == 1:
        return detections[0]
    releases = {d.extra["release"] for d in detections}
    if len(releases) > 1:
        raise ValueError(f"cannot combine IoD releases {sorted(releases)}")
    first = detections[0]
    keys: list[str] = []
    for det in detections:
        keys += [k for k in det.columns if k not in keys]
    return replace(
        first,
        detail=f"English Indices of Deprivation {first.extra['release'].removeprefix('IoD')} "
        f"by LSOA, {len(detections)} files combined on the LSOA code: {describe(keys)}",
        rows=max(d.rows or 0 for d in detections) or None,
        columns={},
        extra={**first.extra, "parts": detections},
    )


def _read_combined(detection: Detection, context: Context) -> Imported:
    parts: list[Detection] = detection.extra["parts"]
    problems: list[Problem] = []
    read_parts: list[Imported] = []
    for det in parts:
        try:
            read_parts.append(read(det.file_path, det, context))
        except DataValidationError as exc:
            problems += exc.problems
    if problems:
        raise DataValidationError(problems)
    frame = read_parts[0].frame
    names = [parts[0].file_path.name]
    for det, imp in zip(parts[1:], read_parts[1:], strict=True):
        frame, disagree = _join(frame, imp.frame, names, det.file_path.name)
        problems += disagree
        names.append(det.file_path.name)
    if problems:
        raise DataValidationError(problems)
    frame = frame[canonical_order(frame.columns)]
    warnings = [w for imp in read_parts for w in imp.warnings]
    sizes = {p.file_path.name: len(i.frame) for p, i in zip(parts, read_parts, strict=True)}
    if len(set(sizes.values())) > 1 or len(frame) != max(sizes.values()):
        counts = ", ".join(f"{n}: {k:,}" for n, k in sizes.items())
        warnings.append(Problem(" + ".join(names), f"the files cover different LSOAs ({counts}; "
                                f"{len(frame):,} together); figures a file lacks are blank "
                                "for its missing LSOAs", severity="warning"))
    pairs = list(zip(parts, read_parts, strict=True))
    return _imported(
        frame, detection, rows_read=len(frame), warnings=warnings,
        detail=f"IoD by LSOA, {len(parts)} files combined: {describe(list(frame.columns))}",
        part_files=[(p.path, i.rows_read, len(i.frame), i.detail) for p, i in pairs],
        column_notes=[f"{p.file_path.name}: {line}" for p, i in pairs
                      for line in i.extra["column_notes"]])


def canonical_order(columns) -> list[str]:
    """Canonical deprivation columns in the order of File 7."""
    order = ["lsoa_code", "lsoa_name", "lad_code", "lad_name"]
    order += [f"{d}_{m}" for d in DISPLAY_ORDER for m in MEASURES] + list(POPULATION_ORDER)
    return [c for c in order if c in set(columns)]


def update(stored: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """(`stored` deprivation with `new`'s columns replacing or adding to its own, joined on
    the LSOA code; the stored figures kept). Nothing is kept when `new` has every figure."""
    kept = [c for c in canonical_order(stored.columns)
            if c not in new.columns and c not in ("lsoa_code", "lsoa_name", "lad_code",
                                                  "lad_name")]
    if not kept:
        return new, []
    ids = [c for c in ("lsoa_name", "lad_code", "lad_name") if c in stored]
    merged = new.merge(stored[["lsoa_code", *kept, *ids]], on="lsoa_code", how="outer",
                       suffixes=("", "__stored"))
    for col in ids:
        if f"{col}__stored" in merged:
            merged[col] = merged[col].fillna(merged.pop(f"{col}__stored"))
    return merged[canonical_order(merged.columns)], kept


def _join(left: pd.DataFrame, right: pd.DataFrame, left_names: list[str],
          right_name: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Outer join on lsoa_code; a figure in both files must be equal for every LSOA."""
    problems: list[Problem] = []
    shared = [c for c in right.columns if c in left.columns and c != "lsoa_code"]
    merged = left.merge(right, on="lsoa_code", how="outer", suffixes=("", "__r"), sort=False)
    for col in shared:
        a, b = merged[col], merged[f"{col}__r"]
        if col in ("lsoa_name", "lad_code", "lad_name"):
            merged[col] = a.fillna(b)
            continue
        both = a.notna() & b.notna()
        differ = both & ~(a.astype(float).sub(b.astype(float)).abs() <= 1e-9)
        if differ.any():
            shown = "; ".join(f"{code}: {x:g} against {y:g}" for code, x, y in merged.loc[
                differ, ["lsoa_code", f"{col}__r", col]].head(5).itertuples(index=False))
            problems.append(Problem(
                right_name, f"{col} differs from {' + '.join(left_names)} for "
                f"{int(differ.sum()):,} LSOAs ({shown}); files combined must be of one "
                "release and agree"))
        merged[col] = a.where(a.notna(), b)
    merged = merged.drop(columns=[f"{c}__r" for c in shared])
    return merged, problems
