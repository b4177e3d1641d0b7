"""Months and dates as spreadsheets leave them.

police.uk writes months as ``2024-03``; a file that went through Excel may read ``Mar-24``,
``March 2024``, ``2024-03-01``, ``01/03/2024``, ``03/2024`` or an Excel serial day number
(``45352``). :func:`read_when` reads them all, per value, and says which spellings it met
and how it read them, so that no reading is silent.

Rules (one place): two-digit years are 20xx; ``NN/NN/YYYY`` is day first (UK), unless a
value in the same column has a first number above 12 nowhere and a second above 12
somewhere (then month first, US, as Excel exports from US settings write it); Excel serial
days count from 1899-12-30 (Excel's 1900 date system) and are taken from 20000 to 80000
(1954 to 2119) only.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd

MONTH_NAMES = {
    name: n
    for n, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
YEARS = (1990, 2100)
EXCEL_SERIAL = (20_000, 80_000)
EXCEL_EPOCH = date(1899, 12, 30)

_ISO_MONTH = re.compile(r"(\d{4})[-/.](\d{1,2})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ][\d:.]+(?:z|[+-]\d{2}:?\d{2})?)?")
_NAMED = re.compile(r"([a-z]+)\.?[-\s/]*(\d{4}|\d{2})")
_DAY_NAMED = re.compile(r"(\d{1,2})[-\s/]*([a-z]+)\.?[-\s/]*(\d{4})")
_NUM_MONTH = re.compile(r"(\d{1,2})[-/.](\d{4})")
_NUM_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:\s+[\d:]+(?:\s*[ap]m)?)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})")
_SERIAL = re.compile(r"(\d{5})(?:\.\d+)?")

#: spelling -> how it is read, for the notes
STYLES = {
    "iso month": "YYYY-MM",
    "iso date": "dates (YYYY-MM-DD): their month kept",
    "named": "month names ('{example}', as Excel shows a month): two-digit years taken as 20xx",
    "day named": "dates with month names ('{example}')",
    "numeric month": "MM/YYYY ('{example}')",
    "day first": "DD/MM/YYYY, day first ('{example}')",
    "month first": "MM/DD/YYYY, month first ('{example}': a second number above 12 shows "
    "the column is US-style)",
    "compact": "YYYYMM ('{example}')",
    "excel serial": "Excel serial day numbers ('{example}', days since 1899-12-30)",
}


def _year(text: str) -> int:
    year = int(text)
    return 2000 + year if len(text) == 2 else year


def _parse(value: str, month_first: bool) -> tuple[tuple[int, int, int | None], str] | None:
    """((year, month, day or None), style) for one value, or None when unreadable."""
    low = value.lower()
    if m := _ISO_DATE.fullmatch(low):
        return (int(m[1]), int(m[2]), int(m[3])), "iso date"
    if m := _ISO_MONTH.fullmatch(low):
        return (int(m[1]), int(m[2]), None), "iso month"
    if (m := _NAMED.fullmatch(low)) and m[1] in MONTH_NAMES:
        return (_year(m[2]), MONTH_NAMES[m[1]], None), "named"
    if (m := _DAY_NAMED.fullmatch(low)) and m[2] in MONTH_NAMES:
        return (int(m[3]), MONTH_NAMES[m[2]], int(m[1])), "day named"
    if m := _NUM_MONTH.fullmatch(low):
        return (int(m[2]), int(m[1]), None), "numeric month"
    if m := _NUM_DATE.fullmatch(low):
        first, second = int(m[1]), int(m[2])
        if month_first:
            return (int(m[3]), first, second), "month first"
        return (int(m[3]), second, first), "day first"
    if m := _COMPACT.fullmatch(low):
        return (int(m[1]), int(m[2]), None), "compact"
    if (m := _SERIAL.fullmatch(low)) and EXCEL_SERIAL[0] <= int(m[1]) <= EXCEL_SERIAL[1]:
        day = EXCEL_EPOCH + timedelta(days=int(m[1]))
        return (day.year, day.month, day.day), "excel serial"
    return None


def _valid(year: int, month: int, day: int | None) -> bool:
    if not (YEARS[0] <= year <= YEARS[1] and 1 <= month <= 12):
        return False
    if day is None:
        return True
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _month_first(values: list[str]) -> bool:
    """A NN/NN/YYYY column is month first when no first number exceeds 12 and some second
    number does."""
    pairs = [(int(m[1]), int(m[2])) for v in values if (m := _NUM_DATE.fullmatch(v.lower()))]
    return bool(pairs) and all(a <= 12 for a, _ in pairs) and any(b > 12 for _, b in pairs)


def read_when(text: pd.Series) -> tuple[pd.Series, pd.Series, list[str]]:
    """Read a column of months or dates.

    Returns ``(months, dates, notes)``: ``months`` as 'YYYY-MM' and ``dates`` as
    'YYYY-MM-DD' (<NA> where the value names no day, or is blank or unreadable), indexed
    like `text`, and one note per spelling other than police.uk's YYYY-MM saying how it
    was read. A value is unreadable when ``months`` is <NA> and the cell is not blank.
    """
    cells = text.astype("string").str.strip().fillna("")
    unique = [v for v in pd.unique(cells.to_numpy(dtype=object)) if v]
    month_first = _month_first(unique)
    month_of: dict[str, str] = {}
    date_of: dict[str, str] = {}
    seen: dict[str, str] = {}
    for value in unique:
        found = _parse(value, month_first)
        if found is None or not _valid(*found[0]):
            continue
        (year, month, day), style = found
        month_of[value] = f"{year:04d}-{month:02d}"
        if day is not None:
            date_of[value] = f"{year:04d}-{month:02d}-{day:02d}"
        seen.setdefault(style, value)
    months = cells.map(month_of).astype("string")
    dates = cells.map(date_of).astype("string")
    notes = [
        f"read {STYLES[style].format(example=example)}"
        for style, example in seen.items()
        if style != "iso month"
    ]
    return months, dates, notes


def unreadable(text: pd.Series, months: pd.Series) -> np.ndarray:
    """Positions of cells that hold something but no readable month or date."""
    cells = text.astype("string").str.strip().fillna("")
    return np.flatnonzero((cells != "").to_numpy() & months.isna().to_numpy())


__all__ = ["read_when", "unreadable", "MONTH_NAMES"]
