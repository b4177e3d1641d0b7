"""The incident-type vocabulary: police.uk's 14 crime types and the tension-monitoring
categories (community tension, hate incident, protest; anti-social behaviour is both).

The vocabulary, and the other spellings that mean each type, are data in
``mapper/mappings/incident_types.csv`` (users may edit it). Every importer's incident
types pass through :func:`normalise` (``mapper.pipeline.gather_registers``), so the
register, the analysis, the pages' type filters and the API all use the same names.
Matching ignores case, spaces and punctuation ("anti-social-behaviour", "ASB" and
"Anti social behaviour" are all "Anti-social behaviour"); a value not in the file is kept
as written and named in a warning.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from mapper import resources

TYPES_FILE = resources.mappings_dir() / "incident_types.csv"


@dataclass(frozen=True)
class Vocabulary:
    #: the types, in the file's order
    types: tuple[str, ...]
    #: type -> where it comes from ("police.uk crime type", "tension monitoring")
    family: dict[str, str]
    #: key (see :func:`key`) of every spelling -> type
    spellings: dict[str, str]
    #: every spelling as written in the file -> type
    written: dict[str, str]


def key(value: str) -> str:
    """The matching key of a type: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", str(value).lower())


@lru_cache(maxsize=4)
def _read(path: Path) -> Vocabulary:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if not (r["value"] or "").startswith("#")]
    types, family, spellings = [], {}, {}
    for r in rows:
        value, kind = r["value"].strip(), r["type"].strip()
        if value == kind:
            types.append(kind)
            family[kind] = (r.get("family") or "").strip()
    known = set(types)
    for r in rows:
        value, kind = r["value"].strip(), r["type"].strip()
        if kind not in known:
            raise ValueError(f"{path.name}: value '{value}' maps to '{kind}', which is not a "
                             "type of the vocabulary (a row whose value is the type itself)")
        spellings[key(value)] = kind
    written = {r["value"].strip(): r["type"].strip() for r in rows}
    return Vocabulary(tuple(types), family, spellings, written)


def vocabulary(path: Path | None = None) -> Vocabulary:
    return _read(Path(path or TYPES_FILE))


def normalise(values: pd.Series, path: Path | None = None) -> tuple[pd.Series, list[str]]:
    """`values` as types of the vocabulary, and the values not in it (kept as written,
    stripped; blanks stay missing)."""
    spellings = vocabulary(path).spellings
    text = values.astype("string").str.strip()
    text = text.where(text != "", pd.NA)
    unique = text.dropna().unique()
    mapping = {v: spellings.get(key(v), v) for v in unique}
    unknown = sorted(v for v in unique if key(v) not in spellings)
    return text.map(mapping).astype("object").where(text.notna(), None), unknown


def normalise_names(names) -> list[str]:
    """Type names (a setting, a query) as vocabulary types; unknown names unchanged."""
    spellings = vocabulary().spellings
    return [spellings.get(key(n), str(n).strip()) for n in names if str(n).strip()]


def parse_setting(text: str) -> list[str] | None:
    """The ``incident_types`` setting (';'-separated) as vocabulary types; None for ''."""
    names = normalise_names(text.split(";")) if text else []
    return list(dict.fromkeys(names)) or None


__all__ = ["TYPES_FILE", "Vocabulary", "key", "vocabulary", "normalise", "normalise_names",
           "parse_setting"]
