"""Open Referral UK (ORUK v1) tabular data packages: the format itself.

What the reader (:mod:`mapper.sources.openreferral`) and the writer
(:func:`mapper.exports.write_package`) share: the tables and their exact columns, file
names, field types and foreign keys, the taxonomy vocabulary and ``datapackage.json``
marker of a package this app wrote, the stable ids it gives the rows, and opening hours
in both forms (ORUK ``regular_schedule`` rows, OpenStreetMap-style text in the registers).
"""

from __future__ import annotations

import re
import uuid

#: the taxonomy vocabulary of our categories, and the datapackage.json key marking a
#: package written here
VOCABULARY = "mapper"
MARKER = "x-mapper"

# fmt: off
#: ORUK v1 tables read or written, with their exact columns (docs/DATA-FORMATS.md, 4)
FIELDS: dict[str, list[str]] = {
    "organization": [
        "id", "name", "alternate_name", "description", "email", "url", "tax_status", "tax_id",
        "year_incorporated", "legal_status", "logo", "uri", "assured_date",
    ],
    "service": [
        "id", "organization_id", "program_id", "name", "alternate_name", "description", "url",
        "email", "status", "interpretation_services", "application_process", "wait_time",
        "fees", "accreditations", "licenses", "taxonomy_ids", "deliverable_type",
        "assured_date", "attending_type", "attending_access",
    ],
    "location": [
        "id", "organization_id", "name", "alternate_name", "description", "transportation",
        "latitude", "longitude",
    ],
    "service_at_location": ["id", "service_id", "location_id", "description"],
    "physical_address": [
        "id", "location_id", "attention", "address_1", "address_2", "address_3", "address_4",
        "city", "region", "state_province", "postal_code", "country", "uprn",
    ],
    "phone": [
        "id", "location_id", "service_id", "organization_id", "contact_id",
        "service_at_location_id", "number", "extension", "type", "language", "description",
        "department",
    ],
    "contact": [
        "id", "organization_id", "service_id", "service_at_location_id", "name", "title",
        "department", "email", "personal_data", "sensitive_data",
    ],
    "regular_schedule": [
        "id", "service_id", "location_id", "service_at_location_id", "weekday", "opens_at",
        "closes_at", "valid_from", "valid_to", "dtstart", "freq", "interval", "byday",
        "bymonthday", "description",
    ],
    "language": ["id", "service_id", "location_id", "language"],
    "service_taxonomy": ["id", "service_id", "eligibility_id", "taxonomy_id", "taxonomy_detail"],
    "taxonomy": ["id", "name", "parent_id", "parent_name", "vocabulary"],
}
# fmt: on
FILE_NAMES = {
    "organization": "organizations.csv",
    "service": "services.csv",
    "location": "locations.csv",
    "service_at_location": "services_at_location.csv",
    "physical_address": "physical_addresses.csv",
    "phone": "phones.csv",
    "contact": "contacts.csv",
    "regular_schedule": "regular_schedules.csv",
    "language": "languages.csv",
    "service_taxonomy": "service_taxonomies.csv",
    "taxonomy": "taxonomies.csv",
}
CORE = ("organization", "service", "location")
#: Frictionless field types other than string
FIELD_TYPES = {
    "latitude": "number",
    "longitude": "number",
    "weekday": "integer",
    "assured_date": "date",
    "valid_from": "date",
    "valid_to": "date",
    "opens_at": "time",
    "closes_at": "time",
}
FOREIGN_KEYS = {
    "service": [("organization_id", "organization")],
    "location": [("organization_id", "organization")],
    "service_at_location": [("service_id", "service"), ("location_id", "location")],
    "physical_address": [("location_id", "location")],
    "phone": [("service_id", "service"), ("location_id", "location")],
    "contact": [("service_id", "service")],
    "regular_schedule": [
        ("service_id", "service"),
        ("service_at_location_id", "service_at_location"),
    ],
    "language": [("service_id", "service")],
    "service_taxonomy": [("service_id", "service"), ("taxonomy_id", "taxonomy")],
}
#: namespace of the stable UUIDs given to the organisations, locations ... of an export
ID_NAMESPACE = uuid.UUID("0b7b6a2e-54c5-4d33-9a4c-5f0c3c1f6e21")


def stable_id(kind: str, key: str) -> str:
    """The id a written package gives the `kind` row of record `key` (the same on every
    export, so a package can be compared with the last one)."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{key}"))


def iso_date(text: str) -> str | None:
    """The YYYY-MM-DD a date or date-time text starts with (the text itself otherwise)."""
    match = re.match(r"(\d{4}-\d{2}-\d{2})", text or "")
    return match[1] if match else (text or None)


# -- opening hours -------------------------------------------------------------------

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    name: i
    for i, day in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    for name in (day, day[:3], day[:2])
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})")
_DAYS_PART = r"[A-Z][a-z](?:-[A-Z][a-z])?"
_TIMES_PART = r"\d{2}:\d{2}-\d{2}:\d{2}"
_RULE = re.compile(
    rf"^(?P<days>{_DAYS_PART}(?:,{_DAYS_PART})*)\s+(?P<times>{_TIMES_PART}(?:,{_TIMES_PART})*)$"
)

Hours = list[tuple[int, str, str]]  # (day 0 = Monday, opens "HH:MM", closes "HH:MM")


def render_hours(hours: Hours) -> str | None:
    """Opening hours in the OpenStreetMap style the registers use.

    Days with the same times are written together, runs of three or more as a range:
    ``[(0, "09:00", "17:00"), ...(4, ...)]`` -> ``"Mo-Fr 09:00-17:00"``; different times
    on different days -> ``"Mo 09:00-17:00; Tu 10:00-12:00"``. None when there are none.
    """
    by_day: dict[int, list[tuple[str, str]]] = {}
    for day, opens, closes in hours:
        slots = by_day.setdefault(day, [])
        if (opens, closes) not in slots:
            slots.append((opens, closes))
    groups: dict[tuple, list[int]] = {}
    for day in sorted(by_day):
        groups.setdefault(tuple(sorted(by_day[day])), []).append(day)
    rules = []
    for same, days in sorted(groups.items(), key=lambda item: item[1][0]):
        times = ",".join(f"{o}-{c}" for o, c in same)
        rules.append(f"{_day_list(days)} {times}")
    return "; ".join(rules) or None


def _day_list(days: list[int]) -> str:
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAYS[run[0]]}-{DAYS[run[-1]]}")
        else:
            parts.extend(DAYS[d] for d in run)
    return ",".join(parts)


def parse_hours(text: str | None) -> Hours | None:
    """The inverse of :func:`render_hours`; None for anything it does not write.

    Reads rules such as ``"Mo-Fr 09:00-17:00; Sa 10:00-12:00,13:00-16:00"``; other
    OpenStreetMap forms (``24/7``, ``PH off``, month ranges) give None.
    """
    if text is None or not str(text).strip():
        return None
    hours: Hours = []
    for rule in str(text).split(";"):
        match = _RULE.match(rule.strip())
        if match is None:
            return None
        days: list[int] = []
        for part in match["days"].split(","):
            ends = part.split("-")
            if any(e not in DAYS for e in ends):
                return None
            first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
            days.extend((first + k) % 7 for k in range((last - first) % 7 + 1))
        for span in match["times"].split(","):
            opens, closes = span.split("-")
            hours.extend((d, opens, closes) for d in days)
    return hours


def clock(text: str) -> str | None:
    """'09:00', '9:00', '09:00:00', '09:00Z', '09:00+01:00' -> '09:00'."""
    match = _TIME.match(str(text).strip())
    if match is None or int(match[1]) > 24 or int(match[2]) > 59:
        return None
    return f"{int(match[1]):02d}:{match[2]}"


def schedule_days(byday: str, weekday: str) -> list[int] | None:
    """Days of a regular_schedule row: ``byday`` (MO,TU ...) wins over ``weekday``.

    ``weekday`` may be a day name or a number: 1-6 are Monday-Saturday in both the ISO
    (1-7) and the Sunday-first (0-6) conventions, and 0 and 7 are both Sunday.
    """
    if byday.strip():
        tokens = [t.strip().upper() for t in byday.split(",")]
        if any(t not in BYDAY for t in tokens):
            return None  # monthly rules such as 2MO or -1FR are not weekly opening hours
        return [BYDAY.index(t) for t in tokens]
    value = weekday.strip().lower()
    if value.isdigit() and 0 <= int(value) <= 7:
        return [(int(value) - 1) % 7]
    return [_DAY_NAMES[value]] if value in _DAY_NAMES else None
