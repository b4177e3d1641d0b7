"""Ward and borough need from LSOA deprivation (English Indices of Deprivation).

Ranks and deciles are not additive: areas are summarised from the LSOAs with
population weights, following MHCLG's published local-authority district summary
measures (IoD2019 File 10 and the Research report's notes on "larger area" summaries),
one function each below, computed the same way for boroughs (whole LSOAs, which nest)
and wards (apportioned LSOAs: an LSOA shared by two wards counts in each with its share
of residents). Population weights are the IoD population denominators (File 6 or 7:
mid-2015 excluding prisoners), else the residents given.

``<domain>_score`` (:func:`average_score`)
    MHCLG "average score": population-weighted average of the LSOA scores (IMD and every
    domain/sub-domain); weighted by the total population denominator, except IDACI
    (children aged 0-15), IDAOPI (people aged 60 and over) and Employment (working-age
    population). Higher = more deprived.
``imd_avg_rank`` (:func:`average_rank`)
    MHCLG "average rank": population-weighted average of the LSOAs' national IMD ranks,
    the ranks first **reversed** so that the most deprived LSOA in England has the
    highest rank (32,844 in IoD2019): N + 1 - published rank. Higher = more deprived;
    Barking and Dagenham's is 25,552, as published.
``imd_extent`` (:func:`extent`)
    MHCLG "extent": share of the population living in the most deprived 30 % of LSOAs
    nationally, on a sliding scale: weight 1 in the most deprived 10 %, then from 0.95 at
    the 11th percentile falling linearly to 0.05 at the 30th, 0 beyond.
``imd_local_concentration`` (:func:`local_concentration`)
    MHCLG "local concentration": population-weighted average of the (reversed) ranks of
    the area's most deprived LSOAs that hold exactly 10 % of its population; the LSOA
    that crosses the 10 % line counts with only the residents needed to reach it.
    Higher = more deprived.
``imd_most_deprived_10_share`` (:func:`most_deprived_share`)
    MHCLG "proportion of LSOAs in the most deprived 10 % nationally" (a share of LSOAs,
    not of people; apportioned: an LSOA half in a ward counts half). The 20 % share
    (``imd_most_deprived_20_share``) is computed the same way.
``income_scale`` / ``employment_scale`` (:func:`deprived_people`)
    MHCLG "income scale" / "employment scale": the number of people income deprived
    (Income score, a rate, x the total population denominator) / employment deprived
    (Employment score x the working-age denominator), summed over the LSOAs (parts).
``imd_rank_in_area``
    rank of ``imd_score`` among the areas of the study area (1 = most deprived).
``population``
    residents apportioned from the LSOAs (the IoD denominator unless another population
    is given).

Every area of the weights gets a row; an area whose population is 0 gets NaN averages,
never a division by zero.

The analysis runs with what the deprivation data holds. :data:`MEASURES` is the one
place saying what each measure needs (IoD File 1 has ranks and deciles but no scores;
File 5 scores but no ranks; the scales need the denominators of File 6 or 7 too): a
measure whose LSOA columns are absent is NaN for every area, and
:func:`unavailable_measures` says which and why.
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
    """An area measure and the LSOA columns it is computed from: any one of `needs`,
    and every one of `needs_all`."""

    column: str
    label: str
    needs: tuple[str, ...]
    needs_text: str
    supplied_by: str
    needs_all: tuple[str, ...] = ()


_SCORES = "IoD File 5 (scores) or File 7 (all scores, ranks and deciles)"
_RANKS = "IoD File 1, 2 or 7, or ONS's IMD lookup"
_DENOMINATORS = "IoD File 5 or 7 (scores) with File 6 or 7 (population denominators)"
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
    Measure("imd_local_concentration", "IMD local concentration", ("imd_rank",), "IMD ranks",
            _RANKS),
    Measure("imd_most_deprived_10_share", "share of LSOAs in the most deprived 10 %",
            ("imd_decile", "imd_rank"), "IMD deciles or ranks", _RANKS),
    Measure("imd_most_deprived_20_share", "share of LSOAs in the most deprived 20 %",
            ("imd_decile", "imd_rank"), "IMD deciles or ranks", _RANKS),
    Measure("income_scale", "income scale (people income deprived)", ("income_score",),
            "Income scores with the total population denominators", _DENOMINATORS,
            needs_all=("income_score", "pop_total")),
    Measure("employment_scale", "employment scale (people employment deprived)",
            ("employment_score",), "Employment scores with the working-age denominators",
            _DENOMINATORS, needs_all=("employment_score", "pop_working_age")),
    Measure("imd_rank_in_area", "rank of the IMD score in the study area", ("imd_score",),
            "IMD scores", _SCORES),
)
#: measure column -> its label, for what the analysis says in words
MEASURE_LABELS: dict[str, str] = {m.column: m.label for m in MEASURES}
#: measure column -> its definition in plain words (MHCLG's, IoD2019 File 10 notes), the
#: help text of the profile pages
DEFINITIONS: dict[str, str] = {
    "imd_score": "MHCLG average score: the small areas' (LSOAs') IMD scores averaged over "
                 "residents; higher = more deprived",
    "imd_avg_rank": "MHCLG average rank: the small areas' national ranks, turned round so "
                    "that the most deprived in England counts 32,844 and the least 1, "
                    "averaged over residents; higher = more deprived",
    "imd_extent": "MHCLG extent: share of residents living in the most deprived 30 % of small "
                  "areas nationally, the most deprived 10 % counted fully, then a weight "
                  "falling from 0.95 (11th percentile) to 0.05 (30th)",
    "imd_local_concentration": "MHCLG local concentration: the turned-round national rank "
                               "averaged over the area's most deprived small areas holding "
                               "exactly 10 % of its residents; higher = more deprived",
    "imd_most_deprived_10_share": "MHCLG proportion of small areas (LSOAs, not residents) "
                                  "in the most deprived 10 % nationally",
    "imd_most_deprived_20_share": "proportion of small areas (LSOAs) in the most deprived "
                                  "20 % nationally",
    "income_scale": "MHCLG income scale: the number of people income deprived (each small "
                    "area's Income score, a rate, x its population)",
    "employment_scale": "MHCLG employment scale: the number of people employment deprived "
                        "(Employment score x the working-age population)",
}
#: the area columns of the IMD measures, always present in the result (NaN when unavailable)
IMD_COLUMNS = [m.column for m in MEASURES if m.column != "domain_scores"]
#: share of an area's residents whose most deprived LSOAs make its local concentration
LOCAL_CONCENTRATION_SHARE = 0.10
#: the extent's sliding scale: weight 1 up to the 10th national percentile, then from
#: 0.95 at the 11th falling linearly to 0.05 at the 30th, 0 beyond
EXTENT_FULL, EXTENT_LAST = 10, 30


def unavailable_measures(columns) -> dict[str, str]:
    """Measure column -> why it cannot be computed from deprivation data with `columns`."""
    present = set(columns)
    return {m.column: f"{m.label}: the deprivation data has no LSOA {m.needs_text} (given by "
            f"{m.supplied_by})" for m in MEASURES
            if not present & set(m.needs) or not present >= set(m.needs_all)}


def _score_columns(deprivation: pd.DataFrame) -> list[str]:
    return [c for c in deprivation.columns if c.endswith("_score")]


# -- MHCLG's summary measures, one function each ----------------------------------------
# Each takes LSOA values (one row per LSOA, or per part of an LSOA in an area), the
# residents of each row, the area of each row (`groups`) and the areas to report
# (`index`), and returns one value per area of `index` (NaN without residents).


def reversed_rank(rank: pd.Series, national_lsoas: int) -> pd.Series:
    """National ranks turned round for MHCLG's rank summaries: the most deprived LSOA in
    England gets `national_lsoas`, the least deprived 1 (N + 1 - published rank)."""
    return national_lsoas + 1 - rank.astype(float)


def average_score(score: pd.Series, people: pd.Series, groups: pd.Series,
                  index: pd.Index) -> pd.Series:
    """MHCLG "average score": the population-weighted mean of the LSOA scores."""
    return _weighted_mean(score, people, groups, index)


def average_rank(rank: pd.Series, people: pd.Series, groups: pd.Series, index: pd.Index,
                 national_lsoas: int) -> pd.Series:
    """MHCLG "average rank": the population-weighted mean of the LSOAs' national ranks,
    reversed first (:func:`reversed_rank`), so a higher average rank is more deprived."""
    return _weighted_mean(reversed_rank(rank, national_lsoas), people, groups, index)


def extent_weight(rank: pd.Series, national_lsoas: int) -> pd.Series:
    """MHCLG's extent weight of an LSOA from its national rank: 1 in the most deprived
    10 % (percentile = ceil(rank / N x 100) <= 10), 0.95 at the 11th percentile falling by
    0.9 / 19 a percentile to 0.05 at the 30th, 0 beyond."""
    percentile = np.ceil(rank.astype(float) / national_lsoas * 100)
    step = 0.90 / (EXTENT_LAST - EXTENT_FULL - 1)
    sliding = 0.95 - (percentile - EXTENT_FULL - 1) * step
    return pd.Series(np.where(percentile <= EXTENT_FULL, 1.0,
                              np.where(percentile <= EXTENT_LAST, sliding, 0.0)),
                     index=rank.index).where(rank.notna())


def extent(rank: pd.Series, people: pd.Series, groups: pd.Series, index: pd.Index,
           national_lsoas: int) -> pd.Series:
    """MHCLG "extent": the population-weighted mean of :func:`extent_weight` (the share
    of residents in the most deprived 30 % of LSOAs, on the sliding scale)."""
    return _weighted_mean(extent_weight(rank, national_lsoas), people, groups, index)


def local_concentration(rank: pd.Series, people: pd.Series, groups: pd.Series,
                        index: pd.Index, national_lsoas: int,
                        share: float = LOCAL_CONCENTRATION_SHARE) -> pd.Series:
    """MHCLG "local concentration": the population-weighted mean of the reversed ranks
    of the area's most deprived LSOAs that hold exactly `share` (10 %) of its residents.

    The LSOAs are taken from the most deprived (lowest published rank) until their
    residents reach `share` of the area's; the one that crosses the line counts with only
    the residents needed to reach it exactly.
    """
    frame = pd.DataFrame({"rank": rank.astype(float), "people": people.astype(float),
                          "group": groups}).dropna()
    frame = frame[frame["people"] > 0].sort_values(["group", "rank"], kind="mergesort")
    target = frame.groupby("group")["people"].transform("sum") * share
    before = frame.groupby("group")["people"].cumsum() - frame["people"]
    counted = (target - before).clip(lower=0).clip(upper=frame["people"])
    total = (reversed_rank(frame["rank"], national_lsoas) * counted).groupby(frame["group"]).sum()
    reached = counted.groupby(frame["group"]).sum()
    return (total / reached.where(reached > 0)).reindex(index)


def most_deprived_share(decile: pd.Series, lsoas: pd.Series, groups: pd.Series,
                        index: pd.Index, deciles: int = 1) -> pd.Series:
    """MHCLG "proportion of LSOAs in the most deprived 10 % nationally" (`deciles` = 1;
    2 for 20 %): the share of the area's LSOAs (not residents) in those deciles; `lsoas`
    is how much of each LSOA is in the area (1 for a whole one)."""
    flag = (decile <= deciles).astype(float).where(decile.notna())
    return _weighted_mean(flag, lsoas, groups, index)


def deprived_people(rate: pd.Series, denominator: pd.Series, groups: pd.Series,
                    index: pd.Index) -> pd.Series:
    """MHCLG "income scale" / "employment scale": the number of people deprived, the
    domain score (a rate: the share of the denominator population deprived) x that
    population, summed over the area's LSOAs (parts). NaN where no LSOA has both."""
    people = rate.astype(float) * denominator.astype(float)
    ok = people.notna()
    return people[ok].groupby(groups[ok]).sum().reindex(index)


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
        out[col] = average_score(joined[col], pw, groups, out.index)
    for col in IMD_COLUMNS:
        if col not in out:
            out[col] = np.nan
    if "imd_rank" in joined:
        rank = joined["imd_rank"]
        out["imd_avg_rank"] = average_rank(rank, base, groups, out.index, national_lsoas)
        out["imd_extent"] = extent(rank, base, groups, out.index, national_lsoas)
        out["imd_local_concentration"] = local_concentration(rank, base, groups, out.index,
                                                             national_lsoas)
    decile = lsoa_decile(joined, national_lsoas)
    if decile is not None:
        for share, most in (("imd_most_deprived_10_share", 1), ("imd_most_deprived_20_share", 2)):
            out[share] = most_deprived_share(decile, w, groups, out.index, most)
    for scale, rate, denominator in (("income_scale", "income_score", "pop_total"),
                                     ("employment_scale", "employment_score",
                                      "pop_working_age")):
        if rate in joined and denominator in joined:
            out[scale] = deprived_people(joined[rate], joined[denominator] * w, groups,
                                         out.index)
    out.insert(0, "population", (resident * w).groupby(groups).sum().reindex(out.index)
               .fillna(0.0))
    out["lsoas"] = w.groupby(groups).sum().reindex(out.index).fillna(0.0)
    if "imd_score" in joined:
        out["imd_rank_in_area"] = out["imd_score"].rank(ascending=False, method="min")
    out["imd_rank_in_area"] = out["imd_rank_in_area"].astype("Int64")
    return out


def national_lsoas_of(provenance: pd.DataFrame) -> tuple[int, str | None]:
    """LSOAs in the national ranking of the workspace's deprivation release (from its
    provenance vintage, "IoD2019 / LSOA 2011"), and a note when the release is not known
    (IoD2019's count is taken)."""
    from mapper.sources.deprivation import NATIONAL_LSOAS

    vintage = provenance.loc[provenance["layer"] == "deprivation", "vintage"]
    release = str(vintage.iloc[0]).split(" /")[0] if len(vintage) else ""
    if release in NATIONAL_LSOAS:
        return NATIONAL_LSOAS[release], None
    return NATIONAL_LSOAS["IoD2019"], (
        f"deprivation release not known ({release or 'no vintage'}): national ranks taken "
        f"to run to {NATIONAL_LSOAS['IoD2019']:,} LSOAs (IoD2019)")


def grouped_need(deprivation: pd.DataFrame, weights: pd.DataFrame,
                 groups: dict[str, list[str]], *, by: str = "ward_code",
                 national_lsoas: int = IOD2019_LSOAS) -> pd.DataFrame:
    """:func:`area_need` for groups of areas (a neighbourhood's wards, a study area): each
    group's LSOA parts taken together, so a measure that does not combine across wards
    (local concentration) is computed for the group, not averaged. Indexed by group name;
    the averages are weighted by the IoD denominators (NaN without ``pop_total``)."""
    parts = [weights.loc[weights[by].isin(set(codes)), ["lsoa_code", "weight"]].assign(
        area=name) for name, codes in groups.items()]
    merged = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["lsoa_code", "weight", "area"])
    if "pop_total" not in deprivation:
        return pd.DataFrame(index=pd.Index(list(groups), name="area"), columns=IMD_COLUMNS,
                            dtype=float)
    return area_need(deprivation, merged, by="area", national_lsoas=national_lsoas)


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
