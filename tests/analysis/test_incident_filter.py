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

from mapper.analysis.incidents import (
    IncidentFilter,
    check_incident_filter,
    filtered_summary,
    filtered_ward_incidents,
    incidents_by,
)
from mapper.analysis.rates import eb_rates

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


# -- the one rule of the parameters, and the whole ward summary for a filter ----------


TYPES = ["Anti-social behaviour", "Burglary", "Robbery"]


def test_the_parameters_check_months_order_and_types_in_one_rule():
    assert check_incident_filter("2024-02", "2024-03", ["asb"], TYPES) == \
        ("2024-02", "2024-03", ["Anti-social behaviour"], [])
    assert check_incident_filter("", None, ["", "BURGLARY"], TYPES) == \
        ("", "", ["Burglary"], [])
    start, end, kinds, problems = check_incident_filter("2024-13", "2024-1", ["Arson"], TYPES)
    assert (start, end, kinds) == ("", "", [])
    assert problems[0] == "incidents_from '2024-13' must be a month written YYYY-MM, e.g. 2024-06"
    assert problems[1].startswith("incidents_to '2024-1' must be a month")
    assert problems[2] == ("incident_type 'Arson' is an unknown incident type (not in the "
                           "data); choose one of Anti-social behaviour, Burglary, Robbery")
    _, _, _, problems = check_incident_filter("2025-06", "2025-01", [], TYPES,
                                              names=("from", "to", "type"))
    assert problems == ["from (2025-06) must not be after to (2025-01)"]


@pytest.fixture
def summary(incidents, wards) -> pd.DataFrame:
    """A stored ward summary as the analysis leaves it (every month, every type), with W9
    in a district no incident source covers (no figures)."""
    table = filtered_ward_incidents(incidents, wards, IncidentFilter()).reset_index()
    frame = wards.merge(table, on="ward_code")
    frame["incidents_burglary"] = [4, 1, 0, 0, 1, 0, 0, 0, 0]
    frame["incidents_robbery"] = [0, 3, 1, 0, 0, 0, 0, 0, 0]
    frame["incidents_per_1000_eb"] = 99.0
    frame["z_incidents"] = 1.5
    frame["can_id"] = ["CAN-1", "CAN-1", "CAN-2", None, None, None, None, None, None]
    frame.loc[8, ["incidents", "incidents_per_1000", "incidents_burglary",
                  "incidents_robbery"]] = np.nan
    return frame


def test_every_incident_column_of_the_summary_follows_the_filter(incidents, summary):
    chosen = IncidentFilter("2024-02", "2024-03", "Burglary")
    out = filtered_summary(summary, incidents, chosen).set_index("ward_code")
    # by hand: burglary Feb-Mar 2024: W1 2 (Feb, Mar), W2 1; robbery left out -> 0
    assert out["incidents"].tolist()[:8] == [2, 1, 0, 0, 0, 0, 0, 0]
    assert out["incidents_burglary"].tolist()[:8] == [2, 1, 0, 0, 0, 0, 0, 0]
    assert out["incidents_robbery"].tolist()[:8] == [0] * 8
    # W9: no source covers it, so no figure at all
    assert out.loc[W[8], ["incidents", "incidents_per_1000", "incidents_burglary",
                          "incidents_per_1000_eb"]].isna().all()
    assert out.loc[W[0], "incidents_per_1000"] == pytest.approx(2 / 2 / 2.0)
    assert (out["incident_months"].iloc[:8] == 2).all()
    assert out.loc[W[0], "incidents_counted"] == "burglary, Feb 2024 - Mar 2024"
    # the smoothed rate: eb_rates of the filtered counts over residents x months
    known = out["incidents"].where(out["incidents_per_1000"].notna())
    expected = eb_rates(known, out["population"] * 2, out["borough_code"])["rate_eb"]
    assert out["incidents_per_1000_eb"].to_numpy() == pytest.approx(expected.to_numpy(),
                                                                    nan_ok=True)
    assert out.loc[W[0], "incidents_per_1000_eb"] != 99.0
    # the index components stay the analysis's
    assert (out["z_incidents"] == 1.5).all()
    # a CAN's incidents are its wards' filtered ones
    assert incidents_by(out.reset_index(), "can_id").to_dict() == {"CAN-1": 3, "CAN-2": 0}


def test_the_analysis_window_gives_back_the_stored_figures(incidents, summary):
    out = filtered_summary(summary, incidents, IncidentFilter())
    for column in ("incidents", "incidents_per_1000", "incidents_burglary",
                   "incidents_robbery"):
        assert out[column].to_numpy() == pytest.approx(summary[column].to_numpy(),
                                                       nan_ok=True), column
