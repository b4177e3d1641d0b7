"""Whether a group or premises is running, from its source's own signals.

Every record of the groups and premises registers has a ``status``
(:data:`mapper.registers.STATUSES`: open, temporarily closed, closed, unknown) and a
``status_source`` saying where that came from ("Give Food marks it closed (column
'closed')", "end date 2024-03-31 has passed", "not recorded by Warm spaces"). The signals read here:

* a closed flag column (``closed``, ``is closed``, ``permanently closed``): yes -> closed,
  no -> open;
* a status column (``status``, ``operational status`` ...; Open Referral ``status``):
  its words through :data:`WORDS` (active -> open, inactive/defunct -> closed,
  "temporarily closed"/suspended -> temporarily closed);
* an end or removal date column (``end date``, ``date closed``, ``removed`` ...): a date
  that has passed -> closed;
* OpenStreetMap lifecycle prefixes (``disused:amenity``, ``was:amenity``,
  ``abandoned:amenity``, ``disused=yes``) -> closed.

When signals disagree the most closed wins (closed, then temporarily closed, then open).
A record with no signal is "unknown": it still appears in answers (only closed records
are left out, by :func:`mapper.analysis._tables.in_service`).
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd

from mapper.registers import STATUSES

OPEN, TEMPORARY, CLOSED, UNKNOWN = STATUSES
#: a status column's words (lower case, single spaces) -> status
WORDS: dict[str, str] = {
    "open": OPEN, "active": OPEN, "running": OPEN, "operational": OPEN, "yes": OPEN,
    "temporarily closed": TEMPORARY, "temporarily inactive": TEMPORARY,
    "temporarily unavailable": TEMPORARY, "suspended": TEMPORARY, "paused": TEMPORARY,
    "closed temporarily": TEMPORARY,
    "closed": CLOSED, "permanently closed": CLOSED, "inactive": CLOSED, "defunct": CLOSED,
    "ceased": CLOSED, "dissolved": CLOSED, "removed": CLOSED, "deleted": CLOSED,
    "closed permanently": CLOSED, "no": CLOSED,
}
#: column names (normalised: lower case, single spaces) of each kind of signal
FLAG_COLUMNS = ("closed", "is closed", "permanently closed", "closed flag")
STATUS_COLUMNS = ("status", "operational status", "service status", "open status",
                  "operating status")
END_COLUMNS = ("end date", "date closed", "closed date", "closure date", "closed on",
               "removed", "date removed", "removal date", "removed date", "removed on")
#: an end date must look like a date (a time such as "17:00" in an "end" column is not one)
_DATE_LIKE = r"\d{4}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2}"
#: OpenStreetMap lifecycle prefixes that mean the feature no longer works as what it was
OSM_PREFIXES = ("disused", "was", "abandoned", "demolished", "removed")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_RANK = {CLOSED: 3, TEMPORARY: 2, OPEN: 1, UNKNOWN: 0}


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", " ", str(name).lower()).strip()


def _find(columns, names: tuple[str, ...]) -> str | None:
    by_norm = {_norm(c): c for c in columns}
    return next((by_norm[n] for n in names if n in by_norm), None)


def _text(table: pd.DataFrame, column: str) -> pd.Series:
    return table[column].astype("string").str.strip().fillna("")


def from_word(value: str, *, source: str, column: str = "status") -> tuple[str, str]:
    """(status, status_source) of one status word ("active", "inactive" ...)."""
    text = str(value or "").strip()
    if not text:
        return UNKNOWN, f"not recorded by {source}"
    word = re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()
    return WORDS.get(word, UNKNOWN), f"{source}: {column} '{text}'"


#: Open Referral UK service status for each of ours (what an export writes)
OPEN_REFERRAL = {OPEN: "active", TEMPORARY: "temporarily closed", CLOSED: "inactive",
                 UNKNOWN: "active"}


def from_table(table: pd.DataFrame, *, source: str, today: date | None = None,
               status_column: str | None = None) -> tuple[pd.Series, pd.Series]:
    """(status, status_source) of every row of `table`, from its own columns.

    `source` names the publisher in the ``status_source`` texts; `status_column`
    overrides which column holds a status word (else found by :data:`STATUS_COLUMNS`).
    """
    today = today or date.today()
    status = pd.Series(UNKNOWN, index=table.index, dtype=object)
    origin = pd.Series(f"not recorded by {source}", index=table.index, dtype=object)

    def offer(new: pd.Series, why: pd.Series) -> None:
        rank_new = new.map(_RANK).fillna(0)
        better = rank_new > status.map(_RANK)
        status[better] = new[better]
        origin[better] = why[better]

    flag = _find(table.columns, FLAG_COLUMNS)
    if flag is not None:
        text = _text(table, flag)
        lower = text.str.lower()
        new = lower.map(lambda v: CLOSED if v in _TRUE else OPEN if v in _FALSE else UNKNOWN)
        # in words, not "closed = True": the origin is shown to officers and the public
        why = pd.Series(np.where(new == CLOSED, f"{source} marks it closed (column '{flag}')",
                                 np.where(new == OPEN,
                                          f"{source} marks it open (column '{flag}')",
                                          f"{source}: {flag} '" + text + "'")),
                        index=table.index)
        offer(new, why)
    column = status_column or _find(table.columns, STATUS_COLUMNS)
    if column is not None and column in table.columns:
        text = _text(table, column)
        new = text.str.lower().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()
        offer(new.map(WORDS).fillna(UNKNOWN), f"{source}: {column} '" + text + "'")
    end = _find(table.columns, END_COLUMNS)
    if end is not None:
        text = _text(table, end)
        when = pd.to_datetime(text.where(text.str.contains(_DATE_LIKE)), errors="coerce",
                              dayfirst=True, format="mixed", utc=True)
        passed = (when.notna() & (when <= pd.Timestamp(today, tz="UTC"))).to_numpy()
        ahead = (when.notna() & ~passed).to_numpy()
        new = pd.Series(np.where(passed, CLOSED, np.where(ahead, OPEN, UNKNOWN)),
                        index=table.index)
        stamp = when.dt.strftime("%Y-%m-%d").fillna("")
        why = pd.Series(np.where(passed, f"{source}: {end} " + stamp + " has passed",
                                 f"{source}: {end} " + stamp + " not yet reached"),
                        index=table.index)
        offer(new, why)
    return status, origin


def osm_lifecycle(table: pd.DataFrame, *, source: str = "OpenStreetMap"
                  ) -> tuple[pd.Series, pd.Series]:
    """(status, status_source) from OpenStreetMap lifecycle tags: ``disused:amenity``,
    ``was:*``, ``disused=yes`` ... mean closed; otherwise unknown (OSM does not say a
    place is running)."""
    status = pd.Series(UNKNOWN, index=table.index, dtype=object)
    origin = pd.Series(f"not recorded by {source}", index=table.index, dtype=object)
    for col in table.columns:
        name = str(col).strip().lower().removeprefix("other_tags:")  # ogr2ogr's hstore
        prefix = name.split(":", 1)[0]
        if prefix not in OSM_PREFIXES:
            continue
        text = _text(table, col)
        if ":" in name:
            hit = text != ""
        else:  # disused=yes
            hit = text.str.lower().isin(_TRUE)
        new = hit & (status != CLOSED)
        status[new] = CLOSED
        origin[new] = f"{source}: {col}=" + text[new]
    return status, origin


def edited(actor: str, *, verb: str = "set", day: date | None = None) -> str:
    """The ``status_source``/``offer_source`` of an officer's edit ("set by alice on
    3 Nov 2026")."""
    day = day or date.today()
    return f"{verb} by {actor} on {day.day} {day:%b %Y}"
