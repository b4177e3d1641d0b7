"""Canonical point registers: VCS groups, premises and incidents.

Every source of points (a council spreadsheet, police.uk, the Charity Commission, Open
Referral UK, OpenStreetMap ...) is normalised to one of these three record shapes. The
controlled vocabularies are here; the mapping from each source's own categories to them
is data, in ``mapper/mappings/categories.csv``, which users may edit.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

from mapper import resources
from mapper.geo import CRS_ANALYSIS

MAPPINGS_DIR = resources.mappings_dir()
CATEGORY_MAP_FILE = MAPPINGS_DIR / "categories.csv"

GROUP_CATEGORIES = (
    "faith",
    "community centre",
    "youth",
    "older people",
    "food",
    "advice",
    "health",
    "disability",
    "refugees and migrants",
    "tenants and residents",
    "arts and sport",
    "emergency and resilience",
    # a service a host offers in winter (a library, a church, a centre): what the host is,
    # the source does not say, so it is not a "community centre"
    "warm space",
    "other",
)
EMERGENCY_OFFERS = (
    "rest centre",
    "interpreters",
    "volunteers",
    "food",
    "clothing",
    "first aid",
    "transport",
    "prayer space",
    "phone tree",
)
#: whether a group or premises is running: its source's own signal, an officer's edit, or
#: "unknown" (see mapper/sources/status.py); closed records are kept in the registers,
#: marked, and left out of every answer and figure (mapper.analysis._tables.in_service)
STATUSES = ("open", "temporarily closed", "closed", "unknown")
PREMISES_TYPES = (
    "community centre",
    "place of worship",
    "library",
    "school",
    "hall",
    "food bank",
    "health centre",
    "warm space",
    "pharmacy",
    "polling station",
    "post office",
    "other",
)

#: fields every register has, after its own: where the record came from and where it is.
#: ``location_note`` says when a point needs checking ("placed 3.2 km from its postcode
#: SE1 6TL: check the location", mapper.sources.points.check_placement); blank otherwise
TRACE_COLUMNS = ["source", "source_id", "source_file", "source_row", "location_source",
                 "location_note"]
AREA_COLUMNS = ["lsoa_code", "ward_code", "borough_code"]
DUPLICATE_COLUMNS = ["duplicate_of", "duplicate_reason"]

REGISTER_COLUMNS: dict[str, list[str]] = {
    "groups": [
        "group_id",
        "name",
        "category",
        "description",
        "communities_served",
        "faith",
        "languages",
        "address",
        "postcode",
        "contact_name",
        "phone",
        "email",
        "website",
        "contact_notes",
        "contact_role",
        "emergency_consent",
        "consent_confirmed",
        "opening_hours",
        "emergency_offer",
        "offer_source",
        "charity_number",
        "last_verified",
        "status",
        "status_source",
    ],
    "premises": [
        "premises_id",
        "name",
        "type",
        "religion",
        "address",
        "postcode",
        "capacity",
        "step_free",
        "owning_group_id",
        "last_verified",
        "status",
        "status_source",
    ],
    "incidents": [
        "incident_id",
        "date",
        "month",
        "type",
        "severity",
        "description",
        "location_description",
        "outcome",
    ],
}
ID_COLUMN = {"groups": "group_id", "premises": "premises_id", "incidents": "incident_id"}
#: the column that sorts each register's records into kinds (its vocabulary, for groups
#: and premises)
CATEGORY_COLUMN = {"groups": "category", "premises": "type", "incidents": "type"}

#: personal data under UK GDPR: never logged, shown only to authorised users, left out of
#: exports unless asked for; ``contact_notes`` holds what was found in free text and
#: Charity Commission correspondence addresses (mapper/personal_text.py)
PERSONAL_COLUMNS = ("contact_name", "phone", "email", "website", "contact_notes",
                    "contact_role", "emergency_consent", "consent_confirmed")

# -- contact lists: who to call for what, and whether they agreed ---------------------------

#: what a group's contact is for (``contact_role``: one or more, joined by "; "). A group
#: that is a community tension-monitoring contact is sensitive to say, so the role is
#: personal data like the contact details themselves (PERSONAL_COLUMNS)
CONTACT_ROLES = ("tension-monitoring contact", "emergency contact", "general contact")
#: words in a source file's role values -> the role they mean (checked in this order)
_ROLE_WORDS = (("tension", "tension-monitoring contact"),
               ("cohesion", "tension-monitoring contact"),
               ("emergenc", "emergency contact"), ("resilience", "emergency contact"),
               ("general", "general contact"), ("main", "general contact"),
               ("primary", "general contact"))
#: whether the group agreed to be contacted in an emergency (``emergency_consent``);
#: missing is "not recorded" (never assumed either way). ``consent_confirmed`` is the
#: date (YYYY-MM-DD) the group last confirmed that answer: apart from ``last_verified``
#: (when the record as a whole was last checked), since consent is the group's own word
CONSENT_ANSWERS = ("yes", "no")
_CONSENT_WORDS = {"yes": "yes", "y": "yes", "true": "yes", "t": "yes", "1": "yes",
                  "agreed": "yes", "consented": "yes", "consent given": "yes", "given": "yes",
                  "no": "no", "n": "no", "false": "no", "f": "no", "0": "no",
                  "declined": "no", "refused": "no", "withdrawn": "no", "not given": "no"}
_UNRECORDED = {"", "not recorded", "unknown", "not known", "n/a", "na", "-"}


def contact_roles(value) -> tuple[str | None, list[str]]:
    """(the roles `value` names, in :data:`CONTACT_ROLES` order and joined by "; ", or
    None; the parts not understood). Parts are separated by ";", "," or "/"; each is
    the role's own name or holds a word saying it ("Tension monitoring", "Emergency")."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None, []
    found, unknown = set(), []
    for part in re.split(r"[;,/]|\band\b", str(value)):
        text = part.strip().lower()
        if text in _UNRECORDED:
            continue
        role = text if text in CONTACT_ROLES else next(
            (r for word, r in _ROLE_WORDS if word in text), None)
        if role is None:
            unknown.append(part.strip())
        else:
            found.add(role)
    roles = [r for r in CONTACT_ROLES if r in found]
    return ("; ".join(roles) or None), unknown


def consent_answer(value) -> str | None:
    """"yes", "no" or None (not recorded) for a consent value; ValueError (with what was
    expected) when it is none of those."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower()
    if text in _UNRECORDED:
        return None
    if text in _CONSENT_WORDS:
        return _CONSENT_WORDS[text]
    raise ValueError("yes, no, or blank when not recorded")

REGISTERS = tuple(REGISTER_COLUMNS)

#: the longest text a field may hold, in characters: edits are refused beyond it, imports
#: cut longer values to it and report each one
MAX_TEXT = 2000

#: characters no stored text may hold: NUL, and UTF-16 surrogates (a lone one is not text)
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
BAD_TEXT_EXPECTED = "text without NUL characters or unpaired surrogates (broken Unicode)"


def bad_text(value: str) -> bool:
    """Whether `value` holds characters no stored text may hold (:data:`BAD_TEXT_EXPECTED`)."""
    return bool(_BAD_TEXT.search(value))


# -- contact formats: the one rule for edits, imports and uploads ---------------------------

_EMAIL = re.compile(r"^[^@\s<>\"'\\]+@[^@\s<>\"'\\]+\.[^@\s<>\"'\\]+$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{6,20}(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
_WEBSITE = re.compile(r"^https?://[^\s<>\"'\\]+$", re.IGNORECASE)
#: a bare domain ("www.example.org", "example.org/path"): taken as https://
_BARE_DOMAIN = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?:[/?#][^\s<>\"'\\]*)?$",
    re.IGNORECASE,
)
#: field -> what a value must look like (for messages)
CONTACT_FORMATS = {
    "email": "an e-mail address like name@example.org",
    "phone": "a UK phone number: digits, spaces, brackets, '-' or a leading '+' (and an "
    "extension such as 'x224')",
    "website": "an address starting http:// or https:// (or a bare domain such as "
    "www.example.org, taken as https://)",
}
#: a link the publisher masked ("https://chat.whatsapp.com/[invite-code-removed]",
#: "[redacted]", "xxxx" placeholders): its address is gone, so it is not a usable link
_REDACTED_LINK = re.compile(
    r"[\[<({][^\]>)}]*(?:remov|redact|hidden|delet|withheld|omitted)[^\]>)}]*[\]>)}]"
    r"|(?<![a-z0-9])(?:redacted|x{3,})(?![a-z0-9])",
    re.IGNORECASE,
)
REDACTED_EXPECTED = ("a complete link: this one holds a redaction marker (such as "
                     "'[invite-code-removed]', '[redacted]' or 'xxx'), so its address was "
                     "removed by the publisher")


def redacted_link(value: object) -> bool:
    """Whether a website value holds a redaction marker (:data:`_REDACTED_LINK`)."""
    return isinstance(value, str) and bool(_REDACTED_LINK.search(value))


#: contact fields whose values messages never repeat (personal data)
UNSHOWN = ("email", "phone")


def contact_value(field: str, value: str) -> str:
    """A contact field's value as stored: checked against its format, a bare domain
    given ``https://``. Raises ValueError (with what was expected) when it does not fit
    (e.g. ``javascript:`` or ``data:`` websites); other fields pass unchanged."""
    text = str(value).strip()
    if field == "email" and not _EMAIL.match(text):
        raise ValueError(CONTACT_FORMATS[field])
    if field == "phone" and not _PHONE.match(text):
        raise ValueError(CONTACT_FORMATS[field])
    if field == "website":
        if redacted_link(text):
            raise ValueError(REDACTED_EXPECTED)
        if _BARE_DOMAIN.match(text):
            return "https://" + text
        if not _WEBSITE.match(text):
            raise ValueError(CONTACT_FORMATS[field])
    return text


def shown_value(field: str, value) -> object:
    """What a message may repeat of a field's value."""
    return "(not shown: personal data)" if field in UNSHOWN else value


def columns(register: str) -> list[str]:
    """Every column of a register, in order (geometry last)."""
    return REGISTER_COLUMNS[register] + TRACE_COLUMNS + AREA_COLUMNS + DUPLICATE_COLUMNS


def conform(frame: pd.DataFrame, register: str, geometry) -> gpd.GeoDataFrame:
    """A GeoDataFrame with exactly the register's columns (missing ones blank), EPSG:27700."""
    if register not in REGISTER_COLUMNS:
        raise ValueError(f"unknown register {register!r}; expected one of {', '.join(REGISTERS)}")
    out = pd.DataFrame(index=frame.index)
    for col in columns(register):
        out[col] = (
            frame[col]
            if col in frame.columns
            else pd.Series(pd.NA, index=frame.index, dtype="object")
        )
    return gpd.GeoDataFrame(
        out, geometry=gpd.GeoSeries(geometry, index=frame.index, crs=CRS_ANALYSIS), crs=CRS_ANALYSIS
    )


def empty(register: str) -> gpd.GeoDataFrame:
    return conform(pd.DataFrame(), register, [])


@lru_cache(maxsize=4)
def _category_rows(path: Path) -> tuple[tuple[str, str, str, str, str], ...]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if not r["source"].startswith("#")]
    return tuple(
        (
            r["source"].strip(),
            r["field"].strip(),
            r["value"].strip().lower(),
            r["register"].strip(),
            r["category"].strip(),
        )
        for r in rows
    )


def category_map(
    source: str, register: str, *, path: Path | None = None
) -> dict[tuple[str, str], str]:
    """(field, value lower-cased) -> canonical category or type, for one source.

    The value ``*`` matches anything not listed (the source's default).
    """
    rows = _category_rows(path or CATEGORY_MAP_FILE)
    return {(f, v): c for s, f, v, r, c in rows if s == source and r == register}


def map_categories(
    values: pd.Series, *, source: str, field: str, register: str, path: Path | None = None
) -> pd.Series:
    """Canonical category (groups) or type (premises) for each source value; '' when none."""
    mapping = category_map(source, register, path=path)
    default = mapping.get((field, "*"), mapping.get(("*", "*"), ""))
    lowered = values.astype("string").str.strip().str.lower().fillna("")
    return lowered.map(lambda v: mapping.get((field, v), default)).astype("object")


def vocabulary(register: str) -> tuple[str, ...]:
    return GROUP_CATEGORIES if register == "groups" else PREMISES_TYPES


def gains(register: str, added: pd.DataFrame, removed: pd.DataFrame | None = None,
          *, shown: int = 8) -> str:
    """What an import changed in a register, in total and per category (or type):
    'groups +97 (food +97)'. `removed` holds the records it replaced, if any."""
    key = CATEGORY_COLUMN[register]

    def counts(frame: pd.DataFrame | None) -> pd.Series:
        if frame is None or not len(frame):
            return pd.Series(dtype="int64")
        return frame[key].astype("object").fillna("(none)").value_counts()

    change = counts(added).sub(counts(removed), fill_value=0).astype(int)
    change = change[change != 0]
    order = sorted(change.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    parts = [f"{k} {v:+,}" for k, v in order[:shown]]
    if len(order) > shown:
        parts.append(f"{len(order) - shown} more {key}s")
    total = len(added) - (0 if removed is None else len(removed))
    return f"{register} {total:+,}" + (f" ({', '.join(parts)})" if parts else "")
