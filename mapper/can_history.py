"""The history of Community Action Neighbourhood ids, as people read it.

The analysis keeps every CAN id it has issued in the app database
(:meth:`mapper.appdb.AppDB.can_history`: one row per id with its name, first and last
run, and when retired the CANs that replaced it; :mod:`mapper.analysis.can_identity`
decides them). These helpers turn those rows into words, for the analysis, for grants
of CAN ids (:mod:`mapper.users`) and for the web pages alike.
"""

from __future__ import annotations

import pandas as pd


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
