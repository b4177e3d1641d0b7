"""vCard 3.0 (RFC 2426) contact cards, for a phone's or mail client's address book.

One card per group: ``FN`` and ``ORG`` (the group's name), ``TEL``, ``EMAIL``, ``URL``,
``ADR`` (the address as its street line, and the postcode), ``CATEGORIES`` (its contact
roles, so a phone can group tension-monitoring contacts) and a ``NOTE`` saying the roles,
whether the group agreed to be contacted in an emergency and when that was last
confirmed. Version 3.0 because every common address book imports it (Android, iOS,
Outlook, Thunderbird, Google Contacts); text is escaped as RFC 6350 section 3.4 says
(backslash, comma, semicolon, and line breaks as ``\\n``), lines end in CRLF and lines
longer than 75 octets are folded (RFC 6350 section 3.2), never inside a UTF-8 character.
"""

from __future__ import annotations

from collections.abc import Iterable

from mapper.missing import NOT_RECORDED, is_missing

#: the longest line before folding, in octets (RFC 6350 3.2)
LINE_OCTETS = 75
CRLF = "\r\n"


def escape(value: object) -> str:
    """A text value escaped for a vCard property (RFC 6350 3.4)."""
    text = str(value).replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """`line` folded at 75 octets: CRLF and a space before each continuation."""
    data = line.encode("utf-8")
    if len(data) <= LINE_OCTETS:
        return line
    parts, start, limit = [], 0, LINE_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, LINE_OCTETS - 1  # continuation lines begin with a space
    return (CRLF + " ").join(parts)


def card(record: dict) -> str:
    """One VCARD for a group's record (missing values leave their property out)."""

    def have(name: str) -> bool:
        return not is_missing(record.get(name))

    name = escape(record.get("name") if have("name") else record.get("group_id"))
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{name}", "N:;;;;", f"ORG:{name}",
             "X-ABShowAs:COMPANY"]
    if have("group_id"):
        lines.append(f"UID:{escape('mapper-group-' + str(record['group_id']))}")
    if have("phone"):
        lines.append(f"TEL;TYPE=WORK,VOICE:{escape(record['phone'])}")
    if have("email"):
        lines.append(f"EMAIL;TYPE=INTERNET:{escape(record['email'])}")
    if have("website"):
        lines.append(f"URL:{escape(record['website'])}")
    if have("address") or have("postcode"):
        street = escape(record["address"]) if have("address") else ""
        postcode = escape(record["postcode"]) if have("postcode") else ""
        lines.append(f"ADR;TYPE=WORK:;;{street};;;{postcode};United Kingdom")
    roles = [] if not have("contact_role") else [
        r.strip() for r in str(record["contact_role"]).split(";") if r.strip()]
    if roles:
        lines.append("CATEGORIES:" + ",".join(escape(r) for r in roles))
    lines.append(f"NOTE:{escape(note(record))}")
    lines.append("END:VCARD")
    return "".join(fold(line) + CRLF for line in lines)


def note(record: dict) -> str:
    """What a card's NOTE says: contact person, roles, emergency consent and its date,
    and a location to check (``location_note``)."""
    def shown(name: str) -> str:
        value = record.get(name)
        return NOT_RECORDED if is_missing(value) else str(value)

    parts = []
    if not is_missing(record.get("contact_name")):
        parts.append(f"Contact: {record['contact_name']}.")
    parts += [f"Role: {shown('contact_role')}.",
              f"Agreed to be contacted in an emergency: {shown('emergency_consent')} "
              f"(last confirmed: {shown('consent_confirmed')}).",
              f"Record last verified: {shown('last_verified')}."]
    if record.get("status") == "temporarily closed":
        parts.append("Status: temporarily closed.")
    if not is_missing(record.get("location_note")):
        parts.append(f"Location: {record['location_note']}.")
    return " ".join(parts)


def cards(records: Iterable[dict]) -> str:
    """Every record's card, one after another (a .vcf file's text)."""
    return "".join(card(r) for r in records)
