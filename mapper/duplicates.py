"""Likely duplicates within a register, across sources: flagged, never merged.

Two records are likely the same when they carry the same charity number, or when their
names are the same after normalising (case, punctuation, "the", legal suffixes such as
"Ltd" or "CIO") and they are within :data:`NEAR_M` metres of each other. The first record
(in import order) that is not closed is kept as it is; each other one gets
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
_SUFFIXES = r"\b(the|ltd|limited|cio|charity|charitable incorporated organisation|uk)\b"


def normalise_name(values: pd.Series) -> pd.Series:
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


def flag_duplicates(frame: gpd.GeoDataFrame, register: str) -> gpd.GeoDataFrame:
    """Set ``duplicate_of`` and ``duplicate_reason`` on likely duplicates (see module doc)."""
    out = frame.reset_index(drop=True).copy()
    n = len(out)
    if n < 2:
        return out
    id_col = registers.ID_COLUMN[register]
    reasons: dict[int, str] = {}
    pairs = []
    if "charity_number" in out:
        number = out["charity_number"].astype("string").str.replace(r"\D", "", regex=True)
        number = number.where(number.fillna("").str.len() > 0)
        for _, idx in out.groupby(number, dropna=True).groups.items():
            idx = sorted(idx)
            for later in idx[1:]:
                pairs.append((idx[0], later))
            for one in idx:  # any of them may be the one kept (see _first_of)
                reasons[one] = f"same charity number {number.iloc[one]}"
    names = normalise_name(out["name"]) if "name" in out else None
    located = ~(out.geometry.isna() | out.geometry.is_empty).to_numpy()
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
        reasons.get(i, "linked to a likely duplicate") for i in np.flatnonzero(dup)
    ]
    return out
