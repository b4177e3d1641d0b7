"""Pages for CAN ids that no longer name a current neighbourhood.

A CAN id once issued keeps its meaning (:mod:`mapper.analysis.can_identity`): when a
re-run retires it, its page says when and which CANs hold its wards now, instead of a
404 or another area.
"""

from __future__ import annotations

from flask import render_template

from mapper.analysis.can_identity import split_codes
from mapper.can_history import retired_sentence, run_date, split_ids
from mapper.web import data
from mapper.web.auth import app_db


def history() -> list[dict]:
    """Every CAN id ever issued (the app database)."""
    return app_db().can_history()


def retired_note(can_id: str) -> str | None:
    """The sentence saying when `can_id` was retired and by what replaced, or None."""
    return retired_sentence(can_id, history())


def retired_rows() -> list[dict]:
    """Every retired CAN id and the sentence saying when and by what replaced."""
    rows = history()
    return [{"can_id": r["can_id"], "note": note} for r in rows
            if (note := retired_sentence(str(r["can_id"]), rows))]


def retired_page(can_id: str):
    """The page of a retired CAN id, or None when `can_id` was never issued or is not
    retired."""
    rows = {str(r["can_id"]): r for r in history()}
    note = retired_sentence(can_id, list(rows.values()))
    if note is None:
        return None
    row = rows[can_id]
    summary = data.layer("ward_summary", required=False)
    names = {} if summary is None else dict(zip(summary["ward_code"], summary["ward_name"],
                                                strict=True))
    wards = [{"code": c, "name": names.get(c, "")} for c in split_codes(row["ward_codes"])]
    successors = [{"can_id": c, "name": rows[c]["name"] if c in rows else ""}
                  for c in split_ids(row["replaced_by"])]
    return render_template(
        "can_retired.html", can_id=can_id, name=row["name"], note=note,
        successors=successors, wards=wards,
        first_run=run_date(row["first_run"]), last_run=run_date(row["last_run"]),
        retired_at=run_date(row["retired_at"]))
