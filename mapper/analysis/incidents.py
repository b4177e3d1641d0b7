"""Incident pressure per ward: counts in a time window, rates, and recent spikes.

Incidents are placed in time by their ``month`` ("YYYY-MM"), or, when that is blank or
malformed, by the first seven characters of their ISO ``date``. Incidents with neither
are counted only when no time window is set, and never in monthly series. Incidents
outside the wards (``ward_code`` missing or unknown) are never counted.

Records flagged in ``duplicate_of`` are counted like any other by default: the police.uk
importer keeps repeated crime ids as incidents of their own. Pass
``exclude_duplicates=True`` to count each flagged cluster once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.stats import poisson

from mapper.analysis._tables import (
    aligned_population,
    by_unique,
    crosstab,
    is_duplicate,
    require,
    slugs,
    ward_index,
)
from mapper.errors import MapperError

PREFIX = "incidents"
RATE = "incidents_per_1000"
#: the numeric columns of a ward's incident trend (:func:`incident_trend`)
TREND_COLUMNS = ("recent_mean", "baseline_mean", "trend_ratio", "spike_p")
#: a spike must be this unlikely under the baseline rate (one-sided Poisson p-value)
SPIKE_ALPHA = 0.01
#: with no baseline incidents, the baseline is taken as this many incidents over its months
EMPTY_BASELINE_INCIDENTS = 0.5
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class ShortSeriesError(MapperError, ValueError):
    """Too few months of incidents to compare recent months with a baseline."""


# -- inputs ----------------------------------------------------------------------------


def _check_month(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise ValueError(f"{name} must be a month written YYYY-MM (e.g. 2024-03), got {value!r}")
    return value


def _check_types(types) -> set | None:
    if types is None:
        return None
    if isinstance(types, str):
        raise TypeError(f"types must be a set of incident types, got the string {types!r}")
    return set(types)


def incident_months(incidents: pd.DataFrame) -> pd.Series:
    """Each incident's month as "YYYY-MM" (from ``month``, else ``date``), <NA> if neither."""
    out = pd.Series(pd.NA, index=incidents.index, dtype="string")
    for column in ("date", "month"):  # month last: it wins where both are usable
        if column in incidents.columns:
            text = by_unique(incidents[column], _month_text)
            out = text.where(text.notna(), out)
    return out


def _month_text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip().str[:7]
    return text.where(text.str.fullmatch(_MONTH.pattern).fillna(False).astype(bool), pd.NA)


def _selected(incidents, index, *, types, exclude_duplicates) -> pd.DataFrame:
    """Incidents in a ward of `index`, of the chosen types, duplicates dropped if asked."""
    keep = incidents["ward_code"].isin(index)
    if types is not None:
        keep &= incidents["type"].isin(types)
    if exclude_duplicates:
        keep &= ~is_duplicate(incidents)
    return incidents[keep.to_numpy()]


# -- counts and rates ------------------------------------------------------------------


def incident_counts(
    incidents: pd.DataFrame,
    wards_index,
    *,
    start: str | None = None,
    end: str | None = None,
    types: Iterable[str] | None = None,
    exclude_duplicates: bool = False,
) -> pd.DataFrame:
    """Incidents per ward in a window of months, in all and by type.

    Parameters
    ----------
    incidents : the incidents register (``ward_code``, ``month``/``date``, ``type``)
    wards_index : the wards to report on (codes, or a frame with ``ward_code``)
    start, end : first and last month counted, "YYYY-MM", inclusive; None leaves that
        side open. With either set, incidents with no usable month are not counted.
    types : the incident types to count (exact values); None counts every type
    exclude_duplicates : leave out records flagged in ``duplicate_of``

    Returns
    -------
    DataFrame indexed by ``ward_code`` (every ward, in order), int columns ``incidents``
    and ``incidents_<slug(type)>`` per type. The type columns are the same whatever the
    window: every type of `types`, or every type in `incidents`, sorted. Incidents with a
    blank type count in ``incidents`` only.
    """
    index = ward_index(wards_index)
    require(incidents, ["ward_code", "type"], "incidents")
    start, end = _check_month(start, "start"), _check_month(end, "end")
    if start and end and start > end:
        raise ValueError(f"start {start} is after end {end}")
    chosen = _check_types(types)
    names = _type_names(incidents, chosen)
    kept = _selected(incidents, index, types=chosen, exclude_duplicates=exclude_duplicates)
    kept = _in_window(kept, start, end)
    total = crosstab(kept["ward_code"], index, pd.Series(PREFIX, index=kept.index), [PREFIX])
    by_type = crosstab(kept["ward_code"], index, slugs(kept["type"]), names)
    by_type.columns = [f"{PREFIX}_{name}" for name in by_type.columns]
    return pd.concat([total, by_type], axis=1)


def _type_names(incidents: pd.DataFrame, chosen: set | None) -> list[str]:
    values = incidents["type"].unique() if chosen is None else list(chosen)
    return sorted(set(slugs(pd.Series(values, dtype="object")).dropna()))


def _in_window(incidents: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
    if start is None and end is None:
        return incidents
    month = incident_months(incidents)
    keep = month.notna()
    if start is not None:
        keep &= month >= start
    if end is not None:
        keep &= month <= end
    return incidents[keep.fillna(False).astype(bool).to_numpy()]


def incident_rate(counts: pd.Series, population: pd.Series) -> pd.Series:
    """Incidents per 1,000 residents, named ``incidents_per_1000``.

    `population` is aligned on the index of `counts`; a ward whose population is 0,
    negative or missing gets NaN (never inf, never a warning). The rate is for the
    window counted, not annualised: compare windows of the same length.
    """
    people = aligned_population(population, counts.index)
    rate = counts.astype("float64") / (people / 1000.0)
    return rate.rename(RATE)


# -- monthly series and trend ----------------------------------------------------------


def monthly_counts(
    incidents: pd.DataFrame,
    wards_index,
    *,
    types: Iterable[str] | None = None,
    exclude_duplicates: bool = False,
) -> pd.DataFrame:
    """Incidents per ward per month, zero-filled.

    Returns
    -------
    DataFrame indexed by ``ward_code`` (every ward) with one int column per month
    "YYYY-MM", sorted, from the first to the last month of any dated incident in
    `incidents` (whatever its ward or type, so that filtering by type never shortens
    the period the data covers). No columns when no incident has a month.
    """
    index = ward_index(wards_index)
    require(incidents, ["ward_code", "type"], "incidents")
    every_month = incident_months(incidents).dropna()
    if every_month.empty:
        return pd.DataFrame(index=index, columns=pd.Index([], dtype="object", name="month"))
    span = list(pd.period_range(every_month.min(), every_month.max(), freq="M").strftime("%Y-%m"))
    kept = _selected(
        incidents, index, types=_check_types(types), exclude_duplicates=exclude_duplicates
    )
    table = crosstab(kept["ward_code"], index, incident_months(kept), span)
    table.columns = pd.Index(span, dtype="object", name="month")
    return table


def _check_trend_options(recent_months, baseline_months, min_count, spike_ratio) -> None:
    problems = []
    if int(recent_months) != recent_months or recent_months < 1:
        problems.append(f"recent_months must be a whole number >= 1, got {recent_months!r}")
    if int(baseline_months) != baseline_months or baseline_months < 1:
        problems.append(f"baseline_months must be a whole number >= 1, got {baseline_months!r}")
    if min_count < 0:
        problems.append(f"min_count must be >= 0, got {min_count!r}")
    if not spike_ratio > 0:
        problems.append(f"spike_ratio must be > 0, got {spike_ratio!r}")
    if problems:
        raise ValueError("; ".join(problems))


def _split_months(monthly: pd.DataFrame, recent_months: int, baseline_months: int):
    """(baseline months, recent months): the last `recent_months`, and up to
    `baseline_months` before them."""
    months = sorted(map(str, monthly.columns))
    if len(months) < recent_months + 1:
        have = f"{months[0]} to {months[-1]}" if months else "none"
        raise ShortSeriesError(
            f"a trend needs at least {recent_months + 1} months of incidents "
            f"({recent_months} recent and at least one before them); the data has "
            f"{len(months)} ({have})"
        )
    recent = months[-recent_months:]
    baseline = months[max(0, len(months) - recent_months - baseline_months) : -recent_months]
    return baseline, recent


def incident_trend(
    monthly: pd.DataFrame,
    *,
    recent_months: int = 3,
    baseline_months: int = 12,
    min_count: int = 5,
    spike_ratio: float = 1.5,
    alpha: float = SPIKE_ALPHA,
) -> pd.DataFrame:
    """Recent incidents against each ward's own baseline, and whether they spiked.

    The recent period is the last `recent_months` months of `monthly` (columns
    "YYYY-MM", consecutive); the baseline is the `baseline_months` months before it, or
    as many as the data has (at least one).

    A ward **spikes** when all three hold:

    1. ``R >= min_count``, where R is the total number of incidents in the recent months;
    2. ``trend_ratio >= spike_ratio``, or the baseline had no incidents at all;
    3. ``spike_p < alpha`` (0.01 by default), where ``spike_p`` is the one-sided Poisson
       p-value ``P(X >= R)`` for ``X ~ Poisson(mu)``, ``mu = recent_months * b`` and
       ``b`` the baseline mean monthly count (``scipy.stats.poisson.sf(R - 1, mu)``).
       When the baseline had no incidents, ``b`` is taken as
       ``0.5 / n_baseline_months`` (half an incident over the baseline), so p stays
       meaningful and a short baseline demands more recent incidents.

    Parameters
    ----------
    monthly : wards x months counts, from :func:`monthly_counts`
    recent_months, baseline_months : lengths of the two periods, in months
    min_count, spike_ratio, alpha : thresholds of the rule above

    Returns
    -------
    DataFrame indexed like `monthly`: ``recent_mean`` and ``baseline_mean`` (mean
    incidents a month), ``trend_ratio`` (recent_mean / baseline_mean; NaN when the
    baseline mean is 0), ``spike`` (bool) and ``spike_p``. ``.attrs`` records the
    ``recent_period`` and ``baseline_period`` as (first, last) months.

    Raises
    ------
    ShortSeriesError (a ValueError) when there are fewer than ``recent_months + 1`` months.
    """
    _check_trend_options(recent_months, baseline_months, min_count, spike_ratio)
    monthly = monthly.rename(columns=str)
    baseline, recent = _split_months(monthly, int(recent_months), int(baseline_months))
    counts = monthly.fillna(0).astype("float64")
    recent_total = counts[recent].sum(axis=1)
    baseline_mean = counts[baseline].sum(axis=1) / len(baseline)
    recent_mean = recent_total / len(recent)
    no_baseline = baseline_mean.eq(0)
    ratio = recent_mean / baseline_mean.where(~no_baseline)
    rate = baseline_mean.where(~no_baseline, EMPTY_BASELINE_INCIDENTS / len(baseline))
    p = pd.Series(
        poisson.sf(recent_total.to_numpy() - 1, len(recent) * rate.to_numpy()),
        index=monthly.index,
    )
    steep = (ratio >= spike_ratio).fillna(False).astype(bool) | no_baseline
    spike = (recent_total >= min_count) & steep & (p < alpha)
    out = pd.DataFrame(
        {
            "recent_mean": recent_mean,
            "baseline_mean": baseline_mean,
            "trend_ratio": ratio,
            "spike": spike.astype(bool),
            "spike_p": p,
        },
        index=monthly.index,
    )
    out.attrs = {
        "recent_period": (recent[0], recent[-1]),
        "baseline_period": (baseline[0], baseline[-1]),
    }
    return out


# -- all together ----------------------------------------------------------------------


def incident_pressure(
    incidents: pd.DataFrame,
    wards_index,
    population: pd.Series,
    *,
    start: str | None = None,
    end: str | None = None,
    types: Iterable[str] | None = None,
    recent_months: int = 3,
    baseline_months: int = 12,
    min_count: int = 5,
    spike_ratio: float = 1.5,
    exclude_duplicates: bool = False,
) -> pd.DataFrame:
    """Counts in the window, the rate per 1,000 residents, and the trend, per ward.

    Counts and rate follow :func:`incident_counts` and :func:`incident_rate` over
    ``start..end``. The trend (:func:`incident_trend`) uses the monthly series of the
    same types up to `end` (the whole series when `end` is None), so "recent" means the
    last `recent_months` months of data up to `end`; `start` does not shorten the
    baseline.

    Returns
    -------
    DataFrame indexed by ``ward_code``: ``incidents``, ``incidents_<type>`` ...,
    ``incidents_per_1000``, ``recent_mean``, ``baseline_mean``, ``trend_ratio``,
    ``spike``, ``spike_p``; ``.attrs`` as in :func:`incident_trend`.

    Raises
    ------
    ShortSeriesError when the months up to `end` are too few for a trend.
    """
    counts = incident_counts(
        incidents,
        wards_index,
        start=start,
        end=end,
        types=types,
        exclude_duplicates=exclude_duplicates,
    )
    monthly = monthly_counts(
        incidents, wards_index, types=types, exclude_duplicates=exclude_duplicates
    )
    if end is not None:
        monthly = monthly.loc[:, np.asarray(monthly.columns.astype(str) <= end, dtype=bool)]
    trend = incident_trend(
        monthly,
        recent_months=recent_months,
        baseline_months=baseline_months,
        min_count=min_count,
        spike_ratio=spike_ratio,
    )
    out = pd.concat([counts, incident_rate(counts[PREFIX], population), trend], axis=1)
    out.attrs = dict(trend.attrs)
    return out


__all__ = [
    "ShortSeriesError",
    "incident_months",
    "incident_counts",
    "incident_rate",
    "monthly_counts",
    "incident_trend",
    "incident_pressure",
]


# -- what the incident data cover ------------------------------------------------------

#: an incident source (file) covers a district when at least this share of its points lie
#: in it: a force's or a borough's file also holds a few points just over its boundary
#: (police.uk snaps crimes to nearby streets), which must not make the neighbouring
#: district look covered, with almost no incidents
COVERAGE_MIN_SHARE = 0.005


def covered_districts(incidents: pd.DataFrame) -> set[str]:
    """District (``borough_code``) codes that at least one incident source covers.

    A source is an incident's ``source_file`` (all incidents are one source when that
    column is missing); it covers the districts holding at least
    :data:`COVERAGE_MIN_SHARE` of its placed points. A district no source covers has no
    incident data: its wards' incident rates are unknown, not zero.
    """
    require(incidents, ["borough_code"], "incidents")
    placed = incidents[incidents["borough_code"].notna()]
    if placed.empty:
        return set()
    source = (placed["source_file"].fillna("") if "source_file" in placed
              else pd.Series("", index=placed.index))
    per = placed.groupby([source.rename("source"), placed["borough_code"]]).size()
    share = per / per.groupby(level="source").transform("sum")
    return set(share[share >= COVERAGE_MIN_SHARE].index.get_level_values("borough_code"))
