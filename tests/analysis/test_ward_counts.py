"""The analysis's counts of a register per ward, as the maps show them zoomed out
(:func:`mapper.analysis.assets.ward_counts`), on the 3x3 grid of tests/factories.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import grid_wards

from mapper.analysis.assets import ward_counts


def _summary():
    wards = grid_wards()
    wards["groups_total"] = [3, 0, 1, 0, 0, 0, 0, 0, 12]
    wards["premises_total"] = [np.nan, 2, 0, 0, 0, 0, 0, 0, 1]  # ward 1 not counted
    wards["incidents"] = [5.0, 0.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0, np.nan]
    return wards


def test_counts_are_the_analysis_figures_as_whole_numbers():
    counts = ward_counts(_summary(), "groups")
    assert counts.dtype == np.int64 and counts.name == "groups"
    assert list(counts.index) == [f"E0590000{n}" for n in range(1, 10)]
    assert counts.to_dict() == {"E05900001": 3, "E05900002": 0, "E05900003": 1,
                                "E05900004": 0, "E05900005": 0, "E05900006": 0,
                                "E05900007": 0, "E05900008": 0, "E05900009": 12}
    # a ward with no figure counts 0; incidents (stored as floats) come out whole
    assert ward_counts(_summary(), "premises").tolist() == [0, 2, 0, 0, 0, 0, 0, 0, 1]
    assert ward_counts(_summary(), "incidents").tolist() == [5, 0, 0, 0, 7, 0, 0, 0, 0]


def test_given_counts_replace_the_summary_in_the_wards_order():
    # e.g. a filter's incidents (filtered_ward_incidents), for some wards, in another order
    given = pd.Series({"E05900009": 4.0, "E05900002": 1.0, "E05999999": 50.0})
    assert ward_counts(_summary(), "incidents", given).tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 4]


def test_a_summary_without_the_column_counts_nothing_and_unknown_kinds_are_refused():
    wards = grid_wards()
    assert ward_counts(wards, "groups").sum() == 0
    with pytest.raises(ValueError, match="unknown register 'trees'.*groups, premises"):
        ward_counts(wards, "trees")
