"""What a group can offer in an emergency, only from evidence.

Capabilities (:data:`mapper.registers.EMERGENCY_OFFERS`) come from a source's own fields
through the rules in ``mapper/mappings/capabilities.csv`` (a workspace's own
``capabilities.csv`` replaces it), from a file's own ``emergency_offer`` column, or from
an officer's edit; never from a constant for a whole file. Each record's ``offer_source``
says where every capability came from ("food: from Give Food (network 'IFAN')").
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from mapper import registers
from mapper.errors import DataValidationError, Problem

RULES_FILE = registers.MAPPINGS_DIR / "capabilities.csv"
WORKSPACE_FILE = "capabilities.csv"


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", str(name).lower()).strip()


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> tuple[tuple[str, str, str, str], ...]:
    """(source, field, value, capability) rows; every bad row listed in one error."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if not (r.get("source") or "").startswith("#")]
    problems, out = [], []
    for n, r in enumerate(rows, 2):
        fields = [(r.get(k) or "").strip() for k in ("source", "field", "value", "capability")]
        source, field, value, capability = fields
        if capability not in registers.EMERGENCY_OFFERS:
            problems.append(Problem(path.name, "expected one of "
                                    + ", ".join(registers.EMERGENCY_OFFERS), n,
                                    "capability", capability))
        elif not (source and field and field != "*" and value):
            problems.append(Problem(path.name, "expected a source, a column of its files "
                                    "(not *) and a value (or * for any value)", n, "field",
                                    field))
        else:
            out.append((source, _norm(field), value.lower(), capability))
    if problems:
        raise DataValidationError(problems)
    return tuple(out)


def rules_for(workspace_dir: Path | None) -> Path:
    """The rules file a workspace uses: its own ``capabilities.csv``, else the default."""
    own = Path(workspace_dir) / WORKSPACE_FILE if workspace_dir else None
    return own if own is not None and own.is_file() else RULES_FILE


def from_table(table: pd.DataFrame, *, rule_source: str, source: str,
               rules: Path = RULES_FILE) -> tuple[pd.Series, pd.Series]:
    """(emergency_offer, offer_source) of every row: "; "-joined capabilities and where
    each came from; <NA> for rows no rule matched."""
    by_norm = {_norm(c): c for c in table.columns}
    found: list[list[tuple[str, str]]] = [[] for _ in range(len(table))]
    for rule_src, field, value, capability in load_rules(rules):
        column = by_norm.get(field)
        if rule_src != rule_source or column is None:
            continue
        text = table[column].astype("string").str.strip().fillna("")
        hit = (text != "") if value == "*" else (text.str.lower() == value)
        for pos in hit.to_numpy().nonzero()[0]:
            if all(c != capability for c, _ in found[pos]):
                found[pos].append((capability, f"from {source} ({column} '{text.iloc[pos]}')"))
    offer = pd.Series([_join(f, 0) for f in found], index=table.index, dtype=object)
    origin = pd.Series([_join(f, 1) for f in found], index=table.index, dtype=object)
    return offer, origin


def _join(found: list[tuple[str, str]], part: int):
    if not found:
        return pd.NA
    if part == 0:
        return "; ".join(c for c, _ in found)
    return "; ".join(f"{c}: {o}" for c, o in found)


def _split(offer) -> list[str]:
    if not isinstance(offer, str):
        return []
    return [c.strip() for c in offer.split(";") if c.strip()]


def edited_origins(offer, previous_offer, previous_source, stamp: str) -> str | None:
    """The ``offer_source`` after an officer sets `offer`: capabilities the record already
    had keep their origin ("food: from Give Food (network 'IFAN')"), new ones are `stamp`
    ("confirmed by olive on 3 Nov 2026"); just `stamp` when every one is new."""
    wanted = _split(offer)
    if not wanted:
        return None
    before = {c.lower() for c in _split(previous_offer)}
    text = previous_source if isinstance(previous_source, str) else ""
    named = {}
    for part in (p.strip() for p in text.split("; ") if p.strip()):
        head, sep, rest = part.partition(": ")
        if sep and head.strip().lower() in before:
            named[head.strip().lower()] = rest.strip()
    origins = []
    for capability in wanted:
        key = capability.lower()
        if key not in before:
            origins.append(stamp)
        else:  # a whole-record origin ("from groups (emergency_offer)") covers each one
            origins.append(named.get(key) or (text if text and not named else stamp))
    if all(o == stamp for o in origins):
        return stamp
    return "; ".join(f"{c}: {o}" for c, o in zip(wanted, origins, strict=True))
