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

The analysis runs with what the deprivation data holds. :data:`MEASURES` is the one
place saying what each measure needs (IoD File 1 has ranks and deciles but no scores;
File 5 scores but no ranks): a measure whose LSOA columns are absent is NaN for every
area, and :func:`unavailable_measures` says which and why. Averages are weighted by the
IoD total population denominator (``pop_total``), else by the residents given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: LSOAs ranked nationally in IoD2019 (ranks run 1..N); the default of `national_lsoas`
IOD2019_LSOAS = 32_844

#: domain -> denominator column used to weight its score
SCORE_WEIGHTS = {"idaci": "pop_children_0_15", "idaopi": "pop_older_60_plus",
                 "employment": "pop_working_age"}


@dataclass(frozen=True)
class Measure:
    """An area measure and the LSOA columns it is computed from (any one is enough)."""

    column: str
    label: str
    needs: tuple[str, ...]
    needs_text: str
    supplied_by: str


_SCORES = "IoD File 5 (scores) or File 7 (all scores, ranks and deciles)"
_RANKS = "IoD File 1, 2 or 7, or ONS's IMD lookup"
#: every deprivation measure of :func:`area_need` and what it needs
MEASURES: tuple[Measure, ...] = (
    Measure("imd_score", "IMD score (population-weighted average)", ("imd_score",),
            "IMD scores", _SCORES),
    Measure("domain_scores", "deprivation domain scores (population-weighted averages)",
            ("income_score", "employment_score", "education_score", "health_score",
             "crime_score", "barriers_score", "living_environment_score"),
            "domain scores", _SCORES),
    Measure("imd_avg_rank", "IMD average rank", ("imd_rank",), "IMD ranks", _RANKS),
    Measure("imd_extent", "IMD extent", ("imd_rank",), "IMD ranks", _RANKS),
    Measure("imd_most_deprived_10_share", "share of LSOAs in the most deprived 10 %",
            ("imd_decile", "imd_rank"), "IMD deciles or ranks", _RANKS),
    Measure("imd_most_deprived_20_share", "share of LSOAs in the most deprived 20 %",
            ("imd_decile", "imd_rank"), "IMD deciles or ranks", _RANKS),
    Measure("imd_rank_in_area", "rank of the IMD score in the study area", ("imd_score",),
            "IMD scores", _SCORES),
)
#: measure column -> its label, for what the analysis says in words
MEASURE_LABELS: dict[str, str] = {m.column: m.label for m in MEASURES}
#: the area columns of the IMD measures, always present in the result (NaN when unavailable)
IMD_COLUMNS = [m.column for m in MEASURES if m.column != "domain_scores"]


def unavailable_measures(columns) -> dict[str, str]:
    """Measure column -> why it cannot be computed from deprivation data with `columns`."""
    present = set(columns)
    return {m.column: f"{m.label}: the deprivation data has no LSOA {m.needs_text} (given by "
            f"{m.supplied_by})" for m in MEASURES if not present & set(m.needs)}


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
    national_lsoas: int = IOD2019_LSOAS,
    population: pd.Series | None = None,
) -> pd.DataFrame:
    """Summary measures of deprivation for areas made of (parts of) LSOAs.

    Parameters
    ----------
    deprivation : one row per LSOA, canonical IoD columns (``lsoa_code`` and any of
        ``*_score``, ``imd_rank``, ``imd_decile``, ``pop_total`` and the other denominators)
    weights : ``lsoa_code``, `by`, ``weight`` (each LSOA's weights sum to 1)
    national_lsoas : LSOAs in the national ranking (32,844 for IoD2019)
    population : residents per LSOA for ``population`` (default: ``pop_total``); also
        the weights of the averages when the data has no ``pop_total``

    Returns
    -------
    DataFrame indexed by `by`, columns as in the module docstring; the columns of
    :data:`IMD_COLUMNS` are NaN when their LSOA columns are absent.
    """
    if population is None and "pop_total" not in deprivation:
        raise ValueError("area_need needs a population: the deprivation data has no pop_total "
                         "and no population was given")
    dep = deprivation.set_index("lsoa_code")
    joined = weights[["lsoa_code", by, "weight"]].join(dep, on="lsoa_code", how="inner")
    w = joined["weight"]
    groups = joined[by]
    out = pd.DataFrame(index=pd.Index(sorted(weights[by].unique()), name=by))
    resident = pd.Series(population.reindex(joined["lsoa_code"]).to_numpy()
                         if population is not None else joined["pop_total"].to_numpy(),
                         index=joined.index).astype(float)
    people = joined["pop_total"].astype(float) if "pop_total" in joined else resident
    base = people * w
    for col in _score_columns(dep):
        denominator = SCORE_WEIGHTS.get(col.removesuffix("_score"), "pop_total")
        pw = joined[denominator].astype(float) * w if denominator in joined else base
        out[col] = _weighted_mean(joined[col], pw, groups, out.index)
    for col in IMD_COLUMNS:
        if col not in out:
            out[col] = np.nan
    if "imd_rank" in joined:
        out["imd_avg_rank"] = _weighted_mean(joined["imd_rank"], base, groups, out.index)
        extent = extent_weight(joined["imd_rank"], national_lsoas)
        out["imd_extent"] = _weighted_mean(extent, base, groups, out.index)
    decile = lsoa_decile(joined, national_lsoas)
    if decile is not None:
        for share, most in (("imd_most_deprived_10_share", 1), ("imd_most_deprived_20_share", 2)):
            flag = (decile <= most).astype(float).where(decile.notna())
            out[share] = _weighted_mean(flag, w, groups, out.index)
    out.insert(0, "population", (resident * w).groupby(groups).sum().reindex(out.index)
               .fillna(0.0))
    out["lsoas"] = w.groupby(groups).sum().reindex(out.index).fillna(0.0)
    if "imd_score" in joined:
        out["imd_rank_in_area"] = out["imd_score"].rank(ascending=False, method="min")
    out["imd_rank_in_area"] = out["imd_rank_in_area"].astype("Int64")
    return out


def lsoa_decile(deprivation: pd.DataFrame, national_lsoas: int) -> pd.Series | None:
    """Each LSOA's national IMD decile: the published decile, else from the rank (decile
    d holds ranks up to d/10 of the national LSOAs); None when neither is present."""
    if "imd_decile" in deprivation:
        return deprivation["imd_decile"].astype(float)
    if "imd_rank" in deprivation:
        return np.ceil(deprivation["imd_rank"].astype(float) * 10 / national_lsoas)
    return None


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
