"""The history of Community Action Neighbourhood ids, as people read it.

The analysis keeps every CAN id it has issued in the app database
(:meth:`mapper.appdb.AppDB.can_history`: one row per id with its name, first and last
run, and when retired the CANs that replaced it; :mod:`mapper.analysis.can_identity`
decides them). These helpers turn those rows into words, for the analysis, for grants
of CAN ids (:mod:`mapper.users`) and for the web pages alike.

How CAN ids are written and read (the one place)
------------------------------------------------
An id is ``CAN-`` and a number, at least two digits: ``CAN-01`` ... ``CAN-99``,
``CAN-100`` ... (:func:`format_id`). Numbers are never reused and an id, once issued,
is never rewritten: when the count passes 99 the earlier ids keep their two digits (a
workspace analysed before this rule may hold ``CAN-001``-style ids; they keep theirs
too). People and old links may write an id in any case and with any zero padding
(``can-1``, ``CAN-001``): :func:`resolve_id` finds the id issued for that number, which
is the canonical one (pages redirect to it). Ids sort by number (:func:`id_order`), not
as text (``CAN-100`` after ``CAN-99``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

ID_PREFIX = "CAN-"
#: an id as issued: the prefix and a number
ISSUED_ID = re.compile(rf"{ID_PREFIX}([0-9]+)")
#: an id as people may type it: any case, any zero padding, spaces around
_TYPED_ID = re.compile(r"\s*CAN\s*-?\s*([0-9]+)\s*", re.IGNORECASE)


def can_number(can_id: str) -> int:
    """The number of an issued CAN id (``"CAN-07"`` -> 7); ValueError for anything else."""
    found = ISSUED_ID.fullmatch(str(can_id))
    if not found:
        raise ValueError(f"not a CAN id: {can_id!r} (expected {ID_PREFIX}NN)")
    return int(found.group(1))


def format_id(number: int) -> str:
    """``7`` -> ``"CAN-07"``, ``100`` -> ``"CAN-100"``: at least two digits, never more
    than the number needs (an id does not depend on how many CANs there are)."""
    return f"{ID_PREFIX}{int(number):02d}"


def typed_number(text) -> int | None:
    """The number of a CAN id as people or old links write it (``"can-1"``,
    ``" CAN-001 "``, ``"CAN 7"`` -> 1, 1, 7); None when `text` is not a CAN id."""
    found = _TYPED_ID.fullmatch(str(text or ""))
    return int(found.group(1)) if found else None


def resolve_id(text, known: Iterable[str]) -> str | None:
    """The id among `known` (the ids issued) that `text` names, whatever its case and
    zero padding (``"can-1"`` and ``"CAN-001"`` -> ``"CAN-01"`` when ``CAN-01`` was
    issued); None when it names none of them."""
    ids = [str(k) for k in known]
    text = str(text or "")
    if text in ids:
        return text
    number = typed_number(text)
    if number is None:
        return None
    return next((k for k in sorted(ids, key=id_order) if typed_number(k) == number), None)


def id_order(can_id) -> tuple[int, int, str]:
    """Sort key putting CAN ids in number order (``CAN-9``, ``CAN-10``, ``CAN-100``),
    anything else after them, as text."""
    number = typed_number(can_id)
    return (0, number, str(can_id)) if number is not None else (1, 0, str(can_id))


def run_date(stamp: str) -> str:
    """``2026-12-07T15:48:06+00:00`` -> ``7 December 2026`` (the text as given when it
    is not a date)."""
    try:
        moment = pd.Timestamp(stamp)
    except (ValueError, TypeError):
        return str(stamp)
    return f"{moment.day} {moment.strftime('%B %Y')}"


def retired_sentence(can_id: str, history: list[dict]) -> str | None:
    """"CAN-07 (A & B) was retired on 7 December 2026, replaced by CAN-13 (C & D)." for
    a retired id of the history; None for an id never issued or not retired."""
    rows = {str(r["can_id"]): r for r in history}
    can_id = resolve_id(can_id, rows) or can_id
    row = rows.get(can_id)
    if row is None or not row.get("retired_at"):
        return None
    successors = split_ids(row.get("replaced_by", ""))
    named = [f"{c} ({rows[c]['name']})" if c in rows else c for c in successors]
    then = f"{can_id} ({row['name']}) was retired on {run_date(row['retired_at'])}"
    if not named:
        return then + "; its wards are in no Community Action Neighbourhood now."
    return then + ", replaced by " + " and ".join(named) + "."


def split_ids(text) -> list[str]:
    """CAN ids from their '; '-joined form, in the order given."""
    return [c.strip() for c in str(text or "").split(";") if c.strip()]
