"""Rates per resident that hold up on small areas: empirical-Bayes shrinkage.

A ward's raw rate (``count / residents``) is noisy where the count is small: 2 VCS groups
or 11 incidents in a ward say little about the ward itself, and a ward with few residents
can top any ranking through its denominator alone. :func:`eb_rates` shrinks each raw rate
toward its district's (borough's) rate by Marshall's (1991) method-of-moments
empirical-Bayes estimator (Poisson counts, gamma-distributed true rates):

for the wards of one district (those with a known rate), with ``y`` the counts, ``n`` the
residents in thousands and ``r = y / n`` the raw rates per 1,000,

    m  = sum(y) / sum(n)                            the district's rate (prior mean)
    s2 = sum(n (r - m)^2) / sum(n)                  the population-weighted variance
    A  = max(0, s2 - m / mean(n))                   the variance of the true rates
    C  = A / (A + m / n)                            the ward's reliability, 0-1
    eb = m + C (r - m)                              the smoothed rate

A ward with many residents and a large count keeps almost its own rate (C near 1); a ward
whose count is small next to the Poisson noise is pulled toward the district (C near 0).
When the district's rates vary no more than chance would make them (A = 0), every ward
gets the district's rate. A district of fewer than :data:`MIN_DISTRICT_WARDS` wards with
a known rate is too small to estimate A from: its wards shrink toward the study area
(m, s2 and A over every ward with a known rate).

Reference: Marshall, R. J. (1991) "Mapping disease and mortality rates using empirical
Bayes estimators", Journal of the Royal Statistical Society C 40(2), 283-294.
"""

from __future__ import annotations

import pandas as pd

from mapper.analysis._tables import aligned_population

#: a district needs at least this many wards with a known rate to serve as its wards'
#: prior; smaller districts (the City of London, one ward in some boundary files) borrow
#: the study area's
MIN_DISTRICT_WARDS = 5
#: a ward whose own count carries less than this weight in its smoothed rate
#: (reliability C below it) is flagged: its figure is more its district's than its own
MIN_RELIABILITY = 0.5
#: ``prior_area`` of a ward shrunk toward the study area rather than its district
STUDY_AREA = "study area"


def _moments(y: pd.Series, n: pd.Series, group: pd.Series) -> pd.DataFrame:
    """m and A per ward, estimated over the wards of its `group` (method of moments)."""
    sums = pd.DataFrame({"y": y, "n": n}).groupby(group).transform("sum")
    wards = n.groupby(group).transform("size")
    m = sums["y"] / sums["n"]
    s2 = (n * (y / n - m) ** 2).groupby(group).transform("sum") / sums["n"]
    a = (s2 - m / (sums["n"] / wards)).clip(lower=0.0)
    return pd.DataFrame({"m": m, "a": a, "wards": wards})


def eb_rates(counts: pd.Series, population: pd.Series, district: pd.Series, *,
             per: float = 1000.0) -> pd.DataFrame:
    """Raw and empirical-Bayes smoothed rates per `per` residents (see the module text).

    Parameters
    ----------
    counts : events per ward (incidents, groups), indexed by ward code; NaN = unknown
    population : residents per ward, aligned on the index of `counts`
    district : each ward's district (borough) code, aligned on the index of `counts`
    per : the rate's unit (1,000 = per 1,000 residents)

    Returns
    -------
    DataFrame indexed like `counts`: ``rate`` (raw), ``rate_eb`` (smoothed), ``prior``
    (the rate shrunk toward), ``reliability`` (C, 0-1) and ``prior_area`` (the district
    code, or :data:`STUDY_AREA` for a ward of a small or unknown district). All NaN
    (``prior_area`` None) where the count is unknown or the ward has no residents.
    """
    people = aligned_population(population, counts.index) / per
    y = pd.to_numeric(counts, errors="coerce").astype("float64")
    known = y.notna() & people.notna()
    y_k, n_k = y[known], people[known]
    area_k = district.reindex(y_k.index).astype(object)
    local = _moments(y_k, n_k, area_k.fillna(STUDY_AREA))
    whole = _moments(y_k, n_k, pd.Series(STUDY_AREA, index=y_k.index))
    # a ward of no known district, or of a district too small, takes the study area's
    small = (local["wards"] < MIN_DISTRICT_WARDS) | area_k.isna()
    m = local["m"].mask(small, whole["m"])
    a = local["a"].mask(small, whole["a"])
    noise = m / n_k
    # m = 0: every count of the prior is 0, so the raw rate is the prior (C = 1)
    reliability = (a / (a + noise)).where(noise > 0, 1.0)
    rate = y_k / n_k
    out = pd.DataFrame({
        "rate": rate, "rate_eb": m + reliability * (rate - m), "prior": m,
        "reliability": reliability,
        "prior_area": area_k.mask(small, STUDY_AREA),
    }).reindex(counts.index)
    out["prior_area"] = out["prior_area"].astype(object).where(out["prior_area"].notna(), None)
    return out
