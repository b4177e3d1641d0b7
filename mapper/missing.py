"""Missing values as a person would write them: the one rule for pages, print views, call
sheets, map popups and tooltips, and exports.

A missing value is ``None``, NaN, ``pd.NA``, ``NaT``, blank text, or text that is only a
computer's placeholder ("nan", "None", "NaT", "null", "undefined", "<NA>"), which a
spreadsheet or a careless ``str()`` leaves behind. Pages show it as "not recorded"
(the ``shown`` template filter, :func:`shown`); data handed to templates, popups and
JSON carries ``None`` (:func:`or_none`, :func:`clean_record`), so ``value or "..."``
works; CSV exports leave the cell empty (:func:`clean_frame`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: how a missing value reads on a page
NOT_RECORDED = "not recorded"
#: text that is a computer's placeholder, not a value (compared lower-cased, stripped)
PLACEHOLDERS = frozenset({"", "nan", "none", "nat", "null", "undefined", "<na>"})


def is_missing(value: object) -> bool:
    """True for None, NaN, pd.NA, NaT, blank text and placeholder text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().lower() in PLACEHOLDERS
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values
        return False


def or_none(value: object) -> object:
    """`value`, or None when it is missing."""
    return None if is_missing(value) else value


def shown(value: object, missing: str = NOT_RECORDED) -> str:
    """`value` as text for a page; `missing` ("not recorded") when it is missing."""
    return missing if is_missing(value) else str(value)


def shown_day(value: object, missing: str = NOT_RECORDED) -> str:
    """A date as a person writes it ("3 Nov 2026"); `missing` when it is missing; text
    that is not a date unchanged."""
    if is_missing(value):
        return missing
    day = pd.to_datetime(str(value), errors="coerce")
    return str(value) if pd.isna(day) else f"{day.day} {day:%b %Y}"


def address_line(address: object, postcode: object, missing: str = NOT_RECORDED) -> str:
    """An address with its postcode, as one line: "1 High St, E1 6AN"; the postcode is
    not repeated when the address already ends with it (many files write it in both);
    `missing` when both are missing."""
    parts = [str(v).strip() for v in (address, postcode) if not is_missing(v)]
    if len(parts) == 2:
        tail = "".join(parts[0].upper().split())
        if tail.endswith("".join(parts[1].upper().split())):
            parts = parts[:1]
    return ", ".join(parts) or missing


def clean_record(record: dict) -> dict:
    """A copy of `record` with every missing value None."""
    return {k: or_none(v) for k, v in record.items()}


def clean_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text columns hold None where a value is missing."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or str(out[column].dtype) in ("string", "str"):
            out[column] = pd.Series(_cleaned(out[column]), index=out.index, dtype=object)
    return out


def _cleaned(values: pd.Series) -> np.ndarray:
    """:func:`or_none` of every value, as objects. Text is judged once per distinct value
    (a file's months, types and places repeat): the same answer, without a Python call
    per cell."""
    cells = values.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(cells, skipna=True) not in ("string", "empty"):
        return np.array([or_none(v) for v in cells.tolist()] or [], dtype=object)
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    kept = np.array([None if is_missing(u) else u for u in uniques.tolist()] + [None],
                    dtype=object)
    return kept[codes]  # code -1 (None, NaN, pd.NA): the None at the end
