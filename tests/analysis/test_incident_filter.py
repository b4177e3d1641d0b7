"""Ward incident figures for a date range and type (what the maps, tables and exports
show), hand-computed on the 3x3 grid of wards.

=========  ====================================================  ==========
ward       incidents                                              population
=========  ====================================================  ==========
W1         burglary: 2024-01 x2, 2024-02 x1, 2024-03 x1           2,000
W2         burglary 2024-02 x1; robbery 2024-02 x3                1,000
W3         robbery 2024-03 x1 (dated only by ``date``)            0
W5         burglary with no month or date x1                      500
others     none                                                   1,000
=========  ====================================================  ==========
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import grid_wards

from mapper.analysis.incidents import IncidentFilter, filtered_ward_incidents

W = [f"E0590000{n}" for n in range(1, 10)]


def _rows(ward, month, n, kind, date=pd.NA):
    return [{"ward_code": ward, "month": month, "date": date, "type": kind}] * n


@pytest.fixture
def incidents() -> pd.DataFrame:
    records = (_rows(W[0], "2024-01", 2, "Burglary") + _rows(W[0], "2024-02", 1, "Burglary")
               + _rows(W[0], "2024-03", 1, "Burglary") + _rows(W[1], "2024-02", 1, "Burglary")
               + _rows(W[1], "2024-02", 3, "Robbery")
               + _rows(W[2], pd.NA, 1, "Robbery", date="2024-03-09")
               + _rows(W[4], pd.NA, 1, "Burglary")
               + _rows("E05999999", "2024-02", 7, "Burglary"))  # outside the wards
    return pd.DataFrame(records)


@pytest.fixture
def wards() -> pd.DataFrame:
    frame = pd.DataFrame(grid_wards().drop(columns="geometry"))
    frame["population"] = [2000, 1000, 0, 1000, 500, 1000, 1000, 1000, 1000]
    return frame


def _counts(incidents, wards, **chosen) -> dict[str, float]:
    table = filtered_ward_incidents(incidents, wards, IncidentFilter(**chosen))
    return table["incidents"].to_dict()


def test_no_filter_counts_every_incident_in_the_wards(incidents, wards):
    counts = _counts(incidents, wards)
    assert counts == {W[0]: 4, W[1]: 4, W[2]: 1, W[3]: 0, W[4]: 1, W[5]: 0, W[6]: 0,
                      W[7]: 0, W[8]: 0}


def test_a_window_drops_undated_incidents_and_other_months(incidents, wards):
    counts = _counts(incidents, wards, start="2024-02", end="2024-03")
    assert counts[W[0]] == 2 and counts[W[1]] == 4 and counts[W[2]] == 1
    assert counts[W[4]] == 0  # no month: not counted once a window is set
    assert sum(counts.values()) == 7


def test_a_type_and_a_window_together(incidents, wards):
    table = filtered_ward_incidents(incidents, wards,
                                    IncidentFilter("2024-02", "2024-02", "Burglary"))
    assert table["incidents"].to_dict() == {W[0]: 1, W[1]: 1, **{w: 0 for w in W[2:]}}
    # a month per 1,000 residents (one month): 1 / 2.0 and 1 / 1.0; none for no residents
    assert table.loc[W[0], "incidents_per_1000"] == pytest.approx(0.5)
    assert table.loc[W[1], "incidents_per_1000"] == pytest.approx(1.0)
    assert np.isnan(table.loc[W[2], "incidents_per_1000"])


def test_the_rate_is_a_month_per_1000_residents_as_the_analysis_stores(incidents, wards):
    table = filtered_ward_incidents(incidents, wards, IncidentFilter("2024-01", "2024-04"))
    # W1: 4 incidents over the 4 months of the window, 2,000 residents -> 0.5
    assert table.loc[W[0], "incidents_per_1000"] == pytest.approx(4 / 4 / 2.0)
    assert (table["incident_months"] == 4).all()
    assert (table["incidents_counted"] == "all incident types, Jan 2024 - Apr 2024").all()


def test_open_ended_windows(incidents, wards):
    assert sum(_counts(incidents, wards, start="2024-03").values()) == 2
    assert sum(_counts(incidents, wards, end="2024-01").values()) == 2
    assert _counts(incidents, wards, kind="Robbery")[W[1]] == 3


def test_no_incident_data_gives_no_figures(wards):
    table = filtered_ward_incidents(None, wards, IncidentFilter("2024-01", "2024-02"))
    assert table.index.tolist() == W
    assert table["incidents"].isna().all() and table["incidents_per_1000"].isna().all()


def test_the_filter_says_what_is_counted():
    assert IncidentFilter("2024-09", "2025-02", "Burglary").words(1234) == \
        "burglary, Sep 2024 - Feb 2025, 1,234 incidents"
    assert IncidentFilter("2024-09", "2024-09").words(1) == \
        "all incident types, Sep 2024, 1 incident"
    assert IncidentFilter().words() == "all incident types, every month"
