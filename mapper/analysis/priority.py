"""The unmet-need index: a transparent combination of need, asset supply and incidents.

Each component is a ward measure standardised across the wards of the study area
(z-score: minus the mean, divided by the standard deviation, population-unweighted):

``need``      the ward's population-weighted IMD score (higher = more need); with
              deprivation data of ranks only, its IMD average rank reversed
              (:func:`components_for`);
``supply``    VCS groups per 1,000 residents, **reversed** (fewer groups = more unmet need);
``incidents`` incidents per 1,000 residents (more incidents = more pressure).

``contrib_<component>`` = weight x direction x z, with the weights scaled to sum to 1;
``unmet_need`` is the sum of the contributions, so each ward's index splits exactly into
what each component contributed. A component that is missing for a ward (no residents,
so no rate) contributes 0, the study-area average, and the ward is marked ``incomplete``.
A component that does not vary across wards (or is missing everywhere) contributes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: component -> (column of the ward table, direction: +1 more = more unmet need)
COMPONENTS: dict[str, tuple[str, int]] = {
    "need": ("imd_score", 1),
    "supply": ("groups_total_per_1000", -1),
    "incidents": ("incidents_per_1000", 1),
}
#: what measures need when the ward table has no IMD score (deprivation data of ranks
#: only, such as IoD File 1 or 2): the average rank, reversed (1 = most deprived)
NEED_FALLBACK: tuple[str, int] = ("imd_avg_rank", -1)


def components_for(table: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """:data:`COMPONENTS`, with need measured by :data:`NEED_FALLBACK` when the table
    has no IMD score for any ward."""
    column = COMPONENTS["need"][0]
    if column in table and table[column].notna().any():
        return dict(COMPONENTS)
    return {**COMPONENTS, "need": NEED_FALLBACK}


def standardise(values: pd.Series) -> pd.Series:
    """z-scores across areas; 0 where the values do not vary; NaN stays NaN."""
    values = values.astype(float)
    sd = values.std(ddof=0)
    if not np.isfinite(sd) or sd == 0:
        return values.where(values.isna(), 0.0)
    return (values - values.mean()) / sd


def unmet_need(table: pd.DataFrame, weights: dict[str, float],
               components: dict[str, tuple[str, int]] = COMPONENTS) -> pd.DataFrame:
    """``z_<c>``, ``contrib_<c>`` for each component, ``unmet_need`` and ``incomplete``."""
    unknown = set(weights) - set(components)
    if unknown:
        raise ValueError(f"unknown components {sorted(unknown)}; expected {sorted(components)}")
    total = sum(max(w, 0.0) for w in weights.values())
    if total <= 0:
        raise ValueError("at least one weight must be above 0")
    out = pd.DataFrame(index=table.index)
    incomplete = pd.Series(False, index=table.index)
    for name, (column, direction) in components.items():
        weight = max(weights.get(name, 0.0), 0.0) / total
        values = table[column] if column in table else pd.Series(np.nan, index=table.index)
        z = standardise(values)
        out[f"z_{name}"] = z
        if weight > 0:
            incomplete |= z.isna()
        out[f"contrib_{name}"] = (weight * direction * z).fillna(0.0)
    out["unmet_need"] = out[[c for c in out if c.startswith("contrib_")]].sum(axis=1)
    out["unmet_need_rank"] = out["unmet_need"].rank(ascending=False, method="min").astype(int)
    out["incomplete"] = incomplete
    return out


def national_decile(avg_rank: pd.Series, national_lsoas: int) -> pd.Series:
    """The national decile (1 = most deprived 10 %) an average rank falls in."""
    return np.ceil(avg_rank.astype(float) / national_lsoas * 10).clip(1, 10)


def supply_condition_applies(table: pd.DataFrame) -> bool:
    """Whether "groups per 1,000 below the median" can tell wards apart: it cannot when
    every ward has the same rate (typically no group register in the workspace)."""
    column = "groups_total_per_1000"
    return column in table and table[column].dropna().nunique() > 1


def select_candidates(table: pd.DataFrame, *, top_share: float = 0.2,
                      supply_below_median: bool = True, max_imd_decile: int = 0,
                      national_lsoas: int = 32_844) -> pd.Series:
    """Wards meeting every condition, named ``candidate``:

    unmet-need index in the top `top_share` of wards; and, when asked, groups per 1,000
    below the study-area median (only where groups per 1,000 differ between wards: with
    no groups at all, no ward is below the median, so the condition is not applied and
    :func:`supply_condition_applies` says so); and, when `max_imd_decile` > 0, an average
    IMD rank in that national decile or a more deprived one (a condition left out when no
    ward has an average rank: deprivation data of scores only). Wards with no residents
    never qualify.
    """
    index = table["unmet_need"]
    top = max(1, int(np.ceil(top_share * index.notna().sum())))
    cut = index.nlargest(top).min() if index.notna().any() else np.inf
    chosen = index >= cut
    if supply_below_median and supply_condition_applies(table):
        supply = table["groups_total_per_1000"]
        chosen &= supply.fillna(np.inf) < supply.median()
    if max_imd_decile and "imd_avg_rank" in table and table["imd_avg_rank"].notna().any():
        chosen &= national_decile(table["imd_avg_rank"], national_lsoas) <= max_imd_decile
    if "population" in table:
        chosen &= table["population"].fillna(0) > 0
    return chosen.rename("candidate")
