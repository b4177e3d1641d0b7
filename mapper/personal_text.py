"""Contact details hiding in free text, found once, on import (the one place for the rule).

E-mail addresses and UK phone numbers turn up in fields meant for the public: a warm
space's description ("ring Jo on 07700 900123"), opening hours ("email first:
jo@example.org"), an address, a group whose name is a phone number. They are personal
data (``mapper.registers.PERSONAL_COLUMNS``), so on import (:func:`protect`, called by
``mapper.pipeline.gather_registers`` for every file of every register):

* each match is replaced in the text by :data:`HIDDEN` (the text stays readable for
  everyone);
* for groups, the matches are kept in ``contact_notes`` ("description: jo@example.org"),
  a personal column: shown only to users with contact rights, left out of exports unless
  personal data is asked for, like the phone and e-mail fields. Premises and incidents
  have no contact fields, so their matches are dropped (the count is reported).

A Charity Commission contact address is a correspondence address, often a trustee's
home: it moves to ``contact_notes`` too, and the public ``address`` keeps only the
postcode district ("E1"), as does ``postcode``; the record's ``location_source`` already
says it is placed at a correspondence address, and the map says so.

What an officer types in free text is checked with :func:`find` too (mapper/editing.py);
the contact fields' own formats are checked in ``mapper.registers.contact_value``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from mapper.postcodes import outward_code

#: an e-mail address anywhere in a text
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: a UK phone number anywhere in a text: 0 or +44 then 9 or 10 digits, spaces, hyphens or
#: brackets between them ("020 7946 0000", "(0113) 496 0000", "+44 7700 900123",
#: "+44 (20) 7946 0000", "44 (20) 7946 0000"); times ("09:00-17:00"), dates and charity
#: numbers do not match
PHONE = re.compile(
    r"(?<![\w.+])(?:(?:\+44|44(?=\s?\())[\s-]?(?:\(0\)[\s-]?|\()?|\(?0)\d(?:[\s)-]{0,2}\d){8,9}"
    r"(?!\d)"
)
#: what replaces a contact detail in public text
HIDDEN = "[contact details hidden]"
#: free-text fields searched, per register
FREE_TEXT = {
    "groups": ("name", "description", "communities_served", "languages", "address",
               "opening_hours", "emergency_offer"),
    "premises": ("name", "address"),
    "incidents": ("description", "location_description", "outcome"),
}
#: the personal column holding what was found (groups only)
NOTES = "contact_notes"
#: location_source of records placed at a Charity Commission correspondence address
CORRESPONDENCE = "correspondence address"
#: what map tooltips and popups say of such a record
CORRESPONDENCE_NOTE = "placed at a correspondence address, not where it works"

_ANY = re.compile(f"{EMAIL.pattern}|{PHONE.pattern}")


def find(text: object) -> list[str]:
    """The e-mail addresses and UK phone numbers in `text`, in order ([] for no text)."""
    if not isinstance(text, str) or not text:
        return []
    return [m.group(0).strip() for m in _ANY.finditer(text)]


def redact(text: object) -> object:
    """`text` with every contact detail replaced by :data:`HIDDEN` (non-text unchanged)."""
    if not isinstance(text, str) or not text:
        return text
    return _ANY.sub(HIDDEN, text)


def is_correspondence(location_source: object) -> bool:
    """Whether a record's location was taken from correspondence (so is personal)."""
    return isinstance(location_source, str) and CORRESPONDENCE in location_source


def protect(frame: pd.DataFrame, register: str) -> tuple[pd.DataFrame, int]:
    """`frame` with contact details moved out of its free text (see the module doc), and
    how many records had any. Running it again changes nothing."""
    fields = [c for c in FREE_TEXT.get(register, ()) if c in frame.columns]
    out = frame.copy()
    keep = register == "groups"
    if keep and NOTES not in out:
        out[NOTES] = pd.Series([None] * len(out), index=out.index, dtype="object")
    found: dict[object, list[str]] = {}
    for column in fields:
        values = out[column]
        hit = _contains_contact(values)
        for index in hit[hit].index:
            original = values.at[index]
            found.setdefault(index, []).append(
                f"{column.replace('_', ' ')}: {', '.join(find(original))}"
            )
            out.at[index, column] = redact(original)
    if keep and "location_source" in out and "address" in out:
        letters = out["location_source"].map(is_correspondence)
        for index in letters[letters].index:
            address, postcode = out.at[index, "address"], out.at[index, "postcode"]
            if isinstance(address, str) and address and address != HIDDEN:
                whole = ", ".join(str(v) for v in (address, postcode) if isinstance(v, str))
                found.setdefault(index, []).append(f"correspondence address: {whole}")
            out.at[index, "address"] = None
            out.at[index, "postcode"] = outward_code(postcode)
    if keep:
        for index, notes in found.items():
            old = out.at[index, NOTES]
            old = old if isinstance(old, str) and old else ""
            new = [n for n in notes if n not in old]
            out.at[index, NOTES] = "; ".join([old, *new] if old else new) or None
    return out, len(found)


def _contains_contact(values: pd.Series) -> pd.Series:
    """Whether each value's text holds a contact detail; the pattern is tried once per
    distinct text (an incident file repeats its places and outcomes thousands of times)."""
    text = values.astype("string").fillna("").to_numpy(dtype=object)
    codes, uniques = pd.factorize(text)
    found = np.array([_ANY.search(u) is not None for u in uniques.tolist()] + [False])
    return pd.Series(found[codes], index=values.index, dtype=bool)


def found_message(records: int, register: str) -> str:
    """The import warning for `records` records with contact details in their text."""
    kept = ("kept in contact_notes (shown only to users with contact rights)"
            if register == "groups" else "removed (this register has no contact fields)")
    return (f"{records:,} {register} had e-mail addresses, phone numbers or a correspondence "
            f"address in public text fields: replaced by '{HIDDEN}', the details {kept}")
