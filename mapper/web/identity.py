"""Pages for CAN ids that no longer name a current neighbourhood.

A CAN id once issued keeps its meaning (:mod:`mapper.analysis.can_identity`): when a
re-run retires it, its page says when and which CANs hold its wards now, instead of a
404 or another area. A link may write an id in any case and zero padding (``can-1``,
``CAN-001``): :func:`canonical_redirect` sends it, permanently, to the id as issued
(:func:`mapper.can_history.resolve_id`).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import redirect, render_template, request, url_for

from mapper.analysis.can_identity import split_codes
from mapper.can_history import resolve_id, retired_sentence, run_date, split_ids
from mapper.web import data
from mapper.web.auth import app_db


def history() -> list[dict]:
    """Every CAN id ever issued (the app database)."""
    return app_db().can_history()


def canonical_id(can_id: str, current: Iterable[str]) -> str | None:
    """The id as issued that `can_id` names, among the `current` CANs' ids and every id
    of the history (a retired one too); None when it names none."""
    known = [str(c) for c in current]
    found = resolve_id(can_id, known)
    if found is None:
        found = resolve_id(can_id, [str(r["can_id"]) for r in history()])
    return found


def canonical_redirect(endpoint: str, can_id: str, current: Iterable[str], **values):
    """A permanent redirect to `endpoint` under the id as issued when `can_id` writes it
    otherwise (``/neighbourhood/can-1`` -> ``/neighbourhood/CAN-01``), keeping the query
    string; None when `can_id` is that id already, or names no CAN (the page's own 404
    then says so)."""
    found = canonical_id(can_id, current)
    if found is None or found == can_id:
        return None
    url = url_for(endpoint, can_id=found, **values)
    query = request.query_string.decode("utf-8", "replace")
    return redirect(url + (f"?{query}" if query else ""), code=301)


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
