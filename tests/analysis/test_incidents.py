"""Incident pressure on the 3x3 grid of wards, over 18 months (2023-01 to 2024-06).

The recent period is 2024-04..2024-06 and the baseline the 12 months 2023-04..2024-03.

=========  ======================================  =========================================
ward       incidents                               trend
=========  ======================================  =========================================
W1         2 a month, all 18 months (burglary)      ratio 1: no spike
W2         1 a month in the baseline; 2, 2, 1       ratio 5/3, but P(X >= 5 | 3) = 0.18: none
W3         2 in 2024-05 only                        baseline 0 but under min_count: no spike
W4         1 dated only by `date` (2024-05-17),     no spike
           1 with no month or date
W5         1 a month to 2024-03, then 4 a month     ratio 4, P(X >= 12 | 3) < 0.01: spike
W9         5 in 2024-06 only                        baseline 0, P(X >= 5 | 0.125): spike
=========  ======================================  =========================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import grid_wards
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from mapper.analysis.incidents import (
    ShortSeriesError,
    incident_counts,
    incident_pressure,
    incident_rate,
    incident_trend,
    monthly_counts,
    months_without_data,
)

W = [f"E0590000{n}" for n in range(1, 10)]
MONTHS = list(pd.period_range("2023-01", "2024-06", freq="M").strftime("%Y-%m"))
RECENT = MONTHS[-3:]
BASELINE = MONTHS[3:15]


def rows(ward, month, n, kind, date=pd.NA):
    return [{"ward_code": ward, "month": month, "date": date, "type": kind}] * n


def build() -> pd.DataFrame:
    records = []
    for month in MONTHS:
        records += rows(W[0], month, 2, "burglary")
        records += rows(W[4], month, 4 if month in RECENT else 1, "anti-social behaviour")
    for month in BASELINE:
        records += rows(W[1], month, 1, "burglary")
    records += rows(W[1], RECENT[0], 2, "burglary") + rows(W[1], RECENT[1], 2, "burglary")
    records += rows(W[1], RECENT[2], 1, "burglary")
    records += rows(W[2], "2024-05", 2, "Criminal damage and arson")
    records += rows(W[3], pd.NA, 1, "other theft", date="2024-05-17")
    records += rows(W[3], pd.NA, 1, "other theft")  # no month, no date
    records += rows(W[8], "2024-06", 5, "Violence and sexual offences")
    records += rows(pd.NA, "2023-06", 1, "drugs")  # outside every ward
    records += rows("E05999999", "2023-06", 1, "drugs")  # unknown ward
    frame = pd.DataFrame(records)
    frame.insert(0, "incident_id", [f"i{k}" for k in range(len(frame))])
    frame["severity"] = pd.NA
    frame["lsoa_code"] = pd.NA
    frame["borough_code"] = pd.NA
    frame["duplicate_of"] = pd.Series(pd.NA, index=frame.index, dtype="object")
    return frame


@pytest.fixture
def incidents() -> pd.DataFrame:
    return build()


@pytest.fixture
def population() -> pd.Series:
    values = dict.fromkeys(W, 1000.0)
    values.update({W[4]: 8000.0, W[2]: 0.0, W[6]: np.nan})
    return pd.Series(values, name="population")


# -- counts -----------------------------------------------------------------------------


def test_counts_all_time(incidents):
    counts = incident_counts(incidents, W)
    assert list(counts.index) == W and counts.index.name == "ward_code"
    assert counts["incidents"].tolist() == [36, 17, 2, 2, 27, 0, 0, 0, 5]
    assert list(counts.columns) == [
        "incidents",
        "incidents_anti_social_behaviour",
        "incidents_burglary",
        "incidents_criminal_damage_and_arson",
        "incidents_drugs",  # seen outside the wards: a column of zeros
        "incidents_other_theft",
        "incidents_violence_and_sexual_offences",
    ]
    assert counts["incidents_drugs"].eq(0).all()
    assert counts.loc[W[8], "incidents_violence_and_sexual_offences"] == 5
    assert all(dtype == np.int64 for dtype in counts.dtypes)


def test_counts_window_is_inclusive(incidents):
    counts = incident_counts(incidents, grid_wards(), start="2024-04", end="2024-06")
    # W4: only the incident dated by `date` is in a window; the undated one never is
    assert counts["incidents"].tolist() == [6, 5, 2, 1, 12, 0, 0, 0, 5]
    one = incident_counts(incidents, W, start="2024-06", end="2024-06")
    assert one["incidents"].tolist() == [2, 1, 0, 0, 4, 0, 0, 0, 5]
    open_start = incident_counts(incidents, W, end="2023-03")
    assert open_start["incidents"].tolist() == [6, 0, 0, 0, 3, 0, 0, 0, 0]
    # the type columns do not depend on the window
    assert list(one.columns) == list(counts.columns)


def test_counts_type_filter(incidents):
    counts = incident_counts(incidents, W, types={"burglary"}, start="2024-01")
    assert list(counts.columns) == ["incidents", "incidents_burglary"]
    assert counts["incidents"].tolist() == [12, 8, 0, 0, 0, 0, 0, 0, 0]
    assert counts["incidents"].equals(counts["incidents_burglary"])
    none = incident_counts(incidents, W, types=set())
    assert list(none.columns) == ["incidents"] and none["incidents"].eq(0).all()


def test_counts_bad_arguments(incidents):
    with pytest.raises(ValueError, match="start must be a month written YYYY-MM.*'2024-4'"):
        incident_counts(incidents, W, start="2024-4")
    with pytest.raises(ValueError, match="start 2024-06 is after end 2024-01"):
        incident_counts(incidents, W, start="2024-06", end="2024-01")
    with pytest.raises(TypeError, match="set of incident types, got the string 'burglary'"):
        incident_counts(incidents, W, types="burglary")
    with pytest.raises(ValueError, match="no column 'ward_code'"):
        incident_counts(incidents.drop(columns="ward_code"), W)


def test_counts_duplicates(incidents):
    incidents.loc[0, "duplicate_of"] = "i1"
    assert incident_counts(incidents, W).loc[W[0], "incidents"] == 36
    fewer = incident_counts(incidents, W, exclude_duplicates=True)
    assert fewer.loc[W[0], "incidents"] == 35


def test_rate_hand_computed_and_nan_for_no_population(incidents, population):
    counts = incident_counts(incidents, W, start="2024-04", end="2024-06")["incidents"]
    rate = incident_rate(counts, population)
    assert rate.name == "incidents_per_1000"
    assert rate[W[4]] == pytest.approx(12 / 8)
    assert rate[W[0]] == pytest.approx(6.0)
    assert np.isnan(rate[W[2]]) and np.isnan(rate[W[6]])
    assert rate[W[5]] == 0.0
    assert not np.isinf(rate.to_numpy()).any()
    shuffled = incident_rate(counts, population.sample(frac=1, random_state=1))
    pd.testing.assert_series_equal(shuffled, rate)


# -- monthly series and trend -------------------------------------------------------------


def test_monthly_counts(incidents):
    monthly = monthly_counts(incidents, W)
    assert list(monthly.columns) == MONTHS
    assert list(monthly.index) == W
    assert monthly.loc[W[4], RECENT].tolist() == [4, 4, 4]
    assert monthly.loc[W[3], "2024-05"] == 1  # month from `date`
    assert monthly.loc[W[5]].eq(0).all()
    assert int(monthly.to_numpy().sum()) == 36 + 17 + 2 + 1 + 27 + 5


def test_monthly_counts_span_whole_data_and_fill_gaps():
    frame = pd.DataFrame(
        {
            "ward_code": [W[0], W[1], W[0]],
            "month": ["2023-11", "2024-02", pd.NA],
            "date": [pd.NA, pd.NA, pd.NA],
            "type": ["burglary", "drugs", "drugs"],
        }
    )
    monthly = monthly_counts(frame, W, types={"burglary"})
    # the burglary stops in 2023-11 but the data runs to 2024-02
    assert list(monthly.columns) == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert monthly.loc[W[0]].tolist() == [1, 0, 0, 0]
    assert monthly.loc[W[1]].tolist() == [0, 0, 0, 0]
    empty = monthly_counts(frame.iloc[2:], W)
    assert empty.shape == (9, 0)


def test_trend_hand_computed(incidents):
    trend = incident_trend(monthly_counts(incidents, W))
    assert list(trend.columns) == [
        "recent_mean",
        "baseline_mean",
        "trend_ratio",
        "spike",
        "spike_p",
    ]
    assert trend.attrs == {
        "recent_period": ("2024-04", "2024-06"),
        "baseline_period": ("2023-04", "2024-03"),
    }
    five = trend.loc[W[4]]
    assert five["recent_mean"] == pytest.approx(4.0)
    assert five["baseline_mean"] == pytest.approx(1.0)
    assert five["trend_ratio"] == pytest.approx(4.0)
    # 12 recent incidents against an expected 3 * 1.0
    assert five["spike_p"] == pytest.approx(poisson.sf(11, 3.0))
    assert five["spike_p"] < 0.001
    assert five["spike"]
    # W1 steady; W2 up by 5/3 but not significant (p = P(X >= 5 | mu = 3) ~ 0.18)
    assert trend.loc[W[0], "trend_ratio"] == pytest.approx(1.0)
    assert trend.loc[W[1], "trend_ratio"] == pytest.approx(5 / 3)
    assert trend.loc[W[1], "spike_p"] == pytest.approx(poisson.sf(4, 3.0))
    assert trend.loc[W[1], "spike_p"] == pytest.approx(0.1847, abs=1e-4)
    # W9: no baseline, 5 recent; the baseline is taken as 0.5 incidents over 12 months
    nine = trend.loc[W[8]]
    assert np.isnan(nine["trend_ratio"]) and nine["baseline_mean"] == 0
    assert nine["spike_p"] == pytest.approx(poisson.sf(4, 3 * 0.5 / 12))
    assert nine["spike"]
    # W3: no baseline, 2 recent: under min_count
    assert np.isnan(trend.loc[W[2], "trend_ratio"])
    assert trend.loc[trend["spike"]].index.tolist() == [W[4], W[8]]
    # a ward with nothing at all: p = 1, no spike, ratio NaN (not inf)
    assert trend.loc[W[5], "spike_p"] == 1.0
    assert not np.isinf(trend["trend_ratio"].to_numpy(dtype=float)).any()
    assert trend["spike"].dtype == bool


def test_trend_thresholds(incidents):
    monthly = monthly_counts(incidents, W)
    strict = incident_trend(monthly, min_count=13)
    assert not strict.loc[W[4], "spike"]
    steep = incident_trend(monthly, spike_ratio=5)
    assert not steep.loc[W[4], "spike"] and steep.loc[W[8], "spike"]


def test_trend_short_baseline_uses_what_there_is(incidents):
    monthly = monthly_counts(incidents, W).loc[:, MONTHS[-5:]]
    trend = incident_trend(monthly)
    assert trend.attrs["baseline_period"] == ("2024-02", "2024-03")
    # W9: empty 2-month baseline -> mu = 3 * 0.5 / 2 = 0.75
    assert trend.loc[W[8], "spike_p"] == pytest.approx(poisson.sf(4, 0.75))


def test_trend_too_short_series(incidents):
    monthly = monthly_counts(incidents, W).loc[:, MONTHS[:3]]
    with pytest.raises(ValueError, match="at least 4 months.*has 3 \\(2023-01 to 2023-03\\)"):
        incident_trend(monthly)
    with pytest.raises(ShortSeriesError):
        incident_pressure(incidents, W, pd.Series(1000.0, index=W), end="2023-03")
    with pytest.raises(ValueError, match="has 0 \\(none\\)"):
        incident_trend(monthly.iloc[:, :0])


def test_no_trend_across_months_missing_from_the_data(incidents, population):
    """Two months ten apart (2023-06, 2024-04): the nine months between have no incident of any
    type anywhere, so they are missing data, and a trend over them (recent counts against
    a baseline of zeros) would flag spikes everywhere. Months missing for one type only
    are zeros of that type, and the trend stands."""
    two = incidents[incidents["month"].isin(["2023-06", "2024-04"])]
    assert months_without_data(two, ["2023-06", "2023-07", "2024-04"]) == ["2023-07"]
    with pytest.raises(ShortSeriesError, match=(
            r"no incidents at all in 9 of the 11 months the trend compares \(2023-07, "
            r"2023-08, 2023-09, 2023-10 and 5 more\): months missing from the files")):
        incident_pressure(two, W, population, recent_months=3, baseline_months=12)
    # the full hand-made series has every month (some types only in a few): trend kept
    got = incident_pressure(incidents, W, population, types=["Criminal damage and arson"])
    assert got.loc[W[2], "incidents"] == 2 and "trend_ratio" in got


def test_trend_bad_options(incidents):
    with pytest.raises(ValueError, match="recent_months must be a whole number >= 1, got 0"):
        incident_trend(monthly_counts(incidents, W), recent_months=0)


# -- everything together ----------------------------------------------------------------


def test_pressure(incidents, population):
    got = incident_pressure(incidents, grid_wards(), population, start="2024-04", end="2024-06")
    assert list(got.index) == W
    assert got.columns[0] == "incidents"
    assert {"incidents_per_1000", "recent_mean", "trend_ratio", "spike", "spike_p"} <= set(
        got.columns
    )
    assert got.loc[W[4], "incidents"] == 12
    assert got.loc[W[4], "incidents_per_1000"] == pytest.approx(1.5)
    assert np.isnan(got.loc[W[2], "incidents_per_1000"])
    assert got.loc[got["spike"]].index.tolist() == [W[4], W[8]]


def test_pressure_trend_ends_at_end(incidents, population):
    got = incident_pressure(incidents, W, population, end="2024-05")
    assert got.attrs["recent_period"] == ("2024-03", "2024-05")
    # W5: 1 + 4 + 4 recent over 3 months against a baseline of 1 a month
    assert got.loc[W[4], "recent_mean"] == pytest.approx(3.0)
    assert got.loc[W[4], "incidents"] == 23


def test_pressure_type_filter(incidents, population):
    got = incident_pressure(incidents, W, population, types={"burglary"})
    assert list(got.columns[:2]) == ["incidents", "incidents_burglary"]
    assert not got["spike"].any()
    assert got.loc[W[4], "incidents"] == 0


def test_shuffled_rows_same_answers(incidents, population):
    expected = incident_pressure(incidents, W, population, start="2024-01")
    shuffled = incident_pressure(
        incidents.sample(frac=1, random_state=7),
        W[::-1],
        population.sample(frac=1, random_state=8),
        start="2024-01",
    )
    assert list(shuffled.index) == W[::-1]
    pd.testing.assert_frame_equal(shuffled.loc[W], expected)


# -- property: counts conserve incidents ----------------------------------------------

ward = st.sampled_from(W + [None, "E05999999"])
month = st.one_of(st.none(), st.sampled_from(MONTHS))
kind = st.sampled_from(["burglary", "drugs", "Other theft"])
bound = st.one_of(st.none(), st.sampled_from(MONTHS))


@settings(max_examples=80, deadline=None)
@given(records=st.lists(st.tuples(ward, month, kind), max_size=40), start=bound, end=bound)
def test_counts_sum_to_incidents_in_window(records, start, end):
    if start and end and start > end:
        start, end = end, start
    frame = pd.DataFrame(
        {
            "ward_code": pd.Series([w for w, _, _ in records], dtype="object"),
            "month": pd.Series([m for _, m, _ in records], dtype="object"),
            "date": pd.Series([pd.NA] * len(records), dtype="object"),
            "type": pd.Series([k for _, _, k in records], dtype="object"),
        }
    )
    counts = incident_counts(frame, W, start=start, end=end)
    windowed = start is not None or end is not None
    expected = sum(
        1
        for w, m, _ in records
        if w in W
        and (
            not windowed
            or (m is not None and (start is None or m >= start) and (end is None or m <= end))
        )
    )
    assert int(counts["incidents"].sum()) == expected
    assert int(counts.drop(columns="incidents").to_numpy().sum()) == expected
    monthly = monthly_counts(frame, W)
    dated_in_wards = sum(1 for w, m, _ in records if w in W and m is not None)
    assert int(monthly.to_numpy().sum()) == dated_in_wards
