"""GSS area codes and vintage-suffixed column names.

Kinds of area are recognised by the *values* (``E05`` = electoral ward ...), and the
vintage by the year suffix in ONS column names (``WD18CD`` = wards 2018,
``LSOA11CD`` = LSOAs 2011, ``lad25cd`` = districts 2025). Names are never joined on.
"""

from __future__ import annotations

import re

import pandas as pd

#: kind of area -> regular expression of its GSS codes (England and Wales)
CODE_PATTERNS: dict[str, str] = {
    "oa": r"[EW]00\d{6}",
    "lsoa": r"[EW]01\d{6}",
    "msoa": r"[EW]02\d{6}",
    "ward": r"[EW]05\d{6}",
    "lad": r"E0[6789]\d{6}|W06\d{6}",
    "region": r"E12\d{6}",
}

#: finest first: a file keyed by LSOAs also carries their wards or districts
KIND_ORDER = ["oa", "lsoa", "msoa", "ward", "lad", "region"]

KIND_LABEL = {
    "oa": "output area (E00)",
    "lsoa": "LSOA (E01)",
    "msoa": "MSOA (E02)",
    "ward": "electoral ward (E05)",
    "lad": "local authority district (E06-E09)",
    "region": "region (E12)",
}

_COMPILED = {kind: re.compile(rf"^(?:{pat})$") for kind, pat in CODE_PATTERNS.items()}

#: ONS column prefixes, upper-case, -> kind of area
_PREFIX_KIND = {
    "OA": "oa",
    "LSOA": "lsoa",
    "MSOA": "msoa",
    "WD": "ward",
    "LAD": "lad",
    "LTLA": "lad",
    "LA": "lad",
    "RGN": "region",
}

_SUFFIXED = re.compile(
    r"^(?P<prefix>OA|LSOA|MSOA|WD|LAD|LTLA|RGN)(?P<yy>\d{2})(?P<what>CD|NM|NMW)$", re.I
)
# IoD-style headers: "LSOA code (2011)", "Local Authority District code (2019)"
_BRACKETED = re.compile(r"^(?P<what>.*?)\s*(?:code|name)\s*\((?P<year>\d{4})\)\s*$", re.I)


def code_kind(value: str) -> str | None:
    """The kind of area a single code belongs to, or None."""
    for kind in KIND_ORDER:
        if _COMPILED[kind].match(value):
            return kind
    return None


def kinds_of(values: pd.Series) -> pd.Series:
    """Vectorised :func:`code_kind` for a Series of strings (None where no kind)."""
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NA, index=values.index, dtype="object")
    for kind in reversed(KIND_ORDER):
        hit = text.str.fullmatch(CODE_PATTERNS[kind]).fillna(False).to_numpy(bool)
        out[hit] = kind
    return out


def dominant_kind(values: pd.Series, *, share: float = 0.5) -> str | None:
    """The kind of most non-blank values in a column, if at least `share` of them agree."""
    text = values.dropna().astype("string").str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    counts = kinds_of(text).value_counts()
    if counts.empty:
        return None
    kind, n = counts.index[0], int(counts.iloc[0])
    return str(kind) if n >= share * len(text) else None


def column_vintage(name: str) -> tuple[str | None, str | None, str | None]:
    """(kind, four-digit year, 'CD'/'NM') read from an ONS column name, else Nones.

    >>> column_vintage("WD18CD")
    ('ward', '2018', 'CD')
    >>> column_vintage("lsoa21cd")
    ('lsoa', '2021', 'CD')
    """
    m = _SUFFIXED.match(name.strip())
    if m:
        return _PREFIX_KIND[m["prefix"].upper()], f"20{m['yy']}", m["what"].upper()
    return None, None, None


def bracketed_year(name: str) -> str | None:
    """The year in an IoD-style header such as 'LSOA code (2011)'."""
    m = _BRACKETED.match(name.strip())
    return m["year"] if m else None
