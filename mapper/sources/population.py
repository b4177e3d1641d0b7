"""ONS LSOA mid-year population estimates.

Accepted layouts: a table with a column of LSOA codes (``LSOA11CD``, ``LSOA Code``,
``LSOA 2021 Code`` ...) and a total-persons column (``Persons_All-Ages``, ``All Ages``,
``Total``, ``Population``). Age-band columns are kept as they are, with names made
safe for a GeoPackage (``persons_0_15``).
Canonical columns: ``lsoa_code``, ``population``, then the other numeric columns.
"""

from __future__ import annotations

import re

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
from mapper.sources.files import Peek, read_table

TOTAL_NAMES = [
    "persons_all-ages",
    "persons all ages",
    "all ages",
    "all_ages",
    "total",
    "total population",
    "population",
    "persons",
    "usual residents",
]
_YEAR = re.compile(r"(?:mid[-_ ]?|19|20)(\d{2,4})", re.I)


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().lower()


def _lsoa_column(peek_head: pd.DataFrame) -> str | None:
    for col in peek_head.columns:
        if codes.dominant_kind(peek_head[col], share=0.9) == "lsoa":
            return col
    return None


def detect(peek: Peek) -> Detection | None:
    """Detect an LSOA population table: an LSOA code column and a numeric total."""
    if peek.format != "table":
        return None
    total = next((c for c in peek.columns if _norm(c) in TOTAL_NAMES), None)
    lsoa = _lsoa_column(peek.head)
    if not total or not lsoa:
        return None
    numeric = pd.to_numeric(peek.head[total].str.replace(",", ""), errors="coerce")
    if numeric.notna().mean() < 0.9:
        return None
    _, lsoa_year, _ = codes.column_vintage(lsoa)
    lsoa_year = lsoa_year or codes.bracketed_year(lsoa) or "unknown"
    year = year_in_name(peek.path)
    return Detection(
        kind="population",
        vintage=f"mid-{year or 'year unknown'} / LSOA {lsoa_year}",
        detail=f"ONS LSOA population estimates ({lsoa_year} LSOAs; total column '{total}')",
        rows=None,
        reader=read,
        columns={"lsoa_code": lsoa, "population": total},
        extra={"lsoa_vintage": lsoa_year},
    )


def _safe(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower().replace("+", "_plus")).strip("_")


def read(path, detection: Detection, context: Context) -> Imported:
    """Read an LSOA population table, checking codes and counts."""
    file = path.name
    table, _ = read_table(path)
    lsoa, total = detection.columns["lsoa_code"], detection.columns["population"]
    problems: list[Problem] = check_codes(table[lsoa], file=file, column=lsoa, kind="lsoa")
    population, bad = parse_numbers(table[total], file=file, column=total, low=0)
    problems += bad
    frame = pd.DataFrame({"lsoa_code": table[lsoa].str.strip(), "population": population})
    for col in table.columns:
        if col in (lsoa, total):
            continue
        values = pd.to_numeric(table[col].str.replace(",", ""), errors="coerce")
        if values.notna().all() and len(values):
            frame[_safe(col)] = values
    if problems:
        raise DataValidationError(problems)
    return Imported(
        kind="population",
        frame=frame,
        vintage=detection.vintage,
        detail=detection.detail,
        rows_read=len(table),
        licence=OGL,
        attribution=f"Source: Office for National Statistics. {OGL_ATTRIBUTION}",
        extra=dict(detection.extra),
    )
