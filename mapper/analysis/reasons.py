"""Why each Community Action Neighbourhood (CAN) was chosen: the reasons that set it apart.

Every CAN met the same conditions (high unmet need, few groups), so naming the index's
components ("high deprivation; few VCS groups per resident") says nothing about why *this*
CAN and not the next. :func:`can_reasons` measures each CAN on every indicator the data
allow, compares it with the other CANs and with the study area (or its borough), and
names the few where it stands out most, each with its value:

``deprivation:<domain>``  the population-weighted mean of its wards' domain scores (income,
                          employment, education, health, crime, barriers, living
                          environment, IDACI, IDAOPI), placed nationally when the LSOA
                          deprivation data carry the domain's ranks ("income deprivation
                          affecting children in the most deprived 5% nationally"); compared
                          with the study area's mean score. Ward scores are weighted by
                          residents (IDACI's own denominator, children, is not kept per ward).
                          With ranks but no scores (IoD File 1/2), the domain's average
                          national rank (:func:`ward_average_ranks`) is used instead;
``uncovered:<category>``  the share of residents with no group of that category within the
                          coverage radius, against the study area's share;
``incidents:<type>``      incidents of that type per 1,000 residents against the rate of the
                          CAN's borough (boroughs), counted only in wards whose incident rate
                          is known and only when the CAN has :data:`MIN_INCIDENTS` of them
                          and its borough as many again outside it, in at least half of
                          its wards;
``supply:groups``         VCS groups per 1,000 residents (fewer = worse) against the study
                          area's rate.

The rule, one line for a panel: an indicator counts for a CAN when the CAN is at least
:data:`MIN_RATIO` times worse than its reference (study area or borough); of those, the
:data:`NAMED_REASONS` on which the CAN ranks worst *among the CANs* (its percentile: 1 =
worse than every other CAN) are named, ties broken by the larger ratio, then the key.
A deprivation domain placed nationally is named only when the CAN is in the most
deprived half of England on it. A CAN with no such indicator is named for its unmet-need
index alone (:data:`FALLBACK`).
Indicators whose layer is absent (no scores, no groups, no incidents) are simply not
measured.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mapper.can_history import id_order

#: how many reasons a CAN's "why chosen" names
NAMED_REASONS = 3
#: an indicator counts only when the CAN is this many times worse than its reference
MIN_RATIO = 1.2
#: a deprivation domain placed nationally is named only in the most deprived half
NATIONAL_HALF = 0.5
#: incidents of a type a CAN needs before its rate of that type is named
MIN_INCIDENTS = 20
#: an incident type is compared with a borough's rate only when at least this share of
#: the borough's wards (with known rates) have one
MIN_WARD_SHARE = 0.5
#: what a CAN with no distinguishing indicator is said to have been chosen for
FALLBACK = (f"high unmet need overall (no single indicator {MIN_RATIO:g} times the study "
            "area's)")
#: deprivation domain -> how a panel reads it (the score columns of mapper.analysis.need)
DOMAIN_TEXT: dict[str, str] = {
    "income": "income deprivation",
    "employment": "employment deprivation",
    "education": "education, skills and training deprivation",
    "health": "health deprivation and disability",
    "crime": "crime deprivation (IMD crime domain)",
    "barriers": "barriers to housing and services",
    "living_environment": "living environment deprivation",
    "idaci": "income deprivation affecting children",
    "idaopi": "income deprivation affecting older people",
}
#: columns of the long table of :func:`indicator_table`
INDICATOR_COLUMNS = ("can_id", "key", "value", "reference", "ratio", "percentile",
                     "eligible", "text")


@dataclass(frozen=True)
class _Measure:
    """One indicator for every CAN: values, references, direction and its wording."""

    key: str
    value: pd.Series       # per CAN
    reference: pd.Series   # per CAN (study area or borough), same direction
    direction: int         # +1: more is worse; -1: less is worse
    text: pd.Series        # per CAN: the phrase with values
    usable: pd.Series | None = None  # per CAN: False where it may not be named


def can_reasons(
    table: pd.DataFrame,
    *,
    deprivation: pd.DataFrame | None = None,
    uncovered: pd.DataFrame | None = None,
    radius_m: float = 800.0,
    national_lsoas: int = 32_844,
    lsoa_weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The reasons each CAN was chosen (see the module docstring for the rule).

    Parameters
    ----------
    table
        One row per ward of the study area, indexed by ``ward_code``, with ``can_id``
        (<NA> outside any CAN) and ``population``; used when present: ``borough_code``,
        ``borough_name``, ``<domain>_score``, ``groups_total``, ``incidents_per_1000``,
        ``incidents_<type>``.
    deprivation
        LSOA deprivation (``<domain>_score`` with ``<domain>_rank``), to place a CAN's
        score nationally; None says "x times the study area's" instead.
    uncovered
        Residents with no group of each category within `radius_m`, indexed by
        ``ward_code``, one column per category (:func:`mapper.analysis.coverage.
        uncovered_by_category`); None leaves coverage out.
    radius_m
        The coverage radius, for the wording.
    national_lsoas
        LSOAs in the national ranking (percentiles are rank / this).
    lsoa_weights
        How LSOAs are shared between wards (``lsoa_code``, ``ward_code``, ``weight``):
        with deprivation data of ranks only (no scores), a domain is measured by its
        average national rank (:func:`ward_average_ranks`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``can_id`` (sorted): ``reasons`` (the phrases joined by "; ") and
        ``reason_keys`` (the indicator keys joined by "; ", "" for the fallback).
    """
    long = indicator_table(table, deprivation=deprivation, uncovered=uncovered,
                           radius_m=radius_m, national_lsoas=national_lsoas,
                           lsoa_weights=lsoa_weights)
    cans = sorted(table["can_id"].dropna().astype(str).unique(), key=id_order)
    chosen = long[long["eligible"].astype(bool)].sort_values(
        ["can_id", "percentile", "ratio", "key"], ascending=[True, False, False, True])
    top = chosen.groupby("can_id", sort=True).head(NAMED_REASONS)
    by = top.groupby("can_id", sort=True)
    out = pd.DataFrame({"reasons": by["text"].agg("; ".join),
                        "reason_keys": by["key"].agg("; ".join)})
    out = out.reindex(pd.Index(cans, name="can_id"))
    out["reasons"] = out["reasons"].fillna(FALLBACK)
    out["reason_keys"] = out["reason_keys"].fillna("")
    return out


def reasons_method() -> str:
    """One sentence saying how "why chosen" is decided, for pages and the record."""
    return (f"“Why chosen” names up to {NAMED_REASONS} indicators on which the CAN stands "
            f"out most among the CANs, each at least {MIN_RATIO:g} times worse than the "
            "study area (incidents: than its borough).")


def indicator_table(
    table: pd.DataFrame,
    *,
    deprivation: pd.DataFrame | None = None,
    uncovered: pd.DataFrame | None = None,
    radius_m: float = 800.0,
    national_lsoas: int = 32_844,
    lsoa_weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every CAN on every measurable indicator: one row per (CAN, indicator).

    Columns :data:`INDICATOR_COLUMNS`: the CAN's ``value`` and its ``reference``,
    ``ratio`` (how many times worse than the reference: > 1 is worse), ``percentile``
    among the CANs (share of the other CANs it is strictly worse than; 1 with one CAN),
    ``eligible`` (ratio >= :data:`MIN_RATIO` and the indicator's own minimum met) and
    ``text`` (the phrase naming the value).
    """
    for column in ("can_id", "population"):
        if column not in table:
            raise ValueError(f"table needs a '{column}' column; got {list(table.columns)}")
    wards = table.assign(population=pd.to_numeric(table["population"], errors="coerce")
                         .fillna(0.0).astype(float))
    can = wards["can_id"].astype("string")
    measures: list[_Measure] = []
    measures += _deprivation(wards, can, deprivation, national_lsoas)
    measures += _average_ranks(wards, can, deprivation, lsoa_weights, national_lsoas)
    if uncovered is not None:
        measures += _coverage(wards, can, uncovered, radius_m)
    measures += _incidents(wards, can)
    measures += _supply(wards, can)
    frames = [_scored(m) for m in measures]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in INDICATOR_COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(INDICATOR_COLUMNS)]


# -- the indicators ---------------------------------------------------------------------


def _sums(values: pd.Series, can: pd.Series) -> pd.Series:
    return values.groupby(can).sum()


def _positions(groups: pd.Series, *series: pd.Series) -> dict:
    """Each CAN's boroughs (`groups`: CAN -> tuple of borough codes) as positions in the
    index the `series` share (sums and minima over them then need no label look-ups,
    which took most of the analysis's time at England size)."""
    index = series[0].index
    if any(not s.index.equals(index) for s in series[1:]):
        raise ValueError("the series must share one index")
    return {c: index.get_indexer(list(bs)) for c, bs in groups.items()}


def _rate(count: pd.Series, pop: pd.Series) -> pd.Series:
    return count / pop.where(pop > 0)


def _deprivation(wards, can, deprivation, national_lsoas) -> list[_Measure]:
    out = []
    pop = wards["population"]
    for domain, words in DOMAIN_TEXT.items():
        column = f"{domain}_score"
        if column not in wards or not wards[column].notna().any():
            continue
        score = pd.to_numeric(wards[column], errors="coerce")
        weight = pop.where(score.notna(), 0.0)
        value = _rate(_sums((score.fillna(0.0) * weight), can), _sums(weight, can))
        area = float((score.fillna(0.0) * weight).sum() / weight.sum()) if weight.sum() else np.nan
        reference = pd.Series(area, index=value.index)
        national = national_percentile(value, deprivation, domain, national_lsoas)
        if national is None:
            text = value.map(lambda v, a=area, w=words: f"{w} score {_number(v)}, "
                             f"{_times(v / a if a else np.nan)} the study area's")
        else:
            ranked = national_percentile(pd.Series([area]), deprivation, domain, national_lsoas)
            assert ranked is not None  # the same deprivation data ranked `value` above
            whole = ranked.iloc[0]
            text = national.map(lambda p, w=words, a=whole: (
                f"{w} {_national_text(p)} (study area: {_national_text(a, short=True)})"))
        usable = None if national is None else national <= NATIONAL_HALF
        out.append(_Measure(f"deprivation:{domain}", value, reference, 1, text, usable))
    return out


def ward_average_ranks(deprivation: pd.DataFrame, lsoa_weights: pd.DataFrame,
                       domain: str) -> pd.Series:
    """Each ward's average national rank on a domain: the mean of its LSOAs' ranks
    weighted by the LSOA's share in the ward times its population (``pop_total`` when the
    data have it, else each LSOA counts once), MHCLG's "average rank" at ward level."""
    rank = f"{domain}_rank"
    lsoas = deprivation.drop_duplicates("lsoa_code").set_index("lsoa_code")
    joined = lsoa_weights[["lsoa_code", "ward_code", "weight"]].join(
        lsoas[[rank] + (["pop_total"] if "pop_total" in lsoas else [])], on="lsoa_code")
    people = joined["pop_total"].astype(float) if "pop_total" in joined else 1.0
    weight = joined["weight"].astype(float) * people
    values = pd.to_numeric(joined[rank], errors="coerce")
    weight = weight.where(values.notna(), 0.0)
    total = weight.groupby(joined["ward_code"]).sum()
    return ((values.fillna(0.0) * weight).groupby(joined["ward_code"]).sum()
            / total.where(total > 0))


def _average_ranks(wards, can, deprivation, lsoa_weights, national_lsoas) -> list[_Measure]:
    """Domains with national ranks but no scores, measured by their average rank."""
    if deprivation is None or lsoa_weights is None or "lsoa_code" not in deprivation:
        return []
    out = []
    pop = wards["population"]
    for domain, words in DOMAIN_TEXT.items():
        if f"{domain}_score" in wards and wards[f"{domain}_score"].notna().any():
            continue  # measured by its score
        if f"{domain}_rank" not in deprivation:
            continue
        rank = ward_average_ranks(deprivation, lsoa_weights, domain).reindex(wards.index)
        weight = pop.where(rank.notna(), 0.0)
        if weight.sum() <= 0:
            continue
        share = rank / national_lsoas
        value = _rate(_sums(share.fillna(0.0) * weight, can), _sums(weight, can))
        area = float((share.fillna(0.0) * weight).sum() / weight.sum())
        reference = pd.Series(area, index=value.index)
        text = value.map(lambda v, a=area, w=words: (
            f"{w}: average rank {_national_text(v)} (study area: "
            f"{_national_text(a, short=True)})"))
        out.append(_Measure(f"deprivation:{domain}", value, reference, -1, text,
                            value <= NATIONAL_HALF))
    return out


def national_percentile(values: pd.Series, deprivation: pd.DataFrame | None, domain: str,
                        national_lsoas: int) -> pd.Series | None:
    """Where each score would rank nationally, as a share (0-1, small = most deprived).

    The domain's national rank orders its LSOAs by score (rank 1 = highest score), so a
    score is placed by linear interpolation between the (score, rank) pairs of the LSOAs
    given, clamped at their ends; None when the data lack the domain's scores or ranks.
    """
    score, rank = f"{domain}_score", f"{domain}_rank"
    if deprivation is None or score not in deprivation or rank not in deprivation:
        return None
    pairs = deprivation[[score, rank]].apply(pd.to_numeric, errors="coerce").dropna()
    if pairs.empty:
        return None
    pairs = pairs.sort_values(score)
    ranks = np.interp(values.to_numpy(float), pairs[score].to_numpy(float),
                      pairs[rank].to_numpy(float))
    return pd.Series(ranks / national_lsoas, index=values.index)


def _national_text(share: float, *, short: bool = False) -> str:
    """'in the most deprived 5% nationally' (the share rounded up to a whole per cent);
    `short` leaves out 'in' and 'nationally'."""
    if not np.isfinite(share):
        return "national position unknown"
    pct = max(1, math.ceil(share * 100 - 1e-9))
    text = (f"least deprived {101 - pct}%" if pct > 50 else f"most deprived {pct}%")
    return text if short else f"in the {text} nationally"


def _coverage(wards, can, uncovered: pd.DataFrame, radius_m: float) -> list[_Measure]:
    out = []
    pop = wards["population"]
    total = float(pop.sum())
    for category in uncovered.columns:
        people = pd.to_numeric(uncovered[category], errors="coerce").reindex(wards.index)
        people = people.fillna(0.0)
        area = float(people.sum()) / total if total else np.nan
        if not np.isfinite(area) or area >= 1:  # no group of the category anywhere
            continue
        value = _rate(_sums(people, can), _sums(pop, can))
        reference = pd.Series(area, index=value.index)
        text = value.map(lambda v, a=area, c=category: (
            f"no {c} group within {radius_m:,.0f} m for {_percent(v)} of residents "
            f"(study area: {_percent(a)})"))
        out.append(_Measure(f"uncovered:{category}", value, reference, 1, text))
    return out


def _incidents(wards, can) -> list[_Measure]:
    if "incidents_per_1000" not in wards:
        return []
    known = wards["incidents_per_1000"].notna()
    types = [c for c in wards.columns if _is_type_count(wards[c])]
    pop = wards["population"].where(known, 0.0)
    borough = (wards["borough_code"].astype("string") if "borough_code" in wards
               else pd.Series("", index=wards.index, dtype="string"))
    names = (wards["borough_name"].astype("string") if "borough_name" in wards else borough)
    can_boroughs = pd.DataFrame({"can": can, "borough": borough}).dropna().groupby("can")[
        "borough"].agg(lambda s: tuple(sorted(set(s))))
    name_of = dict(zip(borough, names, strict=True))
    out = []
    for column in types:
        count = pd.to_numeric(wards[column], errors="coerce").where(known, 0.0).fillna(0.0)
        if count.sum() <= 0:
            continue
        per_borough = _rate(count.groupby(borough).sum(), pop.groupby(borough).sum()) * 1000
        borough_pop = pop.groupby(borough).sum()
        can_count = _sums(count, can)
        value = _rate(can_count, _sums(pop, can)) * 1000
        at = _positions(can_boroughs, borough_pop, per_borough)
        bp, pb = borough_pop.to_numpy(dtype=float), per_borough.to_numpy(dtype=float)
        reference = pd.Series({
            c: float(np.nansum(pb[p] * bp[p]) / np.nansum(bp[p])) if np.nansum(bp[p]) else np.nan
            for c, p in at.items()}).reindex(value.index)
        label = column.removeprefix("incidents_").replace("_", " ")
        where = {c: _whose(bs, name_of) for c, bs in can_boroughs.items()}
        with np.errstate(divide="ignore", invalid="ignore"):
            times = (value / reference).map(_times)
        text = pd.Series({c: f"{label} rate {times[c]} {where[c]} "
                          f"({_number(value[c])} per 1,000 residents)"
                          for c in value.index}, dtype=object)
        in_boroughs = count.groupby(borough).sum()
        inside = in_boroughs.to_numpy(dtype=float)
        outside = pd.Series({c: float(np.nansum(inside[p])) for c, p in
                             _positions(can_boroughs, in_boroughs).items()}).reindex(
            value.index) - can_count
        reached = (count > 0).where(known).groupby(borough).mean()
        share = reached.to_numpy(dtype=float)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a CAN whose wards are unknown
            spread = pd.Series({c: float(np.nanmin(share[p])) for c, p in
                                _positions(can_boroughs, reached).items()}).reindex(
                value.index)
        # both rates must rest on enough incidents: the CAN's own, and its borough's
        # outside it, found in most of its wards (a type known only from another force's
        # strays near the boundary is not a borough rate)
        enough = ((can_count >= MIN_INCIDENTS) & (outside >= MIN_INCIDENTS)
                  & (spread >= MIN_WARD_SHARE))
        out.append(_Measure(f"incidents:{label.replace(' ', '_')}", value.where(enough),
                            reference, 1, text))
    return out


#: endings of ``incidents_*`` columns that are not counts of one type
_NOT_TYPE_COUNTS = ("_per_1000", "_eb", "_rate", "_ratio", "_share", "_mean", "_p")


def _is_type_count(column: pd.Series) -> bool:
    """An ``incidents_<type>`` count column (whole numbers), not a rate or a trend."""
    name = str(column.name)
    if not name.startswith("incidents_") or name.endswith(_NOT_TYPE_COUNTS):
        return False
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna().astype(float)
    return bool((values == np.round(values)).all())


def _whose(boroughs: tuple, names: dict) -> str:
    if len(boroughs) == 1:
        name = names.get(boroughs[0])
        if name is None or pd.isna(name) or not str(name).strip():
            return "the borough's"
        return f"{name}'" if str(name).endswith("s") else f"{name}'s"
    return "the boroughs'"


def _supply(wards, can) -> list[_Measure]:
    if "groups_total" not in wards:
        return []
    groups = pd.to_numeric(wards["groups_total"], errors="coerce").fillna(0.0)
    pop = wards["population"]
    if groups.sum() <= 0:  # no register of groups: nothing to compare
        return []
    value = _rate(_sums(groups, can), _sums(pop, can)) * 1000
    area = float(groups.sum() / pop.sum() * 1000) if pop.sum() else np.nan
    reference = pd.Series(area, index=value.index)
    text = value.map(lambda v, a=area: (
        f"no VCS group in its wards (study area: {_number(a)} per 1,000 residents)" if v == 0
        else f"{_number(v)} VCS groups per 1,000 residents (study area: {_number(a)})"))
    return [_Measure("supply:groups", value, reference, -1, text)]


# -- scoring ----------------------------------------------------------------------------


def _scored(measure: _Measure) -> pd.DataFrame:
    """The long rows of one indicator: ratio to the reference and percentile among CANs."""
    value = measure.value.astype(float)
    reference = measure.reference.reindex(value.index).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure.direction > 0:
            ratio = value / reference
        else:
            ratio = reference / value
    ratio = ratio.where(value.notna() & reference.notna())
    ratio = ratio.where(~((value == 0) & (reference == 0)), 1.0)
    worse = value * measure.direction
    known = worse.dropna()
    n = len(known)
    percentile = pd.Series(
        [float((known < w).sum()) / (n - 1) if n > 1 else 1.0 for w in worse.fillna(-np.inf)],
        index=value.index).where(worse.notna())
    frame = pd.DataFrame({
        "can_id": value.index.astype(str), "key": measure.key, "value": value.to_numpy(),
        "reference": reference.to_numpy(), "ratio": ratio.to_numpy(),
        "percentile": percentile.to_numpy(),
        "text": measure.text.reindex(value.index).to_numpy()})
    frame["eligible"] = (frame["ratio"] >= MIN_RATIO) & frame["percentile"].notna()
    if measure.usable is not None:
        frame["eligible"] &= measure.usable.reindex(value.index).fillna(False).to_numpy(bool)
    return frame


# -- wording ----------------------------------------------------------------------------


def _number(value: float) -> str:
    """Two significant figures, thousands separated: 0.074, 1.2, 35, 1,200."""
    if value is None or not np.isfinite(value):
        return "unknown"
    if value == 0:
        return "0"
    digits = max(0, 1 - int(math.floor(math.log10(abs(value)))))
    rounded = round(value, digits)
    return f"{rounded:,.{digits}f}"


def _percent(share: float) -> str:
    return f"{share:.0%}" if np.isfinite(share) else "unknown"


def _times(ratio: float) -> str:
    """'2.1x' (one decimal); 'many times' when the reference is 0."""
    if ratio is None or not np.isfinite(ratio):
        return "many times"
    return f"{ratio:.1f}x"
