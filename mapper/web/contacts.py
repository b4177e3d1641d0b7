"""Who may see which group's contact details, and the details themselves.

Contact details (:data:`mapper.registers.PERSONAL_COLUMNS`) are personal data. Officers
and administrators see every group's; a partner (a Joint Action Board member) sees those
of groups in the wards granted to them (ward codes stored with their account, which no
re-analysis changes); nobody else sees any. Views never read the contact columns
themselves: they ask :func:`contacts_for` for the groups they show, and get only what the
signed-in user may see. Responses carrying contacts are marked ``Cache-Control: no-store``,
and each writes one audit row (action ``view``, register ``groups``): who, which page or
API path, and the contact details of how many groups it showed (one row per response
however many lists it holds; never the values, nor the query string, which can hold a
postcode).
"""

from __future__ import annotations

import pandas as pd
from flask import after_this_request, g, request

from mapper.personal_text import HIDDEN
from mapper.registers import PERSONAL_COLUMNS
from mapper.web import data
from mapper.web.auth import current_user


def _table() -> dict[str, dict]:
    """group id -> its ward and contact details: made once per GeoPackage, then changed
    for the groups edited since (:func:`mapper.web.data.with_overlay`)."""

    def build() -> dict[str, dict]:
        groups = data.layer("groups", required=False)
        if groups is None:
            return {}
        columns = [c for c in PERSONAL_COLUMNS if c in groups.columns]
        return {str(row.group_id): _entry(row.ward_code, {c: getattr(row, c) for c in columns})
                for row in groups[["group_id", "ward_code", *columns]].itertuples(index=False)}

    def patch(table: dict, changed: list[str], _before: dict, now: dict) -> dict | None:
        if data.imported("groups") is None:
            return None
        columns = list(PERSONAL_COLUMNS)  # an edit may set one the layer lacks
        table = dict(table)
        for group_id in changed:
            record = now[group_id]
            table.pop(group_id, None)
            if not record.retired:
                table[group_id] = _entry(record.data.get("ward_code"),
                                         {c: record.data.get(c) for c in columns})
        return table

    return data.with_overlay("group_contacts", "groups", build, patch)


def _entry(ward_code, values: dict) -> dict:
    return {"ward_code": ward_code,
            "contact": {c: (None if v is None or (isinstance(v, float) and v != v)
                            or v is pd.NA else str(v)) for c, v in values.items()}}


def partner_wards() -> set[str] | None:
    """Wards whose contacts the current user may see; None: all of them."""
    user = current_user()
    if user.at_least("officer"):
        return None
    if user.role != "partner":
        return set()
    return set(user.wards)


def may_list(ward_codes) -> bool:
    """Whether the current user may see a contact list holding any of `ward_codes`
    (for links from neighbourhood and ward pages)."""
    allowed = partner_wards()
    return allowed is None or bool(allowed & set(ward_codes))


def contacts_for(group_ids, *, keep=None, export: str | None = None) -> dict[str, dict]:
    """group id -> its contact details, for the groups the current user may see.

    `keep` (contact dict -> bool) leaves out groups before they are counted as shown (a
    contact list filtered by role). With `export` (what is exported, e.g. "contact list
    of ward X as CSV") the audit row is an ``export`` row written even when no group is
    in it (every export is audited), instead of a ``view`` row.
    """
    allowed = partner_wards()
    out = {}
    if allowed is None or allowed:
        table = _table()
        for gid in group_ids:
            entry = table.get(str(gid))
            if entry is None:
                continue
            if (allowed is None or entry["ward_code"] in allowed) and (
                    keep is None or keep(entry["contact"])):
                out[str(gid)] = entry["contact"]
    if export is not None:
        no_store()
        _audit_export(export, out)
    elif out:
        no_store()
        _audit(out)
    return out


def _audit_export(what: str, shown: dict[str, dict]) -> None:
    """One ``export`` audit row when the response is sent: who, what, how many groups."""

    @after_this_request
    def _write(response):
        if response.status_code < 400:
            fields = sorted({f for c in shown.values() for f, v in c.items() if v})
            plural = "group" if len(shown) == 1 else "groups"
            data.current()[0].appdb.audit(
                current_user().username, "export", register="groups", fields=fields,
                detail=f"{request.method} {request.path}: {what}: contact details of "
                f"{len(shown):,} {plural}")
        return response


def _audit(shown: dict[str, dict]) -> None:
    """Count the groups whose contacts this response shows; one audit row when it is sent."""
    seen = g.get("_contacts_shown")
    if seen is None:
        seen = g._contacts_shown = {}

        @after_this_request
        def _write(response):
            if response.status_code < 400 and seen:
                fields = sorted({f for c in seen.values() for f, v in c.items() if v})
                one = next(iter(seen)) if len(seen) == 1 else ""
                plural = "group" if len(seen) == 1 else "groups"
                data.current()[0].appdb.audit(
                    current_user().username, "view", register="groups", record_id=one,
                    fields=fields, detail=f"{request.method} {request.path}: contact details "
                    f"of {len(seen):,} {plural}")
            return response

    seen.update(shown)


def no_store() -> None:
    """Keep this response out of shared and browser caches (it holds personal data)."""

    @after_this_request
    def _mark(response):
        response.headers["Cache-Control"] = "no-store"
        return response


def notice() -> str:
    """What the signed-in user can see of contact details, for notices on pages and sheets."""
    allowed = partner_wards()
    found = (f' Contact details found in descriptions, addresses or opening hours read '
             f'"{HIDDEN}" on public pages.')
    if allowed is None:
        return ("You can see every group's contact details (your role: "
                f"{current_user().role}). Keep them within your organisation.")
    if allowed:
        count = len(allowed)
        return (f"You can see the contact details of groups in the {count} ward"
                f"{'' if count == 1 else 's'} granted to you; other groups' are hidden."
                + found)
    if current_user().role == "partner":
        return ("No wards are granted to your account, so contact details are hidden: ask "
                "an administrator to grant yours." + found)
    return ("Contact details are hidden: officers, administrators, and partners for their "
            "own wards, see them after signing in." + found)
