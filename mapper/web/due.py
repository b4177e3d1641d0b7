"""What is due for re-checking, for the re-checking lists (:mod:`mapper.web.recheck`) and
the links to them from the neighbourhood pages: made once a day per version of the
workspace and its edits. Not a blueprint.
"""

from __future__ import annotations

import pandas as pd

from mapper.analysis import verification
from mapper.web import data
from mapper.web.auth import current_user
from mapper.web.contacts import partner_wards


def ward_table() -> pd.DataFrame:
    """ward_code, ward_name, borough_name and can_id (<NA> before an analysis)."""
    table = data.layer("ward_summary", required=False)
    if table is None:
        table = data.layer("wards")
    table = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
    for column in ("ward_name", "borough_name", "can_id"):
        if column not in table:
            table[column] = pd.NA
    return table[["ward_code", "ward_name", "borough_name", "can_id"]]


def due_records(ward_codes=None) -> pd.DataFrame:
    """The open records due for re-checking today (:func:`verification.due_for_recheck`)
    in `ward_codes` (None: every ward), with the edits made in the app: made once a day
    per version of the workspace and its edits."""
    on = verification.today()

    def build(_workspace):
        registers = {name: data.layer(name, required=False)
                     for name in verification.ID_COLUMNS}
        return verification.due_for_recheck(registers, ward_table(), on=on)

    due = data.cached("recheck:due", build, variant=on)
    if ward_codes is None:
        return due
    return due[due["ward_code"].isin(list(ward_codes)).to_numpy()].reset_index(drop=True)


def allowed_wards() -> set[str] | None:
    """The wards the signed-in user may review (None: every ward)."""
    return partner_wards()


def due_count(ward_codes) -> int | None:
    """How many records are due among `ward_codes` (those granted, for a partner), for
    the neighbourhood pages' link; None when the user may review none of them."""
    if not current_user().at_least("partner"):
        return None
    allowed = allowed_wards()
    wards = set(ward_codes) if allowed is None else set(ward_codes) & allowed
    if not wards:
        return None
    return len(due_records(wards))
