"""Likely duplicates within a register, across sources: flagged, never merged.

Two records are likely the same when they carry the same charity number and are within
:data:`CHARITY_SITE_M` metres of each other or at the same postcode, or when their names
are the same after normalising (case, punctuation, "the", legal suffixes such as "Ltd" or
"CIO") and they are within :data:`NEAR_M` metres of each other. The same charity number
at places further apart is one organisation with several sites (a food bank charity's
distribution centres), not a duplicate: :func:`charity_sites` counts them. The first
record (in import order) that is not closed is kept as it is; each other one gets
``duplicate_of`` = its id and ``duplicate_reason``. A flag never hides an open record
behind a closed one: a closed record is kept only when every record of its group is
closed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import registers

NEAR_M = 50.0
#: records with the same charity number this close (metres) are likely one site: a postcode
#: centroid may sit a street or two from the building another source placed exactly
CHARITY_SITE_M = 250.0
_SUFFIXES = r"\b(the|ltd|limited|cio|charity|charitable incorporated organisation|uk)\b"


def normalise_name(values: pd.Series) -> pd.Series:
    """Names normalised for matching: lower case, '&' as 'and', no punctuation or suffixes."""
    text = values.astype("string").str.lower().fillna("")
    text = text.str.replace("&", " and ", regex=False)
    text = text.str.replace(r"[^0-9a-z ]+", " ", regex=True)
    text = text.str.replace(_SUFFIXES, " ", regex=True)
    return text.str.replace(r"\s+", " ", regex=True).str.strip()


def _first_of(pairs: np.ndarray, n: int, rank: np.ndarray | None = None) -> np.ndarray:
    """Union-find over index pairs: each index -> the index of its group with the lowest
    (`rank`, index)."""
    parent = np.arange(n)
    key = np.arange(n) if rank is None else np.asarray(rank) * n + np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            low, high = (ra, rb) if key[ra] < key[rb] else (rb, ra)
            parent[high] = low
    return np.array([find(i) for i in range(n)])


def charity_numbers(frame: pd.DataFrame) -> pd.Series:
    """Each record's charity number, digits only (<NA> when it has none)."""
    if "charity_number" not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    number = frame["charity_number"].astype("string").str.replace(r"\D", "", regex=True)
    return number.where(number.fillna("").str.len() > 0)


def _located(frame: gpd.GeoDataFrame) -> np.ndarray:
    return ~(frame.geometry.isna() | frame.geometry.is_empty).to_numpy()


def _same_charity_site(out: gpd.GeoDataFrame) -> list[tuple[int, int, str]]:
    """(i, j, reason) for records i < j with the same charity number that are within
    :data:`CHARITY_SITE_M` of each other or at the same postcode."""
    number = charity_numbers(out)
    has = number.notna().to_numpy()
    found: dict[tuple[int, int], str] = {}
    if "postcode" in out:
        postcode = out["postcode"].astype("string").str.upper().str.replace(r"\s+", "",
                                                                            regex=True)
        both = has & postcode.fillna("").ne("").to_numpy()
        keys = number.where(both) + " " + postcode
        for _, idx in out.groupby(keys, dropna=True).groups.items():
            idx = sorted(idx)
            for later in idx[1:]:
                found[(idx[0], later)] = (f"same charity number {number.iloc[idx[0]]} at the "
                                          "same postcode")
    pos = np.flatnonzero(has & _located(out))
    if len(pos) > 1:
        left, right = out.geometry.iloc[pos].sindex.query(
            out.geometry.array[pos], predicate="dwithin", distance=CHARITY_SITE_M)
        a, b = pos[left], pos[right]
        values = number.to_numpy()
        same = (a < b) & (values[a] == values[b])
        for i, j in zip(a[same], b[same], strict=True):
            found.setdefault((int(i), int(j)), f"same charity number {values[i]} within "
                             f"{CHARITY_SITE_M:g} m")
    return [(i, j, reason) for (i, j), reason in sorted(found.items())]


def charity_sites(frame: gpd.GeoDataFrame) -> int:
    """How many records share their charity number with a record that is not flagged as
    their duplicate (``duplicate_of``): sites of a charity with several sites."""
    number = charity_numbers(frame)
    kept = number.where(frame["duplicate_of"].isna()) if "duplicate_of" in frame else number
    counts = kept.value_counts()
    return int(kept.isin(counts[counts > 1].index).sum())


def flag_duplicates(frame: gpd.GeoDataFrame, register: str) -> gpd.GeoDataFrame:
    """Set ``duplicate_of`` and ``duplicate_reason`` on likely duplicates (see module doc)."""
    out = frame.reset_index(drop=True).copy()
    n = len(out)
    if n < 2:
        return out
    id_col = registers.ID_COLUMN[register]
    reasons: dict[int, str] = {}
    pairs = []
    for i, j, reason in _same_charity_site(out):
        pairs.append((i, j))
        for one in (i, j):  # either may be the one kept (see _first_of)
            reasons.setdefault(one, reason)
    names = normalise_name(out["name"]) if "name" in out else None
    located = _located(out)
    if names is not None and located.sum() > 1:
        pos = np.flatnonzero(located)
        left, right = out.geometry.iloc[pos].sindex.query(
            out.geometry.array[pos], predicate="dwithin", distance=NEAR_M
        )
        a, b = pos[left], pos[right]
        keep = (a < b) & (names.to_numpy()[a] == names.to_numpy()[b]) & (names.to_numpy()[a] != "")
        for i, j in zip(a[keep], b[keep], strict=True):
            pairs.append((i, j))
            reasons.setdefault(j, f"same name within {NEAR_M:g} m")
            reasons.setdefault(i, f"same name within {NEAR_M:g} m")
    if not pairs:
        return out
    closed = (out["status"] == "closed").fillna(False) if "status" in out else None
    first = _first_of(np.array(pairs), n,
                      None if closed is None else closed.to_numpy(dtype=np.int64))
    # flags a source set itself (police.uk repeated Crime IDs ...) are kept as they are
    dup = (first != np.arange(n)) & out["duplicate_of"].isna().to_numpy()
    out.loc[dup, "duplicate_of"] = out[id_col].to_numpy()[first[dup]]
    out.loc[dup, "duplicate_reason"] = [
        reasons.get(i, "linked to a likely duplicate") for i in np.flatnonzero(dup).tolist()
    ]
    return out
