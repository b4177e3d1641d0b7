"""The unmet-need index: a transparent combination of need, asset supply and incidents.

Each component is a ward measure standardised across the wards of the study area by a
robust z-score capped at :data:`Z_BOUND` (:func:`standardise`: minus the median ward's
value, divided by the robust standard deviation 1.4826 x the median absolute deviation,
then limited to -3..+3), so that one extreme ward cannot set the scale for all the others
nor top the index through one component:

``need``      the ward's population-weighted IMD score (higher = more need); with
              deprivation data of ranks only, its IMD average rank (MHCLG's
              convention: higher = more deprived; :func:`components_for`);
``supply``    VCS groups per 1,000 residents, empirical-Bayes smoothed toward the
              district's rate (:mod:`mapper.analysis.rates`), **reversed** (fewer groups
              = more unmet need);
``incidents`` incidents per 1,000 residents, smoothed the same way (more incidents =
              more pressure).

``contrib_<component>`` = weight x direction x z, with the weights scaled to sum to 1;
``unmet_need`` is the sum of the contributions, so each ward's index splits exactly into
what each component contributed, and no component contributes more than its weight x
:data:`Z_BOUND`. 0 is the median ward. A component that is missing for a ward (no
residents, so no rate) contributes 0, the median ward's, and the ward is marked
``incomplete``. A component that does not vary across wards (or is missing everywhere)
contributes 0. :func:`reliability` says, per ward, which figures to read with care.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: component -> (column of the ward table, direction: +1 more = more unmet need)
COMPONENTS: dict[str, tuple[str, int]] = {
    "need": ("imd_score", 1),
    "supply": ("groups_total_per_1000_eb", -1),
    "incidents": ("incidents_per_1000_eb", 1),
}
#: the raw rate each smoothed component column is computed from (kept in the ward table)
RAW_RATES: dict[str, str] = {
    "groups_total_per_1000_eb": "groups_total_per_1000",
    "incidents_per_1000_eb": "incidents_per_1000",
}
#: standardised components are capped at +/- this many robust standard deviations
#: (winsorised z-scores): about 1 ward in 370 lies beyond 3 SD of a normal distribution,
#: so the cap touches only the wards far out of line, and bounds what any one component
#: adds to the index by its weight x 3
Z_BOUND = 3.0
#: a ward with fewer residents than this has rates per resident too fragile to read
#: (a handful of events moves them a long way), smoothed or not
POPULATION_FLOOR = 1_000
#: a smoothed rate that moved from the raw one by more than this many robust standard
#: deviations of the wards' raw rates is flagged (its ward's figure is mostly its district's)
SHRINK_FLAG_SD = 1.0
#: the consistency constants of the robust standard deviation: 1.4826 x the median
#: absolute deviation, or, when over half the wards share the median value (MAD = 0),
#: 1.2533 x the mean absolute deviation from the median (both equal the standard deviation
#: of normally distributed values)
MAD_TO_SD = 1.4826
MEAN_AD_TO_SD = 1.2533
#: what measures need when the ward table has no IMD score (deprivation data of ranks
#: only, such as IoD File 1 or 2): the average rank (MHCLG's: higher = more deprived)
NEED_FALLBACK: tuple[str, int] = ("imd_avg_rank", 1)


def components_for(table: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """:data:`COMPONENTS`, with need measured by :data:`NEED_FALLBACK` when the table
    has no IMD score for any ward."""
    column = COMPONENTS["need"][0]
    if column in table and table[column].notna().any():
        return dict(COMPONENTS)
    return {**COMPONENTS, "need": NEED_FALLBACK}


def robust_scale(values: pd.Series) -> float:
    """The robust standard deviation of `values` (see :data:`MAD_TO_SD`); 0 when they do
    not vary, NaN when there are none."""
    values = values.astype(float).dropna()
    deviation = (values - values.median()).abs()
    scale = MAD_TO_SD * deviation.median()
    if not scale > 0:
        scale = MEAN_AD_TO_SD * deviation.mean()
    return float(scale)


def robust_z(values: pd.Series) -> pd.Series:
    """Robust z-scores, uncapped: (value - median) / :func:`robust_scale`; 0 where the
    values do not vary; NaN stays NaN."""
    values = values.astype(float)
    scale = robust_scale(values)
    if not np.isfinite(scale) or scale == 0:
        return values.where(values.isna(), 0.0)
    return (values - values.median()) / scale


def standardise(values: pd.Series) -> pd.Series:
    """Robust z-scores capped at +/- :data:`Z_BOUND` (winsorised); 0 where the values do
    not vary; NaN stays NaN."""
    return robust_z(values).clip(-Z_BOUND, Z_BOUND)


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
    """The national decile (1 = most deprived 10 %) an average rank falls in (MHCLG's
    average rank: the most deprived LSOA in England ranks `national_lsoas`)."""
    published = national_lsoas + 1 - avg_rank.astype(float)
    return np.ceil(published / national_lsoas * 10).clip(1, 10)


def supply_condition_applies(table: pd.DataFrame) -> bool:
    """Whether "groups per 1,000 below the median" can tell wards apart: it cannot when
    every ward has the same rate (typically no group register in the workspace)."""
    column = COMPONENTS["supply"][0]
    return column in table and table[column].dropna().nunique() > 1


def select_candidates(table: pd.DataFrame, *, top_share: float = 0.2,
                      supply_below_median: bool = True, max_imd_decile: int = 0,
                      national_lsoas: int = 32_844) -> pd.Series:
    """Wards meeting every condition, named ``candidate``:

    unmet-need index in the top `top_share` of wards; and, when asked, groups per 1,000
    (smoothed: the supply component's column) below the study-area median (only where
    groups per 1,000 differ between wards: with no groups at all, no ward is below the
    median, so the condition is not applied and :func:`supply_condition_applies` says
    so); and, when `max_imd_decile` > 0, an average
    IMD rank in that national decile or a more deprived one (a condition left out when no
    ward has an average rank: deprivation data of scores only). Wards with no residents
    never qualify.
    """
    index = table["unmet_need"]
    top = max(1, int(np.ceil(top_share * index.notna().sum())))
    cut = index.nlargest(top).min() if index.notna().any() else np.inf
    chosen = index >= cut
    if supply_below_median and supply_condition_applies(table):
        supply = table[COMPONENTS["supply"][0]]
        chosen &= supply.fillna(np.inf) < supply.median()
    if max_imd_decile and "imd_avg_rank" in table and table["imd_avg_rank"].notna().any():
        chosen &= national_decile(table["imd_avg_rank"], national_lsoas) <= max_imd_decile
    if "population" in table:
        chosen &= table["population"].fillna(0) > 0
    return chosen.rename("candidate")


# -- which figures to read with care ------------------------------------------------------

#: how the reasons name each component's column: (one thing counted, the measure)
MEASURES: dict[str, tuple[str, str]] = {
    "imd_score": ("", "IMD score"),
    "imd_avg_rank": ("", "IMD average rank"),
    "groups_total_per_1000_eb": ("VCS group", "VCS groups per 1,000 residents"),
    "incidents_per_1000_eb": ("incident", "incidents per 1,000 residents"),
}
#: added to a capped rate per resident above the median ward's
DAYTIME = (" (a rate per resident this high can reflect a large daytime population: "
           "offices, shops, stations)")


def _number(values: pd.Series) -> pd.Series:
    """Figures for reasons: 748, 61.2, 2.62, 0.131 (three significant figures, commas)."""
    def one(v: float) -> str:
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}" if abs(v) >= 0.001 else "0"
    return _text(values, one)


def _whole(values: pd.Series) -> pd.Series:
    """Counts and residents for reasons: 10,947 (dasymetric shares rounded)."""
    return _text(values, "{:,.0f}".format)


def _text(values: pd.Series, form) -> pd.Series:
    """`form` of each value, as strings (object dtype, even when `values` is empty)."""
    return pd.Series([form(v) for v in values.astype(float)], index=values.index,
                     dtype=object)


def _joined(parts: list[pd.Series], index: pd.Index) -> pd.Series:
    """The non-empty strings of each row of `parts` as sentences: joined by ". ", with a
    full stop at the end ("" for none)."""
    joined = pd.Series("", index=index, dtype=object)
    for part in parts:
        part = part.reindex(index).fillna("").astype(object)
        both = (joined != "") & (part != "")
        joined = joined.where(~both, joined + ". ")
        joined = joined.where(part == "", joined + part)
    return joined.where(joined == "", joined + ".")


def _floor_reason(table: pd.DataFrame) -> pd.Series:
    population = table["population"] if "population" in table else pd.Series(
        np.nan, index=table.index)
    few = population.between(0, POPULATION_FLOOR, inclusive="neither")
    text = ("Few residents (" + _whole(population[few]) + f", below {POPULATION_FLOOR:,}): "
            "rates per resident are fragile")
    return text.reindex(table.index)


def _shrink_reason(table: pd.DataFrame, column: str, smoothed: pd.DataFrame) -> pd.Series:
    """Wards whose smoothed rate moved more than :data:`SHRINK_FLAG_SD` robust standard
    deviations of the raw rates from the raw rate."""
    scale = robust_scale(smoothed["rate"])
    if not np.isfinite(scale) or scale == 0:
        return pd.Series(np.nan, index=table.index, dtype=object)
    moved = (smoothed["rate_eb"] - smoothed["rate"]).abs() > SHRINK_FLAG_SD * scale
    rows = smoothed[moved.fillna(False)]
    noun, measure = MEASURES.get(column, (column, column))
    names = (table.drop_duplicates("borough_code").set_index("borough_code")["borough_name"]
             if {"borough_code", "borough_name"} <= set(table) else pd.Series(dtype=object))
    area = rows["prior_area"].map(names).fillna("the study area") + "'s "
    count = (rows["rate"] * table["population"].reindex(rows.index) / 1000).round()
    people = table["population"].reindex(rows.index)
    nouns = pd.Series(np.where(count == 1, noun, noun + "s"), index=count.index, dtype=object)
    text = ("A rate from a small count (" + _whole(count) + " " + nouns + ", "
            + _whole(people) + " residents): " + measure + " smoothed from "
            + _number(rows["rate"]) + " to " + _number(rows["rate_eb"]) + " toward " + area
            + _number(rows["prior"]))
    return text.reindex(table.index)


def _cap_reason(table: pd.DataFrame, column: str) -> pd.Series:
    z = robust_z(table[column])
    capped = z.abs() > Z_BOUND
    _, measure = MEASURES.get(column, (column, column))
    rows = z[capped]
    side = pd.Series(np.where(rows > 0, "above", "below"), index=rows.index, dtype=object)
    far = _text(rows.abs(), lambda v: f"{v:,.0f}" if v >= 10 else f"{v:.1f}")
    median = _number(pd.Series(float(table[column].median()), index=rows.index))
    text = (measure[0].upper() + measure[1:] + " (" + _number(table.loc[capped, column])
            + ") is far " + side + " the median ward's (" + median + "): " + far
            + " times the usual spread between wards, counted as "
            + f"{Z_BOUND:g} in the index so that one figure cannot outweigh the others")
    if column in RAW_RATES:
        text = text.where(rows < 0, text + DAYTIME)
    return text.reindex(table.index)


def reliability(table: pd.DataFrame, components: dict[str, tuple[str, int]] = COMPONENTS,
                smoothed: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``unreliable`` (bool) and ``unreliable_reason`` (words; "" when reliable) per ward.

    A ward's figures are to be read with care when it has fewer residents than
    :data:`POPULATION_FLOOR`; when the empirical-Bayes smoothing moved one of its rates
    by more than :data:`SHRINK_FLAG_SD` robust standard deviations (`smoothed`: the
    smoothed component column -> :func:`mapper.analysis.rates.eb_rates` of it); or when
    one of its components lies beyond :data:`Z_BOUND` and is capped in the index.
    """
    parts = [_floor_reason(table)]
    for column, frame in (smoothed or {}).items():
        parts.append(_shrink_reason(table, column, frame.reindex(table.index)))
    for column, _ in components.values():
        if column in table:
            parts.append(_cap_reason(table, column))
    reason = _joined(parts, table.index)
    return pd.DataFrame({"unreliable": reason != "", "unreliable_reason": reason},
                        index=table.index)
