"""CAN identity across analysis runs: a neighbourhood found again keeps its id and name.

Every run finds the Community Action Neighbourhoods afresh (:func:`mapper.analysis.
neighbourhoods.find_neighbourhoods` numbers them provisionally by rank). This module
matches them to the CANs issued before, so that a bookmark, a printed decision record
or a partner's grant naming ``CAN-05`` keeps meaning the same place.

The rule (one constant, :data:`MATCH_SHARE`)
--------------------------------------------
A new CAN and an earlier one are **linked** when the residents of the wards they share
are more than half of the residents of either of them (most of the new CAN was the
earlier one, or most of the earlier one is in the new CAN; wards weighted by today's
population, by ward count for a CAN without residents). Linked pairs are taken in
order of residents shared, most first, each CAN at most once:

* **found again**: the new CAN takes the earlier id and keeps its name;
* **split**: of the parts linked to one earlier CAN, the part sharing the most residents
  with it keeps the id (ties: the higher-ranked part); the others get new ids;
* **merge**: of the earlier CANs linked to one new CAN, it keeps the id of the one it
  shares the most residents with; the others are retired, replaced by it;
* a new CAN left without an id is matched the same way against retired CANs (ties: the
  most recently active): a CAN that comes back when a setting is changed back gets its
  old id again;
* anything else gets a **new id**, numbered on from the highest id ever issued (ids are
  never reused), in rank order, written as :func:`mapper.can_history.format_id` writes
  it (``CAN-07``, ``CAN-100``: an id issued is never re-padded as the count grows);
* an earlier CAN no new CAN took is **retired**: it stays in the history with the date
  and the CANs that now hold its wards (``replaced_by``).

A kept name is the one the CAN was first given (its highest-need wards then), with the
"and N more" count of its wards today, as long as every ward it names is still in the
CAN; a name that would name a ward the CAN has lost is replaced by this run's name (the
id is kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mapper.can_history import ISSUED_ID, can_number, format_id, typed_number

#: a new CAN and an earlier one are linked when the residents of the wards they share are
#: more than this share of the residents of either of them
MATCH_SHARE = 0.5
#: columns of the CAN history: one row per id ever issued
HISTORY_COLUMNS = ("can_id", "name", "named", "ward_codes", "population", "first_run",
                   "last_run", "retired_at", "replaced_by")
_MORE = re.compile(r" and \d+ more$")


def split_codes(text) -> list[str]:
    """Ward codes from their '; '-joined form (sorted, blanks dropped)."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return sorted(c.strip() for c in str(text).split(";") if c.strip())


def empty_history() -> pd.DataFrame:
    """An empty CAN history table with the history columns and their types."""
    return pd.DataFrame({c: pd.Series(dtype=float if c == "population" else
                                      int if c == "named" else object)
                         for c in HISTORY_COLUMNS})


@dataclass
class Identity:
    """What :func:`match_neighbourhoods` decided.

    ``ids`` maps each provisional id to its final id; ``names`` gives the final name per
    final id; ``history`` is the updated history. The lists name final ids:
    ``kept`` (found again, same wards), ``changed`` (found again, wards differ),
    ``revived`` (a retired CAN found again), ``new`` (new ids) and ``retired`` (retired
    by this run; ``replaced_by`` says by which CANs).
    """

    ids: dict[str, str]
    names: dict[str, str]
    history: pd.DataFrame
    kept: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    replaced_by: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: counts and ids of the CANs gained, lost and changed."""
        total = len(self.ids)
        parts = [f"{total:,} CAN{'s' if total != 1 else ''}"]
        if self.kept:
            parts.append(f"{len(self.kept):,} unchanged")
        for label, ids in (("changed wards", self.changed), ("new", self.new),
                           ("found again", self.revived)):
            if ids:
                parts.append(f"{len(ids):,} {label}: {', '.join(ids)}")
        if self.retired:
            retired = [f"{c} (replaced by {', '.join(self.replaced_by[c])})"
                       if self.replaced_by.get(c) else f"{c} (its wards are in no CAN)"
                       for c in self.retired]
            parts.append(f"{len(self.retired):,} retired: {', '.join(retired)}")
        return "; ".join(parts)


def match_neighbourhoods(cans: pd.DataFrame, population: pd.Series, history: pd.DataFrame,
                         *, run_at: str, ward_names: pd.Series | None = None) -> Identity:
    """Give this run's CANs their lasting ids (see the module docstring for the rule).

    Parameters
    ----------
    cans
        This run's CANs, indexed by provisional ``can_id``, with ``rank`` (1 = first),
        ``name`` and ``ward_codes`` ("; "-joined) - the summary of
        :func:`~mapper.analysis.neighbourhoods.find_neighbourhoods`.
    population
        Residents per ward, indexed by ``ward_code`` (missing: 0).
    history
        Every CAN id issued before, columns :data:`HISTORY_COLUMNS` (``retired_at`` ""
        for the CANs of the last run); an empty frame on the first run.
    run_at
        When this run happened (ISO 8601), written to the history.
    ward_names
        Ward name per ``ward_code``: a kept name must name only wards still in the CAN
        (without them, kept names are not checked).

    Returns
    -------
    Identity
    """
    history = _checked_history(history)
    order = cans.sort_values(["rank"], kind="stable").index.astype(str).tolist()
    members = {c: set(split_codes(cans.loc[c, "ward_codes"])) for c in order}
    pop = pd.to_numeric(population, errors="coerce").fillna(0.0).clip(lower=0)
    pop.index = pop.index.astype(str)
    earlier = {str(r.can_id): set(split_codes(r.ward_codes))
               for r in history.itertuples(index=False)}
    active = [c for c in history.loc[history["retired_at"] == "", "can_id"]]
    # most recently active first; ties in number order (history is in number order)
    retired = history.loc[history["retired_at"] != ""].sort_values(
        "last_run", ascending=False, kind="stable")["can_id"].tolist()

    residents = pop.to_dict()

    def size(wards: set[str], by_count: bool) -> float:
        return float(len(wards)) if by_count else sum(residents.get(w, 0.0)
                                                      for w in sorted(wards))

    def link(new: str, old: str) -> float | None:
        """Residents shared when the two are linked (see the rule), else None."""
        both = members[new] & earlier[old]
        if not both:
            return None
        # by residents; by ward count when either CAN has none
        by_count = size(members[new], False) <= 0 or size(earlier[old], False) <= 0
        common = size(both, by_count)
        linked = (common > MATCH_SHARE * size(members[new], by_count)
                  or common > MATCH_SHARE * size(earlier[old], by_count))
        return common if linked else None

    rank = {new: i for i, new in enumerate(order)}
    ids: dict[str, str] = {}
    # 1. the last run's CANs, then 2. retired ones (most recently active first), each
    # matched greedily: the linked pair sharing the most residents first
    ids.update(_greedy(order, active, link, rank))
    revived_pairs = _greedy([n for n in order if n not in ids], retired, link, rank)
    ids.update(revived_pairs)
    revived = list(revived_pairs.values())
    # 3. new ids, in rank order, from the highest ever issued
    issued = [can_number(c) for c in history["can_id"]]
    next_number = max(issued, default=0) + 1
    new_ids = []
    for new in order:
        if new not in ids:
            ids[new] = format_id(next_number)
            new_ids.append(ids[new])
            next_number += 1
    names = None if ward_names is None else {str(k): str(v) for k, v in ward_names.items()}
    return _assemble(cans, order, members, pop, history, ids, earlier, active, revived,
                     new_ids, run_at, names)


def _greedy(news: list[str], olds: list[str], link, rank: dict[str, int]) -> dict[str, str]:
    """new -> old: linked pairs taken by residents shared (most first; ties: the
    higher-ranked new CAN, then the earlier of `olds`), each CAN at most once."""
    pairs = []
    for o, old in enumerate(olds):
        for new in news:
            common = link(new, old)
            if common is not None:
                pairs.append((-common, rank[new], o, new, old))
    taken: dict[str, str] = {}
    used: set[str] = set()
    for _, _, _, new, old in sorted(pairs):
        if new not in taken and old not in used:
            taken[new] = old
            used.add(old)
    return taken


def _assemble(cans, order, members, pop, history, ids, earlier, active, revived, new_ids,
              run_at, ward_names=None) -> Identity:
    rows = history.set_index("can_id", drop=False).to_dict("index")
    names: dict[str, str] = {}
    kept: list[str] = []
    changed: list[str] = []
    for new in order:
        final = ids[new]
        wards = sorted(members[new])
        population = float(pop.reindex(wards, fill_value=0.0).sum())
        fresh_name = str(cans.loc[new, "name"])
        if final in rows:
            row = rows[final]
            if ward_names is not None and not names_only(
                    row["name"], [ward_names.get(w, "") for w in wards], int(row["named"])):
                row.update(name=_MORE.sub("", fresh_name),
                           named=named_count(fresh_name, len(wards)))
            names[final] = _kept_name(row["name"], int(row["named"]), len(wards))
            if final in active:
                (kept if set(wards) == earlier[final] else changed).append(final)
            row.update(ward_codes="; ".join(wards), population=population,
                       last_run=run_at, retired_at="", replaced_by="")
        else:
            names[final] = fresh_name
            rows[final] = {"can_id": final, "name": _MORE.sub("", fresh_name),
                           "named": named_count(fresh_name, len(wards)),
                           "ward_codes": "; ".join(wards), "population": population,
                           "first_run": run_at, "last_run": run_at, "retired_at": "",
                           "replaced_by": ""}
    now_ids = set(ids.values())
    retired = [c for c in active if c not in now_ids]
    replaced_by = {}
    for old in retired:
        successors = sorted(
            ((float(pop.reindex(sorted(members[n] & earlier[old]), fill_value=0.0).sum()),
              len(members[n] & earlier[old]), ids[n]) for n in order
             if members[n] & earlier[old]),
            key=lambda item: (-item[0], -item[1], can_number(item[2])))
        replaced_by[old] = [s[2] for s in successors]
        rows[old].update(retired_at=run_at, replaced_by="; ".join(replaced_by[old]))
    frame = pd.DataFrame(list(rows.values()), columns=list(HISTORY_COLUMNS))
    frame = frame.assign(_n=frame["can_id"].map(can_number)).sort_values("_n").drop(
        columns="_n").reset_index(drop=True)
    by_number = sorted(revived, key=can_number)
    return Identity(ids=ids, names=names, history=frame,
                    kept=sorted(kept, key=can_number), changed=sorted(changed, key=can_number),
                    revived=by_number, new=new_ids, retired=sorted(retired, key=can_number),
                    replaced_by=replaced_by)


def named_count(name: str, wards: int) -> int:
    """How many ward names a summary name holds ("A & B and 3 more" -> 2)."""
    found = re.search(r" and (\d+) more$", name)
    return wards - int(found.group(1)) if found else wards


def names_only(stem: str, ward_names: list[str], count: int) -> bool:
    """Whether `stem` is `count` distinct names of `ward_names` joined by " & " (ward
    names may hold "&" themselves, so the stem is matched, not split)."""
    if count <= 0:
        return stem == ""
    for i, name in enumerate(ward_names):
        if name and stem.startswith(name):
            rest = stem[len(name):]
            others = ward_names[:i] + ward_names[i + 1:]
            if (count == 1 and rest == "") or (
                    rest.startswith(" & ") and names_only(rest[3:], others, count - 1)):
                return True
    return False


def _kept_name(stem: str, named: int, wards: int) -> str:
    """The name first given, with today's count of the other wards."""
    more = wards - named
    return stem + (f" and {more} more" if more > 0 else "")


def _checked_history(history: pd.DataFrame | None) -> pd.DataFrame:
    if history is None or len(history) == 0:
        return empty_history()
    missing = [c for c in HISTORY_COLUMNS if c not in history]
    if missing:
        raise ValueError(f"history lacks columns {missing}; got {list(history.columns)}")
    history = history.loc[:, list(HISTORY_COLUMNS)].copy()
    history["can_id"] = history["can_id"].astype(str)
    for column in ("retired_at", "replaced_by", "name", "ward_codes"):
        history[column] = history[column].fillna("").astype(str)
    history["named"] = pd.to_numeric(history["named"], errors="coerce").fillna(0).astype(int)
    bad = [c for c in history["can_id"] if not ISSUED_ID.fullmatch(c)]
    if bad:
        raise ValueError(f"history holds ids that are not CAN ids: {bad[:5]}")
    if history["can_id"].duplicated().any():
        raise ValueError("history holds an id more than once")
    numbers = history["can_id"].map(typed_number)
    if numbers.duplicated().any():  # CAN-01 and CAN-001: a link could mean either
        same = history.loc[numbers.duplicated(keep=False), "can_id"].tolist()
        raise ValueError(f"history holds one number under two ids: {same[:5]}")
    # in number order, however the ids are written or stored (CAN-100 after CAN-99)
    order = np.argsort(numbers.astype(int).to_numpy(), kind="stable")
    return history.iloc[order].reset_index(drop=True)


def apply_ids(can_id: pd.Series, cans: pd.DataFrame, identity: Identity
              ) -> tuple[pd.Series, pd.DataFrame]:
    """The ward-level ``can_id`` and the CAN summary with the lasting ids and names,
    the summary in rank order."""
    wards = can_id.map(lambda c: identity.ids.get(str(c), c) if pd.notna(c) else c)
    summary = cans.rename(index=identity.ids).rename_axis("can_id")
    summary["name"] = [identity.names[c] for c in summary.index]
    return wards.astype("string").rename(can_id.name), summary.sort_values("rank",
                                                                             kind="stable")
