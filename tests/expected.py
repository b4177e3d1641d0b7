"""Answers worked out independently of the app, shared by tests in several folders: the
nearest groups by brute force, the personal-data keys anywhere in a JSON answer."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mapper.registers import PERSONAL_COLUMNS


def brute_force(groups, x, y, *, k=10, category=None, offers=(), radius_m=None) -> pd.DataFrame:
    """Every group's distance from (x, y), filtered, nearest first, ties by group_id."""
    dx = groups.geometry.x.to_numpy() - x
    dy = groups.geometry.y.to_numpy() - y
    table = pd.DataFrame(
        {
            "group_id": groups["group_id"].astype(str).to_numpy(),
            "distance_m": np.sqrt(dx * dx + dy * dy),
            "category": groups["category"].fillna("").str.strip().str.lower().to_numpy(),
            "offers": [
                {p.strip().lower() for p in str(o).split(";") if p.strip()}
                if isinstance(o, str)
                else set()
                for o in groups["emergency_offer"]
            ],
        }
    )
    if category is not None:
        table = table[table["category"] == category]
    for offer in offers:
        table = table[table["offers"].map(lambda have, offer=offer: offer in have).astype(bool)]
    if radius_m is not None:
        table = table[table["distance_m"] <= radius_m]
    return table.sort_values(["distance_m", "group_id"], kind="stable").head(k)


def personal_keys(value, path="") -> list[str]:
    """Paths of every key named like a personal-data column, at any depth."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PERSONAL_COLUMNS:
                found.append(f"{path}/{key}")
            found += personal_keys(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += personal_keys(item, f"{path}/{i}")
    return found
