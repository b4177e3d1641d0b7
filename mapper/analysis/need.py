"""Ward and borough need from LSOA deprivation (English Indices of Deprivation).

Ranks and deciles are not additive: areas are summarised from LSOA **scores** weighted by
population, then re-ranked, following MHCLG's local-authority summary measures:

``<domain>_score``
    population-weighted average of the LSOA scores (IMD and every domain/sub-domain);
    weighted by the IoD total population denominator, except IDACI (children aged 0-15),
    IDAOPI (people aged 60 and over) and Employment (working-age population).
``imd_avg_rank``
    population-weighted average of the LSOAs' national IMD ranks (1 = most deprived).
``imd_extent``
    share of the population living in the most deprived 30 % of LSOAs nationally, on
    MHCLG's sliding scale: all of the population in the most deprived 10 %, then a weight
    falling linearly from 0.95 at the 11th percentile to 0.05 at the 30th.
``imd_most_deprived_10_share`` / ``imd_most_deprived_20_share``
    share of the area's LSOAs (apportioned: an LSOA half in a ward counts half) in the
    most deprived 10 % / 20 % nationally.
``imd_rank_in_area``
    rank of ``imd_score`` among the areas of the study area (1 = most deprived).
``population``
    residents apportioned from the LSOAs (the IoD denominator unless another population
    is given).

Every area of the weights gets a row; an area whose population is 0 gets NaN averages,
never a division by zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: LSOAs ranked nationally in each release (ranks run 1..N)
NATIONAL_LSOAS = {"IoD2019": 32_844, "IoD2025": 33_755}

#: domain -> denominator column used to weight its score
SCORE_WEIGHTS = {"idaci": "pop_children_0_15", "idaopi": "pop_older_60_plus",
                 "employment": "pop_working_age"}


def _score_columns(deprivation: pd.DataFrame) -> list[str]:
    return [c for c in deprivation.columns if c.endswith("_score")]


def extent_weight(rank: pd.Series, national_lsoas: int) -> pd.Series:
    """MHCLG's extent weight of an LSOA from its national rank (see module docstring)."""
    percentile = np.ceil(rank.astype(float) / national_lsoas * 100)
    sliding = 0.95 - (percentile - 11) * (0.90 / 19)
    return pd.Series(np.where(percentile <= 10, 1.0, np.where(percentile <= 30, sliding, 0.0)),
                     index=rank.index)


def area_need(
    deprivation: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    by: str = "ward_code",
    national_lsoas: int = NATIONAL_LSOAS["IoD2019"],
    population: pd.Series | None = None,
) -> pd.DataFrame:
    """Summary measures of deprivation for areas made of (parts of) LSOAs.

    Parameters
    ----------
    deprivation : one row per LSOA, canonical IoD columns (``lsoa_code``, ``*_score``,
        ``imd_rank``, ``imd_decile``, ``pop_total`` and the other denominators)
    weights : ``lsoa_code``, `by`, ``weight`` (each LSOA's weights sum to 1)
    national_lsoas : LSOAs in the national ranking (32,844 for IoD2019)
    population : residents per LSOA for ``population`` (default: ``pop_total``)

    Returns
    -------
    DataFrame indexed by `by`, columns as in the module docstring.
    """
    dep = deprivation.set_index("lsoa_code")
    joined = weights[["lsoa_code", by, "weight"]].join(dep, on="lsoa_code", how="inner")
    w = joined["weight"]
    groups = joined[by]
    out = pd.DataFrame(index=pd.Index(sorted(weights[by].unique()), name=by))
    base = joined["pop_total"].astype(float) * w
    for col in _score_columns(dep):
        domain = col.removesuffix("_score")
        denominator = SCORE_WEIGHTS.get(domain, "pop_total")
        pw = (joined[denominator] if denominator in joined else joined["pop_total"]).astype(
            float) * w
        out[col] = _weighted_mean(joined[col], pw, groups, out.index)
    out["imd_avg_rank"] = _weighted_mean(joined["imd_rank"], base, groups, out.index)
    extent = extent_weight(joined["imd_rank"], national_lsoas)
    out["imd_extent"] = _weighted_mean(extent, base, groups, out.index)
    for share, decile in (("imd_most_deprived_10_share", 1), ("imd_most_deprived_20_share", 2)):
        flag = (joined["imd_decile"].astype(float) <= decile).astype(float)
        out[share] = _weighted_mean(flag, w, groups, out.index)
    resident = (population.reindex(joined["lsoa_code"]).to_numpy() if population is not None
                else joined["pop_total"].to_numpy())
    out.insert(0, "population", (pd.Series(resident, index=joined.index).astype(float) * w)
               .groupby(groups).sum().reindex(out.index).fillna(0.0))
    out["lsoas"] = w.groupby(groups).sum().reindex(out.index).fillna(0.0)
    out["imd_rank_in_area"] = out["imd_score"].rank(ascending=False, method="min").astype("Int64")
    return out


def _weighted_mean(values: pd.Series, weights: pd.Series, groups: pd.Series,
                   index: pd.Index) -> pd.Series:
    values = values.astype(float)
    ok = values.notna() & weights.notna()
    num = (values[ok] * weights[ok]).groupby(groups[ok]).sum()
    den = weights[ok].groupby(groups[ok]).sum()
    mean = num / den.where(den > 0)
    return mean.reindex(index)


def borough_weights(deprivation: pd.DataFrame, lsoas: pd.DataFrame | None = None) -> pd.DataFrame:
    """LSOAs nest in local authorities: each LSOA wholly to its borough."""
    source = lsoas if lsoas is not None and "borough_code" in lsoas else deprivation.rename(
        columns={"lad_code": "borough_code"})
    pairs = source[["lsoa_code", "borough_code"]].dropna().drop_duplicates("lsoa_code")
    return pairs.assign(weight=1.0)
