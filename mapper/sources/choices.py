"""What a user says about a generic point table: which register it is (``--as``), which
column feeds which field (``--map name=COLUMN``) and which category its records have
(``--category``); and the header signature a saved choice is keyed by."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

from mapper import registers
from mapper.errors import MapperError

#: fields a --map may name, besides every register column: coordinates and the source id
LOCATION_FIELDS = ("lat", "lon", "easting", "northing")
MAP_FIELDS = tuple(dict.fromkeys(
    [c for r in registers.REGISTERS for c in registers.REGISTER_COLUMNS[r]]
    + list(LOCATION_FIELDS) + ["source_id"]
))


def normalise_header(name: str) -> str:
    """A header as compared: lower case, runs of anything but letters and digits as one
    space ('Post.Code ' -> 'post code')."""
    return re.sub(r"[^0-9a-z]+", " ", str(name).lower()).strip()


def signature(columns: list[str]) -> str:
    """The key of a file's layout: its normalised header names, sorted, hashed (16 hex
    digits). Files with the same columns in any order or spelling of case and punctuation
    share it."""
    text = "\n".join(sorted(normalise_header(c) for c in columns))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class Choice:
    """The user's say on one layout of file; empty fields leave it to the evidence."""

    register: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file's column
    category: str | None = None
    #: set when the choice came from the saved mappings
    signature: str | None = None

    def __bool__(self) -> bool:
        return bool(self.register or self.columns or self.category)

    def describe(self) -> str:
        parts = [f"--as {self.register}"] if self.register else []
        parts += [f"--map {k}={v}" for k, v in self.columns.items()]
        parts += [f"--category {self.category!r}"] if self.category else []
        return " ".join(parts)

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("signature")
        return data


def parse_map(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``FIELD=COLUMN`` pairs as a dict; every malformed pair or unknown field listed."""
    out: dict[str, str] = {}
    bad = []
    for pair in pairs:
        name, sep, column = (p.strip() for p in str(pair).partition("="))
        if not sep or not name or not column:
            bad.append(f"{pair!r}: expected FIELD=COLUMN, e.g. name=\"Site Name\"")
        elif name not in MAP_FIELDS:
            bad.append(f"{pair!r}: unknown field {name!r}")
        else:
            out[name] = column
    if bad:
        raise MapperError("--map: " + "; ".join(bad) + ". Fields: " + ", ".join(MAP_FIELDS))
    return out


def resolve_columns(choice: Choice, columns: list[str], *, file: str) -> dict[str, str]:
    """The choice's --map with each column as the file spells it; a clear error listing
    the file's columns when any is not there."""
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise_header(col), col)
    out, missing = {}, []
    for name, wanted in choice.columns.items():
        hit = wanted if wanted in columns else by_norm.get(normalise_header(wanted))
        if hit is None:
            missing.append(f"{name}={wanted}")
        else:
            out[name] = hit
    if missing:
        raise MapperError(
            f"{file}: --map {', '.join(missing)}: no such column. The file's columns are: "
            + ", ".join(repr(c) for c in columns)
        )
    return out


def check_register(register: str | None) -> None:
    """Raise a MapperError naming the registers when `register` is not one of them."""
    if register is not None and register not in registers.REGISTERS:
        raise MapperError(f"unknown register {register!r}; expected one of "
                          + ", ".join(registers.REGISTERS))
