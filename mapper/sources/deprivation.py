"""English Indices of Deprivation, LSOA level: IoD2019 (File 7 layout, 2011 LSOAs) and
IoD2025 (2021 LSOAs). The release is read from the headers; every domain and
sub-domain score, rank and decile, and every population denominator, is kept.

Canonical columns: ``lsoa_code``, ``lsoa_name``, ``lad_code``, ``lad_name``, then
``<domain>_score``, ``<domain>_rank``, ``<domain>_decile`` for each domain in
:data:`DOMAINS`, then the denominators in :data:`DENOMINATORS`. Ranks are national
(1 = most deprived); deciles 1 = most deprived 10 %.
"""

from __future__ import annotations

import re

import pandas as pd

from mapper.errors import DataValidationError, Problem
from mapper.sources.base import (
    OGL,
    OGL_ATTRIBUTION,
    Context,
    Detection,
    Imported,
    check_codes,
    parse_numbers,
    require_columns,
)
from mapper.sources.codes import bracketed_year
from mapper.sources.files import Peek, read_table

#: canonical domain name -> how its header label starts (lower case, spaces collapsed)
DOMAINS: dict[str, str] = {
    "imd": "index of multiple deprivation",
    "income": "income",
    "employment": "employment",
    "education": "education, skills and training",
    "health": "health deprivation and disability",
    "crime": "crime",
    "barriers": "barriers to housing and services",
    "living_environment": "living environment",
    "idaci": "income deprivation affecting children",
    "idaopi": "income deprivation affecting older people",
    "children_young_people": "children and young people sub-domain",
    "adult_skills": "adult skills sub-domain",
    "geographical_barriers": "geographical barriers sub-domain",
    "wider_barriers": "wider barriers sub-domain",
    "indoors": "indoors sub-domain",
    "outdoors": "outdoors sub-domain",
}
#: the IMD and its seven domains must be present; the supplementary indices and
#: sub-domains are kept when they are
REQUIRED_DOMAINS = [
    "imd",
    "income",
    "employment",
    "education",
    "health",
    "crime",
    "barriers",
    "living_environment",
]
MEASURES = ("score", "rank", "decile")

#: canonical denominator -> how its header starts
DENOMINATORS: dict[str, str] = {
    "pop_total": "total population",
    "pop_children_0_15": "dependent children aged 0-15",
    "pop_16_59": "population aged 16-59",
    "pop_older_60_plus": "older population aged 60 and over",
    "pop_working_age": "working age population",
}

RELEASES = {"2011": "IoD2019", "2021": "IoD2025"}
_HEADER = re.compile(r"^(?P<label>.+?)\s+(?P<what>score|rank|decile)\b")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\ufeff", "")).strip().lower()


def _domain_of(label: str) -> str | None:
    # Longest prefix wins: "income deprivation affecting children ..." is IDACI, not income.
    best = None
    for domain, start in DOMAINS.items():
        if label.startswith(start) and (best is None or len(start) > len(DOMAINS[best])):
            best = domain
    return best


def map_columns(columns: list[str]) -> dict[str, str | None]:
    """Canonical column -> header in the file (None when absent)."""
    found: dict[str, str | None] = {
        "lsoa_code": None,
        "lsoa_name": None,
        "lad_code": None,
        "lad_name": None,
    }
    for col in columns:
        norm = _norm(col)
        if norm.startswith("lsoa code"):
            found["lsoa_code"] = col
        elif norm.startswith("lsoa name"):
            found["lsoa_name"] = col
        elif norm.startswith("local authority district code"):
            found["lad_code"] = col
        elif norm.startswith("local authority district name"):
            found["lad_name"] = col
        elif (m := _HEADER.match(norm)) and (domain := _domain_of(m["label"])):
            found.setdefault(f"{domain}_{m['what']}", col)
        else:
            for name, start in DENOMINATORS.items():
                if norm.startswith(start):
                    found.setdefault(name, col)
    return found


def _whole(values: pd.Series) -> pd.Series:
    """Ranks and deciles as nullable integers (bad values were reported already)."""
    ok = values.where(values.notna() & (values % 1 == 0))
    return ok.astype("Int64")


def detect(peek: Peek) -> Detection | None:
    """A table with LSOA codes and an 'Index of Multiple Deprivation (IMD) Score' column."""
    if peek.format != "table":
        return None
    found = map_columns(peek.columns)
    if not found["lsoa_code"] or not any(found.get(f"imd_{m}") for m in MEASURES):
        return None
    lsoa_year = bracketed_year(found["lsoa_code"]) or "unknown"
    release = RELEASES.get(lsoa_year, "IoD (release unknown)")
    return Detection(
        kind="deprivation",
        vintage=f"{release} / LSOA {lsoa_year}",
        detail=f"English Indices of Deprivation {release[3:]} by LSOA ({lsoa_year} LSOAs)",
        rows=None,
        reader=read,
        columns={k: v for k, v in found.items() if v},
        extra={"release": release, "lsoa_vintage": lsoa_year},
    )


def read(path, detection: Detection, context: Context) -> Imported:
    file = path.name
    table, encoding = read_table(path)
    found = map_columns(list(table.columns))
    wanted = {
        "LSOA code": found["lsoa_code"],
        "Total population denominator": found.get("pop_total"),
    }
    for domain in REQUIRED_DOMAINS:
        for measure in MEASURES:
            wanted[f"{DOMAINS[domain]} {measure}"] = found.get(f"{domain}_{measure}")
    problems = require_columns(
        list(table.columns),
        wanted,
        file=file,
        what="the IoD 'all scores, ranks, deciles and population denominators' layout (File 7)",
    )
    if problems:
        raise DataValidationError(problems)

    out = pd.DataFrame({"lsoa_code": table[found["lsoa_code"]].str.strip()})
    problems += check_codes(
        table[found["lsoa_code"]], file=file, column=found["lsoa_code"], kind="lsoa"
    )
    for name in ("lsoa_name", "lad_code", "lad_name"):
        out[name] = table[found[name]].str.strip() if found[name] else pd.NA
    for domain in DOMAINS:
        for measure in MEASURES:
            col = found.get(f"{domain}_{measure}")
            if not col:
                continue
            limits = {
                "score": {},
                "rank": {"low": 1, "integer": True},
                "decile": {"low": 1, "high": 10, "integer": True},
            }[measure]
            values, bad = parse_numbers(table[col], file=file, column=col, **limits)
            problems += bad
            out[f"{domain}_{measure}"] = values if measure == "score" else _whole(values)
    for name in DENOMINATORS:
        if found.get(name):
            values, bad = parse_numbers(table[found[name]], file=file, column=found[name], low=0)
            problems += bad
            out[name] = values
    if any(p.severity == "error" for p in problems):
        raise DataValidationError(problems)
    warnings = []
    if encoding == "cp1252":
        warnings.append(Problem(file, "read as Windows-1252 text (not UTF-8)", severity="warning"))
    return Imported(
        kind="deprivation",
        frame=out,
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=len(table),
        licence=OGL,
        attribution=f"English Indices of Deprivation, Ministry of Housing, Communities and "
        f"Local Government. {OGL_ATTRIBUTION}",
        warnings=warnings,
        extra=dict(detection.extra),
    )
