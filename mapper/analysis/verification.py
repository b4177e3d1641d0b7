"""When a record is due for re-checking: the one verification rule.

Groups and premises carry ``last_verified``, the day someone last confirmed the record
(its contacts above all) was still right: from the source file, or stamped by an officer
("Confirmed today", :func:`mapper.editing.verify_record`). A record is **due for
re-checking** when its ``last_verified`` is missing or unreadable ("never checked"), or
lies more than :data:`VERIFICATION_MONTHS` months before today. Exactly
``VERIFICATION_MONTHS`` months ago is not yet due; the day after is (13 Sep 2025 is due on
14 Sep 2026, not on 13 Sep 2026). A month later than a month's last day counts as that
last day (checked 31 Aug: due after 28 or 29 Feb, 30 Sep...).

This module is the only place that rule lives: the neighbourhood pages' warning, the
incident page and call sheet, the "Due for re-checking" list, ``mapper due`` and
``mapper nearest`` all ask it. Closed records (:func:`mapper.analysis._tables.in_service`)
are never listed as due: there is nobody to re-check with.

Like the rest of :mod:`mapper.analysis`, imports only ``mapper.geo`` and libraries, and
takes "today" as an argument; :func:`today` gives it for the app's time zone.
"""

from __future__ import annotations

import calendar
import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from mapper.analysis._tables import in_service

#: a record last checked longer ago than this many months is due for re-checking
VERIFICATION_MONTHS = 12
#: the time zone of "today" for record ages (the study areas are in England)
LOCAL_TIME = ZoneInfo("Europe/London")

#: id column of each register the rule applies to
ID_COLUMNS = {"groups": "group_id", "premises": "premises_id"}
#: columns of :func:`due_for_recheck`'s answer
DUE_COLUMNS = ["register", "record_id", "name", "category", "status", "ward_code", "can_id",
               "last_verified", "checked", "months_since"]


def today() -> date:
    """Today in England (records are confirmed on English calendar days)."""
    return datetime.now(LOCAL_TIME).date()


def months_before(day: date, months: int = VERIFICATION_MONTHS) -> date:
    """The same day `months` earlier (the month's last day when it has no such day).

    ``months_before(date(2026, 9, 14), 12)`` is 14 Sep 2025;
    ``months_before(date(2025, 2, 28), 12)`` is 28 Feb 2024;
    ``months_before(date(2026, 3, 31), 1)`` is 28 Feb 2026.
    """
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def checked_date(value: object) -> date | None:
    """The day a ``last_verified`` value names (ISO ``YYYY-MM-DD``, a time after it
    ignored), or None when it is missing or not a date."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float) and np.isnan(value):
        return None
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def is_due(last_verified: object, on: date, *, months: int = VERIFICATION_MONTHS) -> bool:
    """Whether a record last checked on `last_verified` is due for re-checking on `on`.

    Never checked (missing or unreadable): due. Checked exactly `months` months before
    `on`: not yet due.
    """
    checked = checked_date(last_verified)
    return checked is None or checked < months_before(on, months)


def months_since(checked: date, on: date) -> int:
    """Whole months from `checked` to `on` (3 Sep 2025 to 2 Nov 2026: 13)."""
    return (on.year - checked.year) * 12 + on.month - checked.month - (on.day < checked.day)


def checked_dates(values: pd.Series) -> pd.Series:
    """Vectorised :func:`checked_date`: datetime64 (NaT when missing or not a date),
    indexed like `values`."""
    text = values.astype("string").str.strip().str[:10]
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def due_mask(values: pd.Series, on: date, *, months: int = VERIFICATION_MONTHS) -> pd.Series:
    """Vectorised :func:`is_due` over ``last_verified`` values (status not considered).

    Returns
    -------
    Series of bool
        Indexed like `values`.
    """
    cutoff = pd.Timestamp(months_before(on, months))
    checked = checked_dates(values)
    return (checked.isna() | (checked < cutoff)).astype(bool)


def due_for_recheck(records: dict[str, pd.DataFrame | None], wards: pd.DataFrame, *,
                    on: date, months: int = VERIFICATION_MONTHS,
                    ward_codes=None) -> pd.DataFrame:
    """The open records due for re-checking, oldest check first, with their neighbourhood.

    Parameters
    ----------
    records
        Register name (``groups``, ``premises``) -> the register (needs its id column and
        ``ward_code``; ``name``, ``category``/``type``, ``status`` and ``last_verified``
        are read when present). None or absent registers are skipped.
    wards
        ``ward_code`` and, when the analysis has run, ``can_id`` (<NA> outside any
        Community Action Neighbourhood).
    on
        Today.
    months
        The verification period.
    ward_codes
        Only records in these wards (None: every ward).

    Returns
    -------
    DataFrame
        :data:`DUE_COLUMNS`: ``register``, ``record_id``, ``name``, ``category``,
        ``status`` and ``last_verified`` (as stored), ``ward_code``, ``can_id`` (<NA>
        outside any CAN), ``checked`` (datetime64, NaT: never checked) and
        ``months_since`` (Int64, <NA> when never checked). Never-checked records come
        first, then by ``checked`` ascending; ties by name, then id. Closed records are
        left out.
    """
    cutoff = pd.Timestamp(months_before(on, months))
    can_of = _can_of(wards)
    parts = []
    for register, id_column in ID_COLUMNS.items():
        frame = records.get(register)
        if frame is None or len(frame) == 0:
            continue
        for needed in (id_column, "ward_code"):
            if needed not in frame.columns:
                raise ValueError(f"{register} has no column {needed!r}; columns present: "
                                 f"{', '.join(map(str, frame.columns))}")
        keep = in_service(frame).to_numpy(dtype=bool, copy=True)
        if ward_codes is not None:
            keep = keep & frame["ward_code"].isin(list(ward_codes)).to_numpy(dtype=bool)
        frame = frame[keep]
        verified = _column(frame, "last_verified")
        checked = checked_dates(verified)
        due = (checked.isna() | (checked < cutoff)).to_numpy(dtype=bool)
        frame, verified, checked = frame[due], verified[due], checked[due]
        category = "category" if register == "groups" else "type"
        parts.append(pd.DataFrame({
            "register": register,
            "record_id": frame[id_column].astype(str).to_numpy(),
            "name": _column(frame, "name").to_numpy(),
            "category": _column(frame, category).to_numpy(),
            "status": _column(frame, "status").to_numpy(),
            "ward_code": frame["ward_code"].astype("object").to_numpy(),
            "last_verified": verified.to_numpy(),
            "checked": checked.to_numpy(),
        }))
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in DUE_COLUMNS})
        empty["checked"] = pd.Series(dtype="datetime64[ns]")
        empty["months_since"] = pd.Series(dtype="Int64")
        return empty
    due = pd.concat(parts, ignore_index=True)
    due["can_id"] = due["ward_code"].map(can_of).astype("object")
    due["months_since"] = pd.array(
        [pd.NA if pd.isna(c) else months_since(c.date(), on) for c in due["checked"]],
        dtype="Int64")
    due = due.assign(_never=due["checked"].isna(),
                     _name=due["name"].fillna("").astype(str).str.lower())
    due = due.sort_values(["_never", "checked", "_name", "record_id"],
                          ascending=[False, True, True, True], kind="stable")
    return due[DUE_COLUMNS].reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("object")
    return pd.Series(None, index=frame.index, dtype="object")


def _can_of(wards: pd.DataFrame) -> pd.Series:
    if wards is None or "can_id" not in wards.columns:
        return pd.Series(dtype="object")
    can = wards.set_index("ward_code")["can_id"].astype("object")
    return can.where(can.notna() & can.astype(str).str.strip().ne(""), None)


def verified_note(value: object, *, on: date) -> dict:
    """How fresh a ``last_verified`` value is: the date shown and whether it is due for
    re-checking, as the incident page and call sheet show it."""
    period = VERIFICATION_MONTHS
    checked = checked_date(value)
    if checked is None:
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else str(value)
        return {
            "date": text or None,
            "stale": True,
            "note": "No date recorded: check before use",
            "age": "no date recorded",
        }
    stale = is_due(checked, on)
    months = months_since(checked, on)
    note = f"Not checked for over {period} months: check before use" if stale else ""
    age = f"{months} months ago" if months > period else f"over {period} months ago"
    return {
        "date": f"{checked.day} {checked:%b %Y}",
        "iso": checked.isoformat(),
        "stale": stale,
        "note": note,
        "age": age if stale else "",
    }
