"""What the decision record says about a selection: the wards of every CAN, and what
changed since the previous selection.

A *selection* here is a mapping ``can_id -> ward codes``. The analysis keeps the
selection it replaces (``previous_selection`` in the workspace's metadata, with when and
by whom that one was run), so each record can say what changed since the one before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from mapper.can_history import id_order

#: a current CAN continues a previous one when they share at least this share of the
#: larger one's wards (most of its wards the same)
SAME_CAN_SHARE = 0.5


def selection(can_id: pd.Series) -> dict[str, list[str]]:
    """``can_id -> sorted ward codes`` from a ``can_id`` Series indexed by ward code."""
    members = can_id.dropna().astype(str)
    return {c: sorted(str(w) for w in wards)
            for c, wards in members.groupby(members).groups.items()}


def selection_json(can_id: pd.Series, *, analysed_at: str = "", analysed_by: str = "",
                   analysed_via: str = "") -> str:
    """The selection as stored in the workspace metadata (``previous_selection``), with
    when, by whom and how it was run."""
    return json.dumps({"analysed_at": analysed_at, "analysed_by": analysed_by,
                       "analysed_via": analysed_via, "cans": selection(can_id)},
                      sort_keys=True)


def read_selection(text: str | None) -> dict | None:
    """The stored selection (see :func:`selection_json`), or None when none is recorded
    or the text cannot be read."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("cans"), dict):
        return None
    return data


def selection_changes(previous: Mapping[str, list[str]],
                      current: Mapping[str, list[str]]) -> dict:
    """What changed between two selections.

    Each current CAN is matched to the previous CAN sharing the most wards with it (ties:
    the smaller id), when they share at least :data:`SAME_CAN_SHARE` of the larger one's
    wards; a previous CAN is matched at most once, the current CANs taking their pick in
    id order.

    Returns
    -------
    dict
        ``wards_in`` and ``wards_out`` (ward codes now in some CAN and not before, and
        the reverse, sorted); ``changed`` (rows ``{"can_id", "previous_id", "added",
        "removed"}`` for matched CANs whose wards or id differ); ``new`` (current ids with
        no match); ``gone`` (previous ids with no match); ``unchanged`` (how many CANs
        kept both their id and their wards).
    """
    before = {w for wards in previous.values() for w in wards}
    after = {w for wards in current.values() for w in wards}
    taken: set[str] = set()
    changed, new, unchanged = [], [], 0
    for can_id in sorted(current, key=id_order):
        wards = set(current[can_id])
        best, best_shared = None, 0
        for old_id in sorted(previous, key=id_order):
            if old_id in taken:
                continue
            shared = len(wards & set(previous[old_id]))
            if shared > best_shared:
                best, best_shared = old_id, shared
        if best is None or best_shared < SAME_CAN_SHARE * max(len(wards),
                                                              len(previous[best])):
            new.append(can_id)
            continue
        taken.add(best)
        old = set(previous[best])
        if old == wards and best == can_id:
            unchanged += 1
            continue
        changed.append({"can_id": can_id, "previous_id": best,
                        "added": sorted(wards - old), "removed": sorted(old - wards)})
    return {"wards_in": sorted(after - before), "wards_out": sorted(before - after),
            "changed": changed, "new": new,
            "gone": sorted(set(previous) - taken, key=id_order), "unchanged": unchanged}
