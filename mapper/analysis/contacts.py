"""Contact lists: the groups to call in a neighbourhood, ward, borough or around a point.

The seeds of the project ask for "a comprehensive list of local voluntary and community
groups with key contact information and a distribution system at neighbourhood level" and
"an up to date list of contacts for community tension monitoring". This module decides
which groups a list holds and in what order; who may see their contact details, and the
audit of every view and export, are the web app's (``mapper.web.contacts``), and the file
formats are ``mapper.vcard`` and ``mapper.exports``.

A list holds the groups in service (:func:`mapper.analysis._tables.in_service`: closed
groups are left out; temporarily closed and unknown ones stay, marked by their status)
whose point lies in the scope:

* a Community Action Neighbourhood, a ward or a borough: the groups whose ``ward_code``
  is one of its wards (a neighbourhood's wards from its ``ward_codes``, a borough's from
  the wards' ``borough_code``), ordered by ward name, then group name;
* a radius around a point (EPSG:27700 metres): the groups at a straight-line distance
  of at most ``radius_m`` (a group exactly on the circle is in), nearest first.

Like the rest of :mod:`mapper.analysis`, imports only ``mapper.geo`` and libraries (the
vocabularies are passed in by callers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper.analysis._tables import check_frame, check_radius, in_service, point_xy
from mapper.can_history import resolve_id

#: the kinds of scope a list can have, in the order forms offer them
SCOPE_KINDS = ("neighbourhood", "ward", "borough", "radius")
#: the largest radius a list may have, in metres (a list is for a neighbourhood, not a city)
RADIUS_MAX_M = 10_000
#: the radius a form offers first, in metres
RADIUS_DEFAULT_M = 1_000

#: columns of the register a list carries (no personal data: that is joined by the caller)
LIST_COLUMNS = ("group_id", "name", "category", "status", "address", "postcode",
                "location_note", "ward_code", "borough_code", "last_verified")


@dataclass(frozen=True)
class Scope:
    """Which groups a contact list holds.

    ``label`` is for the page ("ward Whitechapel (E05009331)", "1,000 m around postcode
    E1 6AN"); ``audit_label`` is what the audit trail may say (never a postcode or a
    coordinate, which could point at a person's home).
    """

    kind: str
    code: str
    label: str
    audit_label: str
    ward_codes: tuple[str, ...] = ()
    x: float | None = None
    y: float | None = None
    radius_m: float | None = None


def area_scope(kind: str, code: str, wards: pd.DataFrame,
               neighbourhoods: pd.DataFrame | None = None) -> Scope:
    """The scope of one neighbourhood (CAN id), ward or borough (GSS code).

    Parameters
    ----------
    kind
        "neighbourhood", "ward" or "borough".
    code
        The CAN id (``CAN-01``; any case and zero padding) or the ward or borough code.
    wards
        ``ward_code``, ``ward_name``, ``borough_code`` and ``borough_name`` per ward.
    neighbourhoods
        ``can_id``, ``name`` and ``ward_codes`` ("; "-joined) per CAN, for kind
        "neighbourhood".

    Raises
    ------
    ValueError
        For an unknown kind or code, listing the valid ones.
    """
    table = pd.DataFrame(wards)
    if kind == "ward":
        rows = table[table["ward_code"] == code]
        if rows.empty:
            raise ValueError(f"there is no ward {code!r}; the wards are "
                             + _listed(table["ward_code"], table["ward_name"]))
        name = str(rows["ward_name"].iloc[0])
        label = f"ward {name} ({code})"
        return Scope("ward", code, label, label, (code,))
    if kind == "borough":
        rows = table[table["borough_code"] == code]
        if rows.empty:
            boroughs = table.drop_duplicates("borough_code")
            raise ValueError(f"there is no borough {code!r}; the boroughs are "
                             + _listed(boroughs["borough_code"], boroughs["borough_name"]))
        name = str(rows["borough_name"].iloc[0])
        label = f"borough {name} ({code})"
        return Scope("borough", code, label, label, tuple(sorted(rows["ward_code"])))
    if kind == "neighbourhood":
        cans = pd.DataFrame(neighbourhoods) if neighbourhoods is not None else pd.DataFrame(
            columns=["can_id", "name", "ward_codes"])
        code = resolve_id(code, cans["can_id"].astype(str)) or code  # can-1, CAN-001
        rows = cans[cans["can_id"] == code]
        if rows.empty:
            known = _listed(cans["can_id"], cans["name"]) if len(cans) else "none"
            raise ValueError(f"there is no Community Action Neighbourhood {code!r}; the "
                             f"neighbourhoods are {known}")
        codes = tuple(sorted(c.strip() for c in str(rows["ward_codes"].iloc[0]).split(";")
                             if c.strip()))
        label = f"neighbourhood {code} {rows['name'].iloc[0]}"
        return Scope("neighbourhood", code, label, label, codes)
    raise ValueError(f"unknown scope {kind!r}; expected one of {', '.join(SCOPE_KINDS)}")


def radius_scope(x: float, y: float, radius_m: float, *, where: str,
                 audit_where: str) -> Scope:
    """The scope of every group within `radius_m` metres of the point (x, y).

    Parameters
    ----------
    x, y
        The centre in EPSG:27700 metres.
    radius_m
        From 1 to :data:`RADIUS_MAX_M` metres.
    where, audit_where
        The centre as the page says it ("postcode E1 6AN") and as the audit trail may
        ("a point in ward Whitechapel (E05009331)").

    Raises
    ------
    ValueError
        For a centre that is not finite or a radius out of range.
    """
    if not (math.isfinite(float(x)) and math.isfinite(float(y))):
        raise ValueError(f"the centre must be finite EPSG:27700 metres; got {x!r}, {y!r}")
    radius = check_radius(radius_m)
    if not 1 <= radius <= RADIUS_MAX_M:
        raise ValueError(f"the radius must be from 1 to {RADIUS_MAX_M:,} metres; got "
                         f"{radius_m!r}")
    distance = f"{radius:,.0f} m"
    return Scope("radius", "", f"{distance} around {where}", f"{distance} around "
                 f"{audit_where}", x=float(x), y=float(y), radius_m=radius)


def select_groups(groups: gpd.GeoDataFrame, scope: Scope,
                  ward_names: dict[str, str] | None = None) -> pd.DataFrame:
    """The groups in service within `scope`, in list order.

    Parameters
    ----------
    groups
        The groups register in EPSG:27700 (``group_id``, ``ward_code`` and points;
        ``status`` when known).
    scope
        From :func:`area_scope` or :func:`radius_scope`.
    ward_names
        Ward code -> name, to order area lists by ward (else by code).

    Returns
    -------
    DataFrame
        :data:`LIST_COLUMNS` (blank where the register lacks one) and ``distance_m``
        (whole metres from the centre for a radius, else <NA>); a fresh RangeIndex.
        Area lists are ordered by ward name, group name (ignoring case) and id; radius
        lists by distance, name and id.
    """
    check_frame(groups, "groups", ["group_id", "ward_code"])
    chosen = groups[in_service(groups).to_numpy()]
    if scope.kind == "radius":
        x, y = point_xy(chosen, "groups")
        distance = np.hypot(x - scope.x, y - scope.y)
        inside = ~np.isnan(distance) & (distance <= scope.radius_m)
        chosen, distance = chosen[inside], distance[inside]
    else:
        chosen = chosen[chosen["ward_code"].isin(scope.ward_codes).to_numpy()]
        distance = np.full(len(chosen), np.nan)
    out = pd.DataFrame({c: (chosen[c].astype(object) if c in chosen else None)
                        for c in LIST_COLUMNS}, index=chosen.index)
    out["distance_m"] = pd.array(np.round(distance), dtype="Int64")
    out["_distance"] = distance
    names = ward_names or {}
    out["_ward"] = out["ward_code"].map(lambda c: str(names.get(c, c)).lower())
    out["_name"] = out["name"].map(lambda v: "" if _blank(v) else str(v).lower())
    out["_id"] = out["group_id"].astype(str)
    keys = (["_distance", "_name", "_id"] if scope.kind == "radius"
            else ["_ward", "_name", "_id"])
    out = out.sort_values(keys, kind="stable")
    return out.drop(columns=["_distance", "_ward", "_name", "_id"]).reset_index(drop=True)


def with_roles(selected: pd.DataFrame, contacts: dict[str, dict], *,
               role: str | None = None, consent: str | None = None) -> pd.DataFrame:
    """The list's rows whose contacts the user may see, joined to those contacts.

    Parameters
    ----------
    selected
        From :func:`select_groups`.
    contacts
        Group id -> its contact fields, for the groups the user may see (missing ids are
        left out of the list).
    role
        Keep only groups whose ``contact_role`` names this role.
    consent
        Keep only groups whose ``emergency_consent`` is this answer ("yes" or "no").

    Returns
    -------
    DataFrame
        `selected`'s columns and each contact field (None where not recorded), in the
        same order.
    """
    fields = sorted({f for c in contacts.values() for f in c})
    ids = selected["group_id"].astype(str)
    keep = ids.isin(contacts).to_numpy()
    out = selected[keep].copy()
    for field in fields:
        out[field] = [contacts[g].get(field) for g in ids[keep]]
    if role is not None:
        roles = out.get("contact_role", pd.Series(None, index=out.index))
        out = out[roles.map(lambda v: role in role_list(v)).astype(bool).to_numpy()]
    if consent is not None:
        answers = out.get("emergency_consent", pd.Series(None, index=out.index))
        out = out[(answers == consent).to_numpy(dtype=bool)]
    return out.reset_index(drop=True)


def role_list(value: object) -> list[str]:
    """The roles of a ``contact_role`` value ("a; b" -> ["a", "b"]); [] when blank."""
    if _blank(value):
        return []
    return [r.strip() for r in str(value).split(";") if r.strip()]


def _blank(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _listed(codes: pd.Series, names: pd.Series, shown: int = 20) -> str:
    pairs = sorted(zip(codes.astype(str), names.astype(str), strict=True))
    text = ", ".join(f"{c} ({n})" for c, n in pairs[:shown])
    return text + (f" and {len(pairs) - shown:,} more" if len(pairs) > shown else "")
