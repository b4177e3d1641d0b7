"""Selections of Community Action Neighbourhoods: published versions and officers' drafts.

A *selection* is what an analysis run chose: its settings and, for each CAN, its id, name,
wards (code, name, borough), residents, unmet need and drivers. It is plain JSON
(:func:`selection_of`), so the app database keeps one per published version (each
version's decision record stays available after later runs) and one per draft (a what-if
computed in memory with :func:`mapper.analysis_run.compute_selection`, never written over
the published results).

:func:`compare` sets a draft beside the published selection: which wards are in both, only
in the draft, only in the published one, and what happens to each CAN. Draft CANs are
matched to published ones by ward overlap with the same rule as re-runs
(:func:`mapper.analysis.can_identity.match_neighbourhoods`), so the ids a draft shows are
those it would get if published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mapper.analysis.can_identity import (
    HISTORY_COLUMNS,
    Identity,
    empty_history,
    match_neighbourhoods,
)
from mapper.can_history import id_order

#: a ward's place in a comparison -> what the map legend and the table say
WARD_STATUS = {
    "both": "in both",
    "draft": "only in the draft",
    "published": "only in the published selection",
}
#: what happened to a CAN, draft against published (the order tables list them)
CAN_CHANGE = {
    "changed": "wards changed",
    "new": "new in the draft",
    "revived": "found again in the draft (an id retired before)",
    "retired": "not in the draft",
    "kept": "same wards",
}


def selection_of(wards: pd.DataFrame, cans: pd.DataFrame, settings_json: str) -> dict:
    """The selection (plain JSON) of an analysis: `wards` indexed by ``ward_code`` with
    ``ward_name``, ``can_id`` and optionally ``borough_name``, ``population``; `cans`
    indexed by ``can_id`` with ``rank``, ``name``, ``population``, ``unmet_need``,
    ``top_drivers`` and optionally ``stability``."""
    members: dict[str, list[dict]] = {}
    for code, row in wards[wards["can_id"].notna()].iterrows():
        members.setdefault(str(row["can_id"]), []).append({
            "code": str(code), "name": str(row.get("ward_name", code)),
            "borough": str(row.get("borough_name", "") or ""),
            "population": _number(row.get("population"))})
    out: list[dict] = []
    for can_id, can in cans.iterrows():
        out.append({
            "can_id": str(can_id),
            "rank": int(can["rank"]) if pd.notna(can.get("rank")) else len(out) + 1,
            "name": str(can.get("name", "")),
            "population": _number(can.get("population")),
            "unmet_need": _number(can.get("unmet_need")),
            "stability": _number(can.get("stability")),
            "top_drivers": str(can.get("top_drivers") or ""),
            "reasons": _plain(can.get("reasons")) or "",
            "wards": members.get(str(can_id), []),
            # every figure of the CAN as the run gave it (reasons, counts...), so a
            # version's record can show what later code adds
            "figures": {str(k): _plain(v) for k, v in can.items()
                        if k != "geometry" and _plain(v) is not None},
        })
    return {"settings": settings_json, "cans": out,
            "ward_count": int(len(wards)),
            "population": _number(wards["population"].sum()) if "population" in wards else None}


def _number(value) -> float | None:
    try:
        return None if value is None or pd.isna(value) else float(value)
    except (TypeError, ValueError):
        return None


def _plain(value):
    """A JSON value (str, float, bool) of a frame cell, or None for missing and others."""
    if isinstance(value, (bool, str)):
        return value
    return _number(value) if not isinstance(value, (list, dict, tuple)) else None


def ward_cans(selection: dict) -> dict[str, str]:
    """ward code -> the CAN id it is in, for every ward in a CAN of `selection`."""
    return {w["code"]: can["can_id"] for can in selection["cans"] for w in can["wards"]}


def ward_names(*selections: dict) -> dict[str, str]:
    """Ward code -> ward name over every CAN of the given selections."""
    return {w["code"]: w["name"] for s in selections for can in s["cans"]
            for w in can["wards"]}


def draft_ids(draft: dict, history: list[dict], *, run_at: str) -> Identity:
    """Match a draft's CANs (provisional ids) to those issued so far (`history`: the app
    database's CAN history), by ward overlap, as publishing it would. The residents of
    every ward (``ward_population``, else those of the draft's CAN wards) weigh the
    overlap."""
    rows = [{"rank": c["rank"], "name": c["name"],
             "ward_codes": "; ".join(w["code"] for w in c["wards"])} for c in draft["cans"]]
    cans = pd.DataFrame(rows, index=pd.Index([c["can_id"] for c in draft["cans"]],
                                             name="can_id"),
                        columns=["rank", "name", "ward_codes"])
    population = pd.Series(draft.get("ward_population") or {
        w["code"]: w["population"] or 0.0 for c in draft["cans"] for w in c["wards"]},
        dtype=float)
    frame = pd.DataFrame(history, columns=list(HISTORY_COLUMNS)) if history \
        else empty_history()
    names = pd.Series({w["code"]: w["name"] for c in draft["cans"] for w in c["wards"]},
                      dtype=object)
    return match_neighbourhoods(cans, population, frame, run_at=run_at, ward_names=names)


def renamed(draft: dict, identity: Identity) -> dict:
    """`draft` with its CANs under the ids (and names) `identity` gives them."""
    cans = []
    for can in draft["cans"]:
        final = identity.ids.get(can["can_id"], can["can_id"])
        cans.append(can | {"can_id": final,
                           "name": identity.names.get(final, can["name"])})
    return draft | {"cans": cans}


@dataclass
class Comparison:
    """A draft beside the published selection (:func:`compare`)."""

    #: one row per ward in a CAN of either: code, name, status (:data:`WARD_STATUS`),
    #: published CAN id, draft CAN id ("" when in none)
    wards: list[dict] = field(default_factory=list)
    #: one row per CAN of either: can_id, change (:data:`CAN_CHANGE`), name, wards
    #: gained and lost (names), replaced_by (ids)
    cans: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for w in self.wards if w["status"] == status)


def compare(published: dict, draft: dict, identity: Identity | None = None) -> Comparison:
    """Compare `draft` (CANs already under their would-be ids: :func:`renamed`) with
    `published`. `identity` (:func:`draft_ids`) names the CANs kept, changed, new and
    retired; without it CANs are compared by id alone."""
    old, new = ward_cans(published), ward_cans(draft)
    names = ward_names(published, draft)
    rows = []
    for code in sorted(set(old) | set(new), key=lambda c: (names.get(c, c), c)):
        status = "both" if code in old and code in new else (
            "draft" if code in new else "published")
        rows.append({"code": code, "name": names.get(code, code), "status": status,
                     "label": WARD_STATUS[status], "published_can": old.get(code, ""),
                     "draft_can": new.get(code, "")})
    before = {c["can_id"]: c for c in published["cans"]}
    after = {c["can_id"]: c for c in draft["cans"]}
    cans = []
    for can_id in sorted(set(before) | set(after), key=id_order):
        was = {w["code"] for w in before.get(can_id, {}).get("wards", [])}
        now = {w["code"] for w in after.get(can_id, {}).get("wards", [])}
        if can_id not in after:
            change = "retired"
        elif can_id not in before:
            change = "revived" if identity and can_id in identity.revived else "new"
        else:
            change = "kept" if was == now else "changed"
        replaced = identity.replaced_by.get(can_id, []) if identity else []
        cans.append({
            "can_id": can_id, "change": change, "label": CAN_CHANGE[change],
            "name": (after.get(can_id) or before[can_id])["name"],
            "gained": [names.get(c, c) for c in sorted(now - was)],
            "lost": [names.get(c, c) for c in sorted(was - now)],
            "replaced_by": list(replaced)})
    order = list(CAN_CHANGE)
    cans.sort(key=lambda c: (order.index(c["change"]), id_order(c["can_id"])))
    return Comparison(rows, cans)


def wards_of(selection: dict) -> list[str]:
    """Every ward code of a selection's CANs."""
    return [w["code"] for can in selection["cans"] for w in can["wards"]]

