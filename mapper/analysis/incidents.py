"""Incident pressure per ward: counts in a time window, rates, and recent spikes.

Incidents are placed in time by their ``month`` ("YYYY-MM"), or, when that is blank or
malformed, by the first seven characters of their ISO ``date``. Incidents with neither
are counted only when no time window is set, and never in monthly series. Incidents
outside the wards (``ward_code`` missing or unknown) are never counted.

Records flagged in ``duplicate_of`` are counted like any other by default: the police.uk
importer keeps repeated crime ids as incidents of their own. Pass
``exclude_duplicates=True`` to count each flagged cluster once.

The incidents may also be a summary, one row per distinct (``source_file``, ``type``,
``month``, ``ward_code``, ``borough_code``) with ``n_records`` the incidents it stands
for (:meth:`mapper.store.Workspace.incident_summary`, counted in PostgreSQL for layers
larger than memory): every count weighs each row by it, so the figures equal those of
the rows themselves (a summary has no ``duplicate_of``: it cannot exclude duplicates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import poisson

from mapper.analysis._tables import (
    WEIGHT,
    aligned_population,
    by_unique,
    crosstab,
    is_duplicate,
    require,
    row_weights,
    slugs,
    ward_index,
    weighted_counts,
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
    weights = row_weights(kept)
    total = crosstab(kept["ward_code"], index, pd.Series(PREFIX, index=kept.index), [PREFIX],
                     weights)
    by_type = crosstab(kept["ward_code"], index, slugs(kept["type"]), names, weights)
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
    table = crosstab(kept["ward_code"], index, incident_months(kept), span, row_weights(kept))
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


def months_without_data(incidents: pd.DataFrame, months) -> list[str]:
    """Those of `months` ("YYYY-MM") in which the incident data hold no incident at all,
    of any type, anywhere: a month missing from the files (police.uk extracts of single
    months), not a month without incidents."""
    present = set(incident_months(incidents).dropna().astype(str))
    return [m for m in map(str, months) if m not in present]


def check_no_gaps(incidents, monthly, recent_months: int, baseline_months: int) -> None:
    """ShortSeriesError when a month the trend compares has no data at all: its zeros
    would be read as a fall, and the months after it as a spike."""
    baseline, recent = _split_months(monthly, recent_months, baseline_months)
    gaps = months_without_data(incidents, baseline + recent)
    if gaps:
        shown = ", ".join(gaps[:4]) + (f" and {len(gaps) - 4} more" if len(gaps) > 4 else "")
        raise ShortSeriesError(
            f"the incident data have no incidents at all in {len(gaps)} of the "
            f"{len(baseline) + len(recent)} months the trend compares ({shown}): months "
            "missing from the files, not months without incidents; import every month "
            "from the first to the last")


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
    check_no_gaps(incidents, monthly, recent_months, baseline_months)
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
    "check_no_gaps",
    "monthly_counts",
    "months_without_data",
    "incident_trend",
    "incident_pressure",
]


# -- what the incident data cover ------------------------------------------------------

#: an incident source (file) covers a district when at least this share of its points lie
#: in it: a force's or a borough's file also holds a few points just over its boundary
#: (police.uk snaps crimes to nearby streets), which must not make the neighbouring
#: district look covered, with almost no incidents
COVERAGE_MIN_SHARE = 0.005
#: ... and where its points per ward are at least this share of those of its densest
#: district (see :func:`source_coverage`)
COVERAGE_MIN_DENSITY = 0.1


def _source_of(incidents: pd.DataFrame) -> pd.Series:
    if "source_file" in incidents:
        return incidents["source_file"].astype("string").fillna("")
    return pd.Series("", index=incidents.index, dtype="string")


def _wards_per_district(incidents: pd.DataFrame, wards: pd.DataFrame | None) -> pd.Series:
    if wards is not None and len(wards):
        return wards.drop_duplicates("ward_code").groupby("borough_code").size()
    if "ward_code" in incidents:  # without the wards: those holding incidents
        return incidents.dropna(subset=["borough_code"]).groupby("borough_code")[
            "ward_code"].nunique().clip(lower=1)
    return pd.Series(1, index=pd.Index(incidents["borough_code"].dropna().unique()))


def source_coverage(incidents: pd.DataFrame, wards: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """What each incident source covers, derived from its content.

    A source is an incident's ``source_file`` (all incidents are one source when that
    column is missing). It covers the **months** in which it has at least one incident,
    the **types** it holds (vocabulary names, :mod:`mapper.incident_types`), and the
    **districts** (``borough_code``) where both hold:

    - the district holds at least :data:`COVERAGE_MIN_SHARE` of the source's placed
      points (fewer are strays over the boundary);
    - the source's points per ward there (`wards`: ``ward_code``, ``borough_code``; without
      it, the wards holding incidents) are at least :data:`COVERAGE_MIN_DENSITY` of its
      densest district's: a force's or a borough's file also records crimes in the
      streets just over its boundary (the City of London Police's file holds 358 crimes
      in Tower Hamlets over 25 months, 18 a ward, against 17,131 in the City's one ward),
      which are not coverage of the neighbouring district.

    Within those districts, the source is taken to cover each of its types in each of its
    months.

    Returns
    -------
    DataFrame indexed by ``source_file``, sorted: ``months``, ``types``, ``districts``
    (sorted tuples) and ``incidents`` (rows; of a summary counted in the database, the
    incidents its rows stand for: ``n_records``, :data:`mapper.analysis._tables.WEIGHT`).
    """
    require(incidents, ["type"], "incidents")
    source = _source_of(incidents)
    month = incident_months(incidents)
    district = (incidents["borough_code"] if "borough_code" in incidents
                else pd.Series(pd.NA, index=incidents.index, dtype="object"))
    per_district = _wards_per_district(incidents, wards)
    weights = row_weights(incidents)
    rows = {}
    for name in sorted(source.unique()):
        mine = (source == name).to_numpy()
        count = weighted_counts(district[mine], None if weights is None else weights[mine])
        share = count / max(int(count.sum()), 1)  # of the points placed in a district
        density = count / per_district.reindex(count.index).fillna(1).clip(lower=1)
        dense = density >= COVERAGE_MIN_DENSITY * (density.max() if len(density) else 0)
        keep = (share >= COVERAGE_MIN_SHARE) & dense
        rows[str(name)] = {
            "months": tuple(sorted(month[mine].dropna().astype(str).unique())),
            "types": tuple(sorted(incidents.loc[mine, "type"].dropna().astype(str).unique())),
            "districts": tuple(sorted(map(str, keep[keep].index))),
            "incidents": int(mine.sum() if weights is None else weights[mine].sum()),
        }
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["months", "types", "districts", "incidents"])
    frame.index.name = "source_file"
    return frame


def incidents_per_district(incidents: pd.DataFrame) -> pd.Series:
    """Incidents per district (``borough_code``), most first; a summary's rows count the
    incidents they stand for."""
    return weighted_counts(incidents["borough_code"], row_weights(incidents))


def covered_districts(incidents: pd.DataFrame, wards: pd.DataFrame | None = None
                      ) -> set[str]:
    """District (``borough_code``) codes that at least one incident source covers
    (:func:`source_coverage`). A district no source covers has no incident data: its
    wards' incident rates are unknown, not zero."""
    require(incidents, ["borough_code"], "incidents")
    frame = incidents if "type" in incidents else incidents.assign(type=pd.NA)
    return {d for ds in source_coverage(frame, wards)["districts"] for d in ds}


def month_span(months) -> str:
    """'Sep 2024 - Feb 2025' for consecutive months; with the count when some months in
    between are missing ('Sep 2024 - Feb 2025, 4 months'); '' for none."""
    months = sorted(map(str, months))
    if not months:
        return ""
    first, last = _month_word(months[0]), _month_word(months[-1])
    text = first if first == last else f"{first} - {last}"
    whole = len(pd.period_range(months[0], months[-1], freq="M"))
    return text if whole == len(months) else f"{text}, {len(months)} months"


def _month_word(month: str) -> str:
    return pd.Period(month, "M").strftime("%b %Y")


def types_words(types, every=None) -> str:
    """'burglary only', 'burglary and robbery only', 'all 14 types' (when `types` are
    every type of `every`), '5 types (burglary, drugs, ...)'."""
    names = [str(t) for t in types]
    low = [_lower_first(t) for t in names]
    if not names:
        return "no incident types"
    if every is not None and set(names) >= set(every) and len(names) > 3:
        return f"all {len(names)} incident types"
    if len(low) == 1:
        return f"{low[0]} only"
    if len(low) <= 3:
        return f"{', '.join(low[:-1])} and {low[-1]} only"
    return f"{len(low)} incident types ({', '.join(low)})"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


def counted_words(types, months, every=None) -> str:
    """What was counted, in words: 'burglary only, Sep 2024 - Feb 2025'."""
    months = list(months)
    if not months or not list(types):
        return "no incident data"
    return f"{types_words(types, every)}, {month_span(months)}"


def _type_order(types) -> list[str]:
    from mapper.incident_types import vocabulary

    order = {t: i for i, t in enumerate(vocabulary().types)}
    return sorted(set(types), key=lambda t: (order.get(t, len(order)), t))


def _last_run(months: list[str]) -> list[str]:
    """The last run of consecutive months of sorted `months`."""
    if not months:
        return []
    run = [months[-1]]
    for month in reversed(months[:-1]):
        if (pd.Period(run[0], "M") - 1).strftime("%Y-%m") != month:
            break
        run.insert(0, month)
    return run


def _window_of(months: list[str], window_months: int) -> list[str]:
    """Those of sorted `months` in the last `window_months` months up to the last one
    (all of them when `window_months` is 0)."""
    if not months or not window_months:
        return list(months)
    start = (pd.Period(months[-1], "M") - (window_months - 1)).strftime("%Y-%m")
    return [m for m in months if m >= start]


@dataclass
class IncidentCoverage:
    """Which incident types and months count, per district (see :func:`incident_coverage`).
    """

    #: the types counted by rates, trends and the index
    types: tuple[str, ...]
    #: whether the settings named the types (else: those every covered district has)
    named: bool
    #: district -> type -> months some source covers there
    cover: dict[str, dict[str, tuple[str, ...]]]
    #: district -> the months counted for rates (the window, ending at the district's last
    #: month in which every counted type is covered); () when the types are not covered
    months: dict[str, tuple[str, ...]]
    #: district -> the months of its trend: the last consecutive run of covered months
    series: dict[str, tuple[str, ...]]
    #: every type in the data (for "all N types")
    every: tuple[str, ...] = ()
    #: what each source covers (:func:`source_coverage`)
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)

    def area_months(self, districts, *, series: bool = False) -> tuple[str, ...]:
        """The months counted in an area of several districts: those counted in every one
        of its covered districts (a window no source of any part leaves out)."""
        chosen = self.series if series else self.months
        sets = [set(chosen.get(d, ())) for d in districts if d in self.cover]
        if not sets:
            return ()
        common = sorted(set.intersection(*sets))
        return tuple(_last_run(common) if series else common)

    def from_covering(self, incidents: pd.DataFrame) -> pd.Series:
        """Whether each incident comes from a source that covers its district: only
        those are counted (a force's strays over its boundary are not)."""
        pairs = {(str(s), d) for s, ds in self.sources["districts"].items() for d in ds}
        if not len(incidents):
            return pd.Series(False, index=incidents.index)
        keys = pd.MultiIndex.from_arrays([_source_of(incidents).astype(str),
                                          incidents["borough_code"].astype("object")])
        return pd.Series(keys.isin(list(pairs)), index=incidents.index)

    def words(self, districts) -> str:
        """What is counted in an area, in words ('burglary only, Sep 2024 - Feb 2025')."""
        return counted_words(self.types, self.area_months(districts), self.every)


def incident_coverage(incidents: pd.DataFrame, wards: pd.DataFrame | None = None, *,
                      window_months: int = 12,
                      types: Iterable[str] | None = None) -> IncidentCoverage:
    """The types and months counted in each district.

    1. Each source covers its types in its months in its districts
       (:func:`source_coverage`); a district's coverage is the union over its sources.
    2. The types counted: `types` when given (the ``incident_types`` setting); else every
       type that each covered district has in its own window (the last `window_months`
       months up to the last month any source covers there), so that every ward is
       measured by the same types.
    3. In each district, the months counted are the months in which *every* counted type
       is covered, within the last `window_months` (0: all) up to the last such month:
       the window ends where the district's data end, not where the newest file ends.
       A district whose last such month falls before the study area's window (the last
       `window_months` months of all the data) counts nothing: its data are too old.
    4. A district's trend runs over the last unbroken run of such months.
    """
    sources = source_coverage(incidents, wards)
    cover: dict[str, dict[str, set[str]]] = {}
    for row in sources.itertuples():
        for district in row.districts:
            mine = cover.setdefault(district, {})
            for kind in row.types:
                mine.setdefault(kind, set()).update(row.months)
    every = _type_order({t for row in sources["types"] for t in row})
    if types is None:
        shared = None
        for by_type in cover.values():
            months = sorted({m for ms in by_type.values() for m in ms})
            window = set(_window_of(months, window_months))
            have = {t for t, ms in by_type.items() if window & ms}
            shared = have if shared is None else shared & have
        chosen, named = _type_order(shared or ()), False
    else:
        chosen, named = list(dict.fromkeys(types)), True
    every_month = sorted({m for by_type in cover.values() for ms in by_type.values()
                          for m in ms})
    recent = _window_of(every_month, window_months)
    oldest = recent[0] if recent and window_months else ""
    counted, series = {}, {}
    for district, by_type in cover.items():
        full = (sorted(set.intersection(*(by_type.get(t, set()) for t in chosen)))
                if chosen else [])
        if full and full[-1] < oldest:
            full = []  # its data end before the study area's window: too old to count
        counted[district] = tuple(_window_of(full, window_months))
        series[district] = tuple(_last_run(full))
    return IncidentCoverage(
        types=tuple(chosen), named=named,
        cover={d: {t: tuple(sorted(m)) for t, m in by.items()} for d, by in cover.items()},
        months=counted, series=series, every=tuple(every), sources=sources)


def coverage_words(row, district_names: dict | None = None, all_districts=None) -> str:
    """A source's coverage (a row of :func:`source_coverage`) in words, for provenance:
    'Burglary only; Sep 2024 - Feb 2025; 32 districts (Barnet, ...)'."""
    names = district_names or {}
    districts = [names.get(d, d) for d in row["districts"]]
    if all_districts and set(row["districts"]) >= set(all_districts):
        where = "the whole study area"
    elif not districts:
        where = "no district of the study area"
    elif len(districts) <= 3:
        where = ", ".join(sorted(districts))
    else:
        shown = sorted(districts)
        where = f"{len(shown)} districts ({', '.join(shown[:3])} and {len(shown) - 3} more)"
    kinds = _type_order(row["types"])
    what = (f"{kinds[0]} only" if len(kinds) == 1
            else f"{len(kinds)} types" if kinds else "no types")
    when = month_span(row["months"]) or "no months"
    return f"{what}; {when}; {where}"


#: ward columns saying what was counted and over which months
COUNTED = "incidents_counted"
MONTHS_COUNTED = "incident_months"
TREND_PERIODS = ("trend_recent_period", "trend_baseline_period")


def covered_pressure(
    incidents: pd.DataFrame,
    wards: pd.DataFrame,
    population: pd.Series,
    coverage: IncidentCoverage,
    *,
    recent_months: int = 3,
    baseline_months: int = 12,
    min_count: int = 5,
    spike_ratio: float = 1.5,
    exclude_duplicates: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """Counts, monthly rates and trends per ward, each over what covers the ward.

    A ward's figures use the types of ``coverage.types`` over the months counted in its
    district (:func:`incident_coverage`):

    - ``incidents``: incidents of those types in those months;
    - ``incident_months``: how many months were counted;
    - ``incidents_per_1000``: **incidents a month per 1,000 residents**,
      ``incidents / incident_months / population * 1000``, so that a ward counted over
      six months and one counted over twelve compare;
    - ``incidents_<type>``: each type over the same months, NaN where that type is not
      covered in all of them;
    - ``incidents_counted``: the words for what was counted ("burglary only, Sep 2024 -
      Feb 2025");
    - the trend (:func:`incident_trend`) over the district's last unbroken run of covered
      months, so its recent months end at the last month covered *there*; its periods
      in ``trend_recent_period`` and ``trend_baseline_period`` ("YYYY-MM to YYYY-MM").

    Only incidents from sources that cover their district count
    (:meth:`IncidentCoverage.from_covering`). A ward whose district no source covers, or
    where the types are not covered in any month, has every figure NaN (unknown, not
    zero), ``spike`` False.

    Returns the table (indexed by ``ward_code``, in the order of `wards`) and notes.
    """
    require(wards, ["ward_code", "borough_code"], "wards")
    incidents = incidents[coverage.from_covering(incidents).to_numpy()]
    index = ward_index(wards)
    district = wards.set_index("ward_code")["borough_code"].reindex(index).astype("object")
    names = _type_names(incidents, None)
    by_slug = dict(zip(slugs(pd.Series(incidents["type"].dropna().unique(), dtype="object")),
                       incidents["type"].dropna().unique(), strict=True))
    kept = _selected(incidents, index, types=None, exclude_duplicates=exclude_duplicates)
    month = incident_months(kept)
    dated = month.notna().to_numpy()
    kept, month = kept[dated], month[dated].astype(str)
    chosen = list(coverage.types)
    monthly = monthly_counts(incidents, index, types=chosen,
                             exclude_duplicates=exclude_duplicates)
    out = pd.DataFrame(np.nan, index=index, columns=[
        PREFIX, MONTHS_COUNTED, *(f"{PREFIX}_{n}" for n in names), *TREND_COLUMNS])
    out["spike"] = False
    out[COUNTED] = "no incident data"
    for column in TREND_PERIODS:
        out[column] = pd.Series(pd.NA, index=index, dtype="object")
    notes: list[str] = []
    short: dict[str, list[str]] = {}
    # each district's incidents, found once (not a pass over every incident per district)
    in_district = pd.Series(np.arange(len(kept))).groupby(
        kept["ward_code"].map(district).to_numpy(dtype=object), sort=False).indices
    nowhere = np.zeros(0, dtype=np.int64)
    for code in sorted(district.dropna().unique()):
        rows = (district == code).to_numpy()
        months = list(coverage.months.get(code, ()))
        if not months:
            continue
        wards_here = index[rows]
        mine = in_district.get(code, nowhere)
        mine = mine[month.iloc[mine].isin(months).to_numpy()]
        part = kept.iloc[mine]
        counts = crosstab(part["ward_code"], wards_here, slugs(part["type"]), names,
                          row_weights(part))
        cover = coverage.cover.get(code, {})
        for name in names:
            covered = set(months) <= set(cover.get(by_slug.get(name, name), ()))
            out.loc[rows, f"{PREFIX}_{name}"] = (counts[name].to_numpy() if covered else np.nan)
        out.loc[rows, PREFIX] = monthly.loc[wards_here, months].sum(axis=1).to_numpy()
        out.loc[rows, MONTHS_COUNTED] = len(months)
        out.loc[rows, COUNTED] = counted_words(chosen, months, coverage.every)
        series = list(coverage.series.get(code, ()))
        try:
            trend = incident_trend(monthly.loc[wards_here, series],
                                   recent_months=recent_months,
                                   baseline_months=baseline_months,
                                   min_count=min_count, spike_ratio=spike_ratio)
        except ShortSeriesError:
            short.setdefault(month_span(series) or "no months", []).append(code)
            continue
        for column in (*TREND_COLUMNS, "spike"):
            out.loc[rows, column] = trend[column].to_numpy()
        for column, key in zip(TREND_PERIODS, ("recent_period", "baseline_period"),
                               strict=True):
            first, last = trend.attrs[key]
            out.loc[rows, column] = f"{first} to {last}"
    out[RATE] = incident_rate(out[PREFIX], population) / out[MONTHS_COUNTED]
    out["spike"] = out["spike"].astype(bool)
    for span, codes in short.items():
        notes.append(f"incident trend not computed in {len(codes):,} "
                     f"district{'s' if len(codes) != 1 else ''} ({', '.join(codes)}): "
                     f"their covered months ({span}) are fewer than the "
                     f"{recent_months + 1} a trend needs")
    return out, notes


__all__ += ["COVERAGE_MIN_SHARE", "COVERAGE_MIN_DENSITY", "covered_districts",
            "incidents_per_district", "WEIGHT",
            "source_coverage", "IncidentCoverage",
            "incident_coverage", "covered_pressure", "counted_words", "month_span",
            "types_words", "coverage_words"]


def area_trend(
    monthly: pd.DataFrame,
    district: pd.Series,
    ward_codes,
    coverage: IncidentCoverage,
    *,
    recent_months: int = 3,
    baseline_months: int = 12,
) -> dict:
    """The incident trend of an area (a CAN, a ward): its wards' monthly counts of the
    counted types summed, over the months covered in *every* covered district of the
    area (the last unbroken run of them), so the recent months end at the last month
    covered for the area. Wards of districts without coverage are left out (counted in
    ``wards_left_out``).

    Parameters
    ----------
    monthly : wards x months counts of ``coverage.types`` (:func:`monthly_counts`) of the
        incidents from covering sources (:meth:`IncidentCoverage.from_covering`)
    district : each ward's district code, indexed by ward code
    ward_codes : the area's wards

    Returns
    -------
    dict: ``months`` and ``counts`` (the series), ``types``, ``counted`` (the trend's
    types and months in words), ``rates_counted`` (what the area's wards' rates count, in
    words, one phrase per distinct window),
    ``wards_left_out``, ``note`` (why there is no trend, else ""), and with a trend
    ``recent`` (months), ``recent_period`` and ``baseline_period`` ((first, last)),
    ``baseline`` (its months), ``recent_total``, ``baseline_mean``, ``trend_ratio``,
    ``spike``.
    """
    codes = [str(w) for w in ward_codes]
    where = district.reindex(codes)
    covered = [w for w in codes if coverage.series.get(where.get(w), ())]
    months = list(coverage.area_months(set(where[covered]), series=True)) if covered else []
    series = (monthly.reindex(index=covered, columns=months).fillna(0).sum(axis=0)
              .astype(int) if months else pd.Series(dtype=int))
    out = {
        "months": months, "counts": [int(v) for v in series], "types": list(coverage.types),
        "counted": counted_words(coverage.types, months, coverage.every),
        "rates_counted": "; ".join(dict.fromkeys(
            counted_words(coverage.types, coverage.months.get(d, ()), coverage.every)
            for d in sorted(set(where.dropna())))) or "no incident data",
        "wards_left_out": len(codes) - len(covered), "note": "", "recent": 0,
        "baseline": [], "recent_total": None, "baseline_mean": None, "spike": None,
    }
    if not months:
        out["note"] = ("no incident source covers this area with the incident types "
                       "counted" + (f" ({types_words(coverage.types)})"
                                    if coverage.types else ""))
        return out
    try:
        trend = incident_trend(series.to_frame("area").T, recent_months=recent_months,
                               baseline_months=baseline_months)
    except ShortSeriesError as exc:
        out["note"] = f"{exc}; the sources cover {month_span(months)} here"
        return out
    row = trend.iloc[0]
    first, last = trend.attrs["baseline_period"]
    out.update(
        recent=int(recent_months),
        recent_period=trend.attrs["recent_period"],
        baseline_period=(first, last),
        baseline=months[months.index(first): months.index(last) + 1],
        recent_total=int(round(row["recent_mean"] * recent_months)),
        baseline_mean=float(row["baseline_mean"]),
        trend_ratio=float(row["trend_ratio"]),
        spike=bool(row["spike"]),
    )
    return out


__all__ += ["area_trend"]


# -- figures for a filter (maps and exports) ------------------------------------------


@dataclass(frozen=True)
class IncidentFilter:
    """What a map or export counts: a window of months and at most one incident type.

    Empty `start`/`end` leave that side open; an empty `kind` counts every type."""

    start: str = ""
    end: str = ""
    kind: str = ""

    def words(self, total: int | None = None) -> str:
        """'burglary, Sep 2024 - Feb 2025, 1,234 incidents' (what is counted)."""
        kind = _lower_first(self.kind) if self.kind else "all incident types"
        if self.start and self.end:
            span = month_span([self.start]) if self.start == self.end else \
                f"{_month_word(self.start)} - {_month_word(self.end)}"
        elif self.start or self.end:
            span = (f"from {_month_word(self.start)}" if self.start
                    else f"to {_month_word(self.end)}")
        else:
            span = "every month"
        parts = [kind, span]
        if total is not None:
            parts.append(f"{total:,} incident{'' if total == 1 else 's'}")
        return ", ".join(parts)


def filtered_ward_incidents(incidents: pd.DataFrame | None, wards: pd.DataFrame,
                            chosen: IncidentFilter) -> pd.DataFrame:
    """Each ward's incidents for `chosen`, and the monthly rate per 1,000 residents.

    Parameters
    ----------
    incidents : the incidents register (``ward_code``, ``month``/``date``, ``type``), or
        None (no incident data: every figure NaN)
    wards : ``ward_code`` and ``population`` of the wards to report on
    chosen : the months and type counted (the type compared as stored)

    Returns
    -------
    DataFrame indexed by ``ward_code`` (the wards' order) with the columns the analysis
    stores (:func:`covered_pressure`), for the filter: ``incidents`` (float, a whole
    number), ``incident_months`` (the months from `start` to `end`; an open side is the
    data's first or last month), :data:`RATE` (**incidents a month per 1,000
    residents**, NaN where the population is 0 or missing) and ``incidents_counted``
    (:meth:`IncidentFilter.words`). Duplicates count as in :func:`incident_counts`.
    """
    require(wards, ["ward_code", "population"], "wards")
    index = pd.Index(wards["ward_code"].astype(str), name="ward_code")
    if incidents is None:
        return pd.DataFrame({PREFIX: np.nan, MONTHS_COUNTED: np.nan, RATE: np.nan,
                             COUNTED: chosen.words()}, index=index)
    counts = incident_counts(incidents, index, start=chosen.start or None,
                             end=chosen.end or None,
                             types=[chosen.kind] if chosen.kind else None)[PREFIX]
    counts = counts.astype("float64")
    months = incident_months(incidents).dropna().astype(str)
    first = chosen.start or (months.min() if len(months) else "")
    last = chosen.end or (months.max() if len(months) else "")
    span = len(pd.period_range(first, last, freq="M")) if first and last and first <= last \
        else 0
    population = pd.Series(wards["population"].to_numpy(), index=index)
    monthly = counts / span if span else counts * np.nan
    return pd.DataFrame({PREFIX: counts, MONTHS_COUNTED: float(span) if span else np.nan,
                         RATE: incident_rate(monthly, population),
                         COUNTED: chosen.words()})


__all__ += ["IncidentFilter", "filtered_ward_incidents"]


# -- the filter's parameters: the one rule every page and the API use ----------------

#: the query parameters of an incident filter on every map page (and accepted by the API)
FILTER_PARAMETERS = ("incidents_from", "incidents_to", "incident_type")


def incident_type_lookup(types: Iterable[str]) -> dict[str, str]:
    """The incident types of the data (matching key, :func:`mapper.incident_types.key`
    -> as stored), and every other spelling the vocabulary gives them
    (mapper/mappings/incident_types.csv): "asb" and "anti-social-behaviour" find
    "Anti-social behaviour"."""
    from mapper.incident_types import key, vocabulary

    lookup = {key(v): v for v in types if isinstance(v, str) and v.strip()}
    for value, kind in vocabulary().written.items():
        stored = lookup.get(key(kind))
        if stored is not None:
            lookup.setdefault(key(value), stored)
    return lookup


def check_incident_filter(start: str | None, end: str | None, kinds: Iterable[str],
                          types: Iterable[str], *,
                          names: tuple[str, str, str] = FILTER_PARAMETERS,
                          ) -> tuple[str, str, list[str], list[str]]:
    """Check an incident filter as a query gives it (the one rule of pages and API).

    Parameters
    ----------
    start, end : first and last month asked for ("YYYY-MM"; blank or None: open)
    kinds : the incident types asked for (any spelling of the vocabulary, any case)
    types : the incident types of the data (as stored)
    names : the parameters' names, for the messages (from, to, type)

    Returns
    -------
    (start, end, matched types as stored, problems): each problem a sentence naming the
    parameter and the value, and for an unknown type every type of the data. A bad month
    comes back as "".
    """
    from mapper.incident_types import key

    problems: list[str] = []
    months = []
    for name, value in zip(names[:2], (start, end), strict=True):
        text = (value or "").strip()
        if text and not _MONTH.fullmatch(text):
            problems.append(f"{name} '{text}' must be a month written YYYY-MM, e.g. 2024-06")
            text = ""
        months.append(text)
    first, last = months
    if first and last and first > last:
        problems.append(f"{names[0]} ({first}) must not be after {names[1]} ({last})")
    lookup = incident_type_lookup(types)
    matched = []
    for value in kinds:
        text = (value or "").strip()
        if not text:
            continue
        found = lookup.get(key(text))
        if found is None:
            shown = ", ".join(sorted(set(lookup.values()))) or \
                "none (the workspace has no incidents)"
            problems.append(f"{names[2]} '{text}' is an unknown incident type (not in the data); "
                            f"choose one of {shown}")
        else:
            matched.append(found)
    return first, last, list(dict.fromkeys(matched)), problems


def filtered_summary(summary: pd.DataFrame, incidents: pd.DataFrame | None,
                     chosen: IncidentFilter) -> pd.DataFrame:
    """`summary` (the stored ward summary) with every incident figure for `chosen`.

    The counts, the months counted, the rate per 1,000 residents and what is counted
    (:func:`filtered_ward_incidents`), each per-type count (``incidents_<type>``: the
    window's, 0 for the types the filter leaves out) and the smoothed rate
    (``incidents_per_1000_eb``: :func:`mapper.analysis.rates.eb_rates` of the filtered
    counts over residents x months, toward each borough, as the analysis smooths) are
    replaced. A ward whose district no incident source covers (stored ``incidents`` NaN)
    keeps no figure. The unmet-need index and its components (``z_incidents``,
    ``contrib_incidents``) stay the analysis's: they are the model the CANs were chosen by.
    """
    from mapper.analysis.rates import eb_rates

    wards = summary.copy()
    codes = wards["ward_code"].astype(str)
    covered = wards[PREFIX].notna().to_numpy() if PREFIX in wards else \
        np.ones(len(wards), dtype=bool)
    figures = filtered_ward_incidents(incidents, wards, chosen).reindex(codes)
    for column in figures.columns:
        values = figures[column].to_numpy()
        wards[column] = np.where(covered, values, None if values.dtype == object else np.nan)
    type_columns = [c for c in wards.columns if c.startswith(f"{PREFIX}_")
                    and c not in (RATE, MONTHS_COUNTED, COUNTED, f"{RATE}_eb")]
    if incidents is not None and type_columns:
        by_type = incident_counts(incidents, codes, start=chosen.start or None,
                                  end=chosen.end or None,
                                  types=[chosen.kind] if chosen.kind else None)
        for column in type_columns:
            values = by_type[column].reindex(codes).fillna(0).to_numpy(dtype="float64") \
                if column in by_type else np.zeros(len(wards))
            wards[column] = np.where(covered, values, np.nan)
    if f"{RATE}_eb" in wards and "borough_code" in wards:
        index = pd.Index(codes, name="ward_code")
        counts = pd.Series(wards[PREFIX].to_numpy(dtype="float64"), index=index)
        known = counts.where(pd.Series(wards[RATE].to_numpy(dtype="float64"),
                                       index=index).notna())
        exposure = pd.Series(pd.to_numeric(wards["population"], errors="coerce").to_numpy()
                             * pd.to_numeric(wards[MONTHS_COUNTED], errors="coerce")
                             .to_numpy(), index=index)
        smoothed = eb_rates(known, exposure, pd.Series(wards["borough_code"].to_numpy(),
                                                       index=index))
        wards[f"{RATE}_eb"] = smoothed["rate_eb"].to_numpy()
    return wards


__all__ += ["FILTER_PARAMETERS", "incident_type_lookup", "check_incident_filter",
            "filtered_summary"]


def incidents_by(summary: pd.DataFrame, column: str) -> pd.Series:
    """Each group's incidents (``summary`` rows grouped on `column`, e.g. ``can_id``):
    the sum of its wards' ``incidents`` (NaN when no ward of it has a figure), for
    a :func:`filtered_summary` as for the stored one."""
    return summary.groupby(column)[PREFIX].sum(min_count=1)


__all__ += ["incidents_by"]
