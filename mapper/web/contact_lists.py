"""Contact lists for signed-in officers and partners: the groups of a neighbourhood, a
ward, a borough or an area around a postcode or point, with their contact details, the
role of each contact, whether the group agreed to be contacted in an emergency and when
that was last confirmed; downloadable as CSV and as vCards.

Routes
------
``GET /contacts``
    the form, and the list when a scope is given: ``neighbourhood=CAN-01``,
    ``ward=E05...``, ``borough=E09...``, or ``postcode=`` (or ``lat=`` and ``lon=``) with
    ``radius_m=`` (metres, default 1,000); ``role=`` (one of
    :data:`mapper.registers.CONTACT_ROLES`) and ``consent=yes|no`` narrow it
``GET /contacts.csv``, ``GET /contacts.vcf``
    the same list as a file; every download writes an ``export`` audit row (who, which
    list, how many groups; never the values)

Which groups are in a list is :mod:`mapper.analysis.contacts`; whose contact details the
user may see (partners: the wards granted to them) and the audit trail are
:mod:`mapper.web.contacts`, through which every contact detail here passes. Partners and
above only (anonymous visitors are sent to sign in); every response is ``no-store``.
"""

from __future__ import annotations

import math
import re
from datetime import date

import pandas as pd
from flask import Blueprint, Response, abort, render_template, request, url_for

from mapper import exports, registers, vcard
from mapper.analysis import contacts as lists
from mapper.geo import UK_LONLAT_BOUNDS, grid_from_lonlat
from mapper.missing import NOT_RECORDED, is_missing
from mapper.postcodes import normalise_postcode
from mapper.web import data
from mapper.web.auth import current_user, require_role
from mapper.web.contacts import contacts_for, notice, partner_wards
from mapper.web.security import never_cached

bp = Blueprint("contact_lists", __name__)
never_cached(bp)  # every page and file holds contact details

#: what each answer of ``consent=`` keeps, as the filter offers it
CONSENT_CHOICES = {"yes": "Agreed to be contacted in an emergency",
                   "no": "Did not agree"}
_SCOPE_FIELDS = ("neighbourhood", "ward", "borough", "postcode", "lat", "lon", "radius_m")


# -- the places a user may list ------------------------------------------------------------


def _wards() -> pd.DataFrame:
    wards = data.layer("wards")
    table = pd.DataFrame(wards.drop(columns=wards.geometry.name))
    for column in ("ward_name", "borough_code", "borough_name"):
        if column not in table:
            table[column] = table["ward_code"] if column == "ward_name" else ""
    return table


def _neighbourhoods() -> pd.DataFrame | None:
    cans = data.layer("neighbourhoods", required=False)
    if cans is None or not len(cans):
        return None
    return pd.DataFrame(cans.drop(columns=cans.geometry.name)).sort_values("rank", kind="stable")


def choices() -> dict:
    """The neighbourhoods, wards (by borough) and boroughs the current user may list:
    all of them, or for a partner those holding a ward granted to them."""
    wards = _wards().sort_values(["borough_name", "ward_name", "ward_code"])
    allowed = partner_wards()
    if allowed is not None:
        wards = wards[wards["ward_code"].isin(allowed)]
    by_borough: dict[str, list[dict]] = {}
    for row in wards.itertuples(index=False):
        by_borough.setdefault(str(row.borough_name), []).append(
            {"code": row.ward_code, "name": row.ward_name})
    boroughs = wards.drop_duplicates("borough_code").sort_values("borough_name")
    cans = _neighbourhoods()
    can_rows = []
    for row in ([] if cans is None else cans.itertuples(index=False)):
        codes = {c.strip() for c in str(row.ward_codes).split(";") if c.strip()}
        if allowed is None or codes & allowed:
            can_rows.append({"code": row.can_id, "name": row.name})
    return {"wards": by_borough,
            "boroughs": [{"code": r.borough_code, "name": r.borough_name}
                         for r in boroughs.itertuples(index=False)],
            "neighbourhoods": can_rows}


# -- the query -----------------------------------------------------------------------------


def _text(name: str) -> str:
    return request.args.get(name, "").strip()


def parse_scope() -> tuple[lists.Scope | None, dict[str, str]]:
    """(the scope the query asks for, or None; problems by field name)."""
    errors: dict[str, str] = {}
    for kind in ("neighbourhood", "ward", "borough"):
        code = _text(kind)
        if code:
            try:
                scope = lists.area_scope(kind, code.upper(), _wards(), _neighbourhoods())
            except ValueError as error:
                errors[kind] = f"Choose a {kind} from the list: {error}."
                return None, errors
            return scope, errors
    if not any(_text(n) for n in ("postcode", "lat", "lon")):
        return None, errors
    radius = _radius(errors)
    centre = _centre(errors)
    if errors or centre is None or radius is None:
        return None, errors
    x, y, where = centre
    return lists.radius_scope(x, y, radius, where=where, audit_where=_audit_where(x, y)), errors


def _radius(errors: dict) -> int | None:
    text = _text("radius_m")
    if not text:
        return lists.RADIUS_DEFAULT_M
    if text.isascii() and text.isdigit() and 1 <= int(text) <= lists.RADIUS_MAX_M:
        return int(text)
    errors["radius_m"] = (f"Distance must be a whole number of metres from 1 to "
                          f"{lists.RADIUS_MAX_M:,}; got “{text}”.")
    return None


def _centre(errors: dict) -> tuple[float, float, str] | None:
    typed = _text("postcode")
    if typed:
        postcode = normalise_postcode(typed)
        postcodes = data.postcode_index()
        if postcode is None:
            errors["postcode"] = f"“{typed}” is not a full UK postcode, like AB1 2CD."
        elif postcode not in postcodes.index:
            errors["postcode"] = (f"Postcode {postcode} is not in this workspace's postcode "
                                  "list. Check it, or give a latitude and longitude.")
        else:
            row = postcodes.loc[postcode]
            return float(row["x"]), float(row["y"]), f"postcode {postcode}"
        return None
    numbers = {}
    for name, label in (("lat", "Latitude"), ("lon", "Longitude")):
        try:
            numbers[name] = float(_text(name))
            if not math.isfinite(numbers[name]):
                raise ValueError
        except ValueError:
            errors[name] = f"{label} must be a number in decimal degrees; got “{_text(name)}”."
    if errors:
        return None
    west, south, east, north = UK_LONLAT_BOUNDS
    lat, lon = numbers["lat"], numbers["lon"]
    if not (south <= lat <= north and west <= lon <= east):
        errors["lat"] = (f"Latitude {lat:g}, longitude {lon:g} is outside the UK (latitude "
                         f"{south:g} to {north:g}, longitude {west:g} to {east:g}).")
        return None
    x, y = grid_from_lonlat(lon, lat)
    return x, y, f"latitude {lat:.5f}, longitude {lon:.5f}"


def _audit_where(x: float, y: float) -> str:
    """The centre as the audit trail may name it: its ward, never the postcode or point."""
    wards = data.layer("wards")
    import shapely

    hits = wards.sindex.query(shapely.Point(x, y), predicate="intersects")
    if not len(hits):
        return "a point outside the study area's wards"
    row = wards.iloc[sorted(hits)[0]]
    return f"a point in ward {row['ward_name']} ({row['ward_code']})"


def parse_filters(errors: dict) -> tuple[str | None, str | None]:
    role, consent = _text("role") or None, _text("consent") or None
    if role is not None and role not in registers.CONTACT_ROLES:
        errors["role"] = ("Choose a role from the list: " + ", ".join(registers.CONTACT_ROLES)
                          + f"; got “{role}”.")
        role = None
    if consent is not None and consent not in CONSENT_CHOICES:
        errors["consent"] = f"Choose yes or no for emergency consent; got “{consent}”."
        consent = None
    return role, consent


def query_args(scope: lists.Scope, role: str | None, consent: str | None) -> dict:
    """The query string of a list (for its download links and filter form)."""
    args = {k: _text(k) for k in _SCOPE_FIELDS if _text(k)}
    if scope.kind != "radius":
        args = {scope.kind: scope.code}
    if role:
        args["role"] = role
    if consent:
        args["consent"] = consent
    return args


# -- the list --------------------------------------------------------------------------------


def contact_list(scope: lists.Scope, role: str | None, consent: str | None, *,
                 export: str | None = None) -> tuple[pd.DataFrame, int]:
    """(the rows the user may see, how many groups of the scope are hidden from them)."""
    wards = _wards()
    names = dict(zip(wards["ward_code"], wards["ward_name"], strict=False))
    groups = data.layer("groups", required=False)
    if groups is None or not len(groups):
        selected = pd.DataFrame(columns=[*lists.LIST_COLUMNS, "distance_m"])
    else:
        selected = lists.select_groups(groups, scope, names)

    def keep(contact: dict) -> bool:
        return ((role is None or role in lists.role_list(contact.get("contact_role")))
                and (consent is None or contact.get("emergency_consent") == consent))

    what = None if export is None else f"contact list of {scope.audit_label}" + (
        f", {role}s" if role else "") + (
        f", emergency consent {consent}" if consent else "") + f" as {export}"
    shown = contacts_for(selected["group_id"].astype(str), keep=keep, export=what)
    allowed = partner_wards()
    hidden = 0 if allowed is None else int((~selected["ward_code"].isin(allowed)).sum())
    rows = lists.with_roles(selected, shown, role=role, consent=consent)
    boroughs = dict(zip(wards["ward_code"], wards["borough_name"], strict=False))
    rows["ward_name"] = rows["ward_code"].map(names)
    rows["borough_name"] = rows["ward_code"].map(boroughs)
    return rows, hidden


def _page_rows(rows: pd.DataFrame) -> list[dict]:
    out = []
    for record in rows.to_dict("records"):
        record = {k: (None if is_missing(v) else v) for k, v in record.items()}
        record["roles"] = lists.role_list(record.get("contact_role"))
        record["consent"] = record.get("emergency_consent") or NOT_RECORDED
        out.append(record)
    return out


@bp.get("/contacts")
@require_role("partner")
def page():
    scope, errors = parse_scope()
    role, consent = parse_filters(errors)
    rows, hidden = (contact_list(scope, role, consent) if scope is not None
                    else (None, 0))
    args = query_args(scope, role, consent) if scope is not None else {}
    filter_args = {k: v for k, v in args.items() if k not in ("role", "consent")}
    status = 400 if errors else 200
    return render_template(
        "contacts.html",
        title="Contact lists",
        study_area=data.meta().get("study_area") or "Study area",
        synthetic=str(data.meta().get("synthetic", "")).lower() == "yes",
        choices=choices(),
        scope=scope,
        rows=None if rows is None else _page_rows(rows),
        hidden=hidden,
        errors=errors,
        values={k: _text(k) for k in (*_SCOPE_FIELDS, "role", "consent")},
        role=role,
        consent=consent,
        roles=registers.CONTACT_ROLES,
        consent_choices=CONSENT_CHOICES,
        radius_default=lists.RADIUS_DEFAULT_M,
        radius_max=lists.RADIUS_MAX_M,
        filter_args=filter_args,
        csv_url=url_for(".export_csv", **args) if scope else "",
        vcf_url=url_for(".export_vcf", **args) if scope else "",
        notice=notice(),
        partner=current_user().role == "partner",
    ), status


def _export_scope() -> tuple[lists.Scope, str | None, str | None]:
    scope, errors = parse_scope()
    role, consent = parse_filters(errors)
    if errors or scope is None:
        problems = " ".join(errors.values()) or (
            "Say which list: neighbourhood=, ward= or borough= with its code, or postcode= "
            "(or lat= and lon=) with radius_m=.")
        abort(400, description=problems)
    return scope, role, consent


def _filename(scope: lists.Scope, suffix: str) -> str:
    stem = scope.code or f"{scope.radius_m:.0f}m-around-a-point"
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-")
    return f"contacts-{scope.kind}-{stem}-{date.today().isoformat()}.{suffix}"


@bp.get("/contacts.csv")
@require_role("partner")
def export_csv():
    scope, role, consent = _export_scope()
    rows, _ = contact_list(scope, role, consent, export="CSV")
    body = exports.contact_csv(rows, with_distance=scope.kind == "radius")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_filename(scope, "csv")}"'})


@bp.get("/contacts.vcf")
@require_role("partner")
def export_vcf():
    scope, role, consent = _export_scope()
    rows, _ = contact_list(scope, role, consent, export="vCard")
    text = vcard.cards(rows.to_dict("records"))
    return Response(text, mimetype="text/vcard", headers={
        "Content-Disposition": f'attachment; filename="{_filename(scope, "vcf")}"'})
